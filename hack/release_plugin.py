"""Package the Helm plugin `launch` for a release, one tarball per Helm major, each carrying the CLI's wheel.

Usage:
  python hack/release_plugin.py --wheel WHEEL --keyring SECRING --key NAME [--passphrase-file FILE] [-d DIR]

Writes into DIR (default dist):
  launch-X.Y.Z.tgz, launch-X.Y.Z.tgz.prov   Helm 4: the `apiVersion: v1` manifest (type cli/v1,
      runtime subprocess), packaged and signed by `helm4 plugin package` (Helm 4 verifies the
      .prov on install by default). Helm 4 keeps the name launch-X.Y.Z.tgz: the .prov names it.
  launch-X.Y.Z-helm3.tgz                    Helm 3: plugin/plugin.yaml as it is (the legacy format:
      Helm 3 rejects apiVersion v1), files at the archive's root as Helm 3's installer wants them;
      Helm 3 installs tarballs from an http(s) URL only and verifies no plugin signature.
Both hold plugin.yaml, bin/helm-launch and wheels/<the CLI's wheel of the same version>; the
install hook puts that wheel in a venv inside the plugin unless wandb-launch of that version
is on PATH. The v1 manifest is derived from plugin/plugin.yaml, so the two never drift.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "plugin"


class ReleaseError(Exception):
    """A release step failed; the message is one line for the log."""


def legacy_manifest() -> dict[str, Any]:
    return yaml.safe_load((PLUGIN / "plugin.yaml").read_text())


def _command(line: str) -> dict[str, Any]:
    command, *args = line.split()
    return {"command": command, "args": args}


def v1_manifest(legacy: dict[str, Any], source_url: str) -> dict[str, Any]:
    """The Helm 4 form of a legacy CLI plugin manifest (what Helm 5 will require)."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "name": legacy["name"],
        "type": "cli/v1",
        "runtime": "subprocess",
        "version": str(legacy["version"]),
        "sourceURL": source_url,
        "config": {
            "shortHelp": legacy["usage"],
            "longHelp": legacy["description"],
            "ignoreFlags": bool(legacy.get("ignoreFlags", False)),
        },
        "runtimeConfig": {
            "platformCommand": [_command(legacy["command"])],
            "platformHooks": {event: [_command(line)] for event, line in (legacy.get("hooks") or {}).items()},
        },
    }
    return manifest


def stage(into: Path, manifest: dict[str, Any], wheel: Path) -> Path:
    """The plugin directory: plugin.yaml, bin/helm-launch, wheels/<wheel>."""
    into.mkdir(parents=True)
    (into / "plugin.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, width=1000))
    (into / "bin").mkdir()
    shutil.copy2(PLUGIN / "bin" / "helm-launch", into / "bin" / "helm-launch")
    (into / "wheels").mkdir()
    shutil.copy2(wheel, into / "wheels" / wheel.name)
    return into


def helm3_tarball(staged: Path, out: Path) -> None:
    """Files at the archive root, each directory before its files (Helm 3 makes no parents)."""
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(staged.rglob("*"), key=lambda p: (len(p.relative_to(staged).parts), str(p))):
            tar.add(path, arcname=str(path.relative_to(staged)), recursive=False)


def helm4_package(staged: Path, out_dir: Path, keyring: Path, key: str, passphrase_file: Path | None) -> Path:
    helm4 = os.environ.get("HELM4_BIN") or shutil.which("helm4")
    if not helm4:
        raise ReleaseError("helm4 is not on PATH (run make tools; ~/.cache/wandb-launch/bin)")
    command = [helm4, "plugin", "package", str(staged), "-d", str(out_dir), "--sign", "--key", key, "--keyring", str(keyring)]
    if passphrase_file:
        command += ["--passphrase-file", str(passphrase_file)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"helm4 plugin package failed: {result.stderr.strip().splitlines()[-1:]}")
    manifest = yaml.safe_load((staged / "plugin.yaml").read_text())
    return out_dir / f"{manifest['name']}-{manifest['version']}.tgz"


def package(wheel: Path, keyring: Path, key: str, out: Path, passphrase_file: Path | None = None) -> list[Path]:
    legacy = legacy_manifest()
    version = str(legacy["version"])
    if not wheel.name.startswith(f"wandb_launch-{version}-"):
        raise ReleaseError(f"--wheel {wheel.name} is not wandb-launch {version}, the plugin's version")
    chart = yaml.safe_load((REPO / "chart" / "Chart.yaml").read_text())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-plugin-") as tmp:
        helm3 = out / f"{legacy['name']}-{version}-helm3.tgz"
        helm3_tarball(stage(Path(tmp) / "helm3" / legacy["name"], legacy, wheel), helm3)
        staged4 = stage(Path(tmp) / "helm4" / legacy["name"], v1_manifest(legacy, chart["home"]), wheel)
        helm4 = helm4_package(staged4, out, keyring, key, passphrase_file)
    return [helm4, Path(f"{helm4}.prov"), helm3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the wandb-launch wheel of the plugin's version")
    parser.add_argument("--keyring", type=Path, required=True, help="binary OpenPGP keyring with the secret signing key")
    parser.add_argument("--key", required=True, help="user ID (or part of it) of the signing key")
    parser.add_argument("--passphrase-file", type=Path, help="file holding the key's passphrase")
    parser.add_argument("-d", "--destination", type=Path, default=Path("dist"), help="output directory (default: dist)")
    args = parser.parse_args(argv)
    try:
        written = package(args.wheel, args.keyring, args.key, args.destination, args.passphrase_file)
    except ReleaseError as e:
        print(f"release_plugin: {e}", file=sys.stderr)
        return 1
    print(*written, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
