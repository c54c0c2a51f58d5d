"""Package and sign the chart for a release: wandb-launch-X.Y.Z.tgz and its Helm provenance (.prov).

Usage:
  python hack/release_chart.py --keyring SECRING --key NAME [--passphrase-file FILE]
                               --sign-key-url URL [-d DIR] [--chart DIR]

SECRING is an OpenPGP keyring in the binary (non-keybox) format Helm reads, holding the
secret signing key: `gpg --export-secret-keys KEY > secring.gpg`. The key may be unprotected
or protected by the passphrase in FILE (Helm asks on a terminal otherwise). The package's
Chart.yaml gets the Artifact Hub annotation `artifacthub.io/signKey` with the fingerprint of
that very key and URL, where users fetch the public key: the annotation and the signature
cannot disagree. The package is verified against the keyring before this exits.
Prints the package's path. Used by .github/workflows/release.yaml and tests/release.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SIGN_KEY_ANNOTATION = "artifacthub.io/signKey"


class ReleaseError(Exception):
    """A release step failed; the message is one line for the log."""


def helm_binary() -> str:
    helm = os.environ.get("HELM_BIN") or shutil.which("helm")
    if not helm:
        raise ReleaseError("helm is not on PATH (run make tools; ~/.cache/wandb-launch/bin)")
    return helm


def run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise ReleaseError(f"{Path(command[0]).name} {command[1]} failed: {lines[-1] if lines else result.returncode}")
    return result.stdout


def key_fingerprint(keyring: Path, key: str) -> str:
    """Fingerprint of the key Helm would sign with: the one user ID equal to `key`, else the one containing it."""
    with tempfile.TemporaryDirectory(prefix="gnupg-") as home:
        listing = run(
            "gpg", "--homedir", home, "--batch", "--with-colons", "--import-options", "show-only", "--import", str(keyring)
        )
    keys: list[tuple[str, list[str]]] = []  # (fingerprint, user IDs) per primary key
    expect_primary_fpr = False
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] in ("sec", "pub"):
            keys.append(("", []))
            expect_primary_fpr = True
        elif fields[0] == "fpr" and expect_primary_fpr:
            keys[-1] = (fields[9], keys[-1][1])
            expect_primary_fpr = False
        elif fields[0] == "uid" and keys:
            keys[-1][1].append(fields[9])
    exact = [fpr for fpr, uids in keys if key in uids]
    containing = [fpr for fpr, uids in keys if any(key in uid for uid in uids)]
    found = exact or containing
    if len(found) != 1:
        raise ReleaseError(f"--key {key!r} matches {len(found)} keys in {keyring}; give a user ID that names one key")
    return found[0]


def stage_chart(chart: Path, into: Path, fingerprint: str, sign_key_url: str) -> Path:
    """A copy of the chart (symlinks followed, as helm package does) with the signKey annotation."""
    staged = into / "wandb-launch"
    shutil.copytree(chart, staged, symlinks=False)
    chart_yaml = staged / "Chart.yaml"
    metadata = yaml.safe_load(chart_yaml.read_text())
    metadata.setdefault("annotations", {})[SIGN_KEY_ANNOTATION] = f"fingerprint: {fingerprint}\nurl: {sign_key_url}\n"
    chart_yaml.write_text(yaml.safe_dump(metadata, sort_keys=False, width=1000))
    return staged


def package(
    keyring: Path, key: str, sign_key_url: str, out: Path, chart: Path = REPO / "chart", passphrase_file: Path | None = None
) -> Path:
    helm = helm_binary()
    fingerprint = key_fingerprint(keyring, key)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-chart-") as tmp:
        staged = stage_chart(chart, Path(tmp), fingerprint, sign_key_url)
        command = [helm, "package", str(staged), "-d", str(out), "--sign", "--key", key, "--keyring", str(keyring)]
        if passphrase_file:
            command += ["--passphrase-file", str(passphrase_file)]
        run(*command)
    version = yaml.safe_load((chart / "Chart.yaml").read_text())["version"]
    tgz = out / f"wandb-launch-{version}.tgz"
    verified = run(helm, "verify", "--keyring", str(keyring), str(tgz))
    if fingerprint not in verified.replace(" ", ""):
        raise ReleaseError(f"helm verify did not report key {fingerprint}: {verified.strip()}")
    return tgz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyring", type=Path, required=True, help="binary OpenPGP keyring with the secret signing key")
    parser.add_argument("--key", required=True, help="user ID (or part of it) of the signing key, as helm --key")
    parser.add_argument("--passphrase-file", type=Path, help="file holding the key's passphrase")
    parser.add_argument("--sign-key-url", required=True, help="URL of the public key, for artifacthub.io/signKey")
    parser.add_argument("-d", "--destination", type=Path, default=Path("dist"), help="output directory (default: dist)")
    parser.add_argument("--chart", type=Path, default=REPO / "chart", help="chart directory (default: chart/)")
    args = parser.parse_args(argv)
    try:
        tgz = package(args.keyring, args.key, args.sign_key_url, args.destination, args.chart, args.passphrase_file)
    except ReleaseError as e:
        print(f"release_chart: {e}", file=sys.stderr)
        return 1
    print(tgz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
