"""One version for the chart, the CLI and the Helm plugin; raised when the chart changes after a release.

Usage:
  python hack/chart_version.py check        exit 1 (one line per problem) if the versions disagree, the
                                            CHANGELOG misses the version, or the chart changed since the
                                            last release tag vX.Y.Z while Chart.yaml kept that tag's version;
                                            exit 0 with "skip: ..." when no release tag is reachable
  python hack/chart_version.py bump X.Y.Z   write X.Y.Z into Chart.yaml, the package, the plugin
                                            manifests and README.md's install commands, and
                                            CHANGELOG.md's X.Y.Z entries into Chart.yaml's
                                            artifacthub.io/changes

A release is a tag `vX.Y.Z` (.github/workflows/release.yaml publishes it). "The chart changed"
means: the package `helm package` makes of chart/ now differs from the one it makes of the
tag's chart/ (same file list, same bytes).
"""

from __future__ import annotations

import argparse
import json
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
CHANGE_KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")
_CHANGE_LINE = re.compile(rf"^- ({'|'.join(CHANGE_KINDS)}): (.+)$")
# The release's version in README.md's install commands: --version X, /download/vX/, wheel and plugin file names.
_README_VERSION = re.compile(r"(--version |/download/v|wandb_launch-|launch-)(\d+\.\d+\.\d+)\b")


@dataclass(frozen=True)
class Paths:
    """The files that carry the version, relative to one repository root."""

    root: Path

    @property
    def chart(self) -> Path:
        return self.root / "chart"

    @property
    def chart_yaml(self) -> Path:
        return self.chart / "Chart.yaml"

    @property
    def changelog(self) -> Path:
        return self.chart / "CHANGELOG.md"

    @property
    def readme(self) -> Path:
        return self.root / "README.md"

    @property
    def package_init(self) -> Path:
        return self.root / "plugin" / "wandb_launch" / "__init__.py"

    @property
    def plugin_manifests(self) -> list[Path]:
        """plugin/plugin.yaml (`helm plugin install ./plugin`) and the root one (git URL installs)."""
        return [p for p in (self.root / "plugin" / "plugin.yaml", self.root / "plugin.yaml") if p.is_file()]


def parse_version(text: str) -> tuple[int, int, int]:
    match = VERSION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a MAJOR.MINOR.PATCH version")
    return (int(match[1]), int(match[2]), int(match[3]))


def chart_version(paths: Paths) -> str:
    return str(yaml.safe_load(paths.chart_yaml.read_text())["version"])


def package_version(paths: Paths) -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', paths.package_init.read_text(), re.M)
    if not match:
        raise ValueError(f"{paths.package_init}: no __version__ line")
    return match[1]


def changelog_entries(paths: Paths, version: str) -> list[tuple[str, str]]:
    """The `- kind: description` lines of `## version` in CHANGELOG.md."""
    entries: list[tuple[str, str]] = []
    inside = False
    for line in paths.changelog.read_text().splitlines():
        if line.startswith("## "):
            inside = line[3:].split()[0] == version
            continue
        if inside and line.startswith("- "):
            match = _CHANGE_LINE.match(line)
            if not match:
                raise ValueError(f"CHANGELOG.md: {line!r} is not '- <kind>: <description>' with kind in {CHANGE_KINDS}")
            entries.append((match[1], match[2]))
    return entries


def annotated_changes(paths: Paths) -> list[tuple[str, str]]:
    chart = yaml.safe_load(paths.chart_yaml.read_text())
    changes = yaml.safe_load((chart.get("annotations") or {}).get("artifacthub.io/changes") or "[]")
    return [(c["kind"], c["description"]) for c in changes]


def version_problems(paths: Paths) -> list[str]:
    """Where the one version is not the same, or not described."""
    version = chart_version(paths)
    problems = []
    if package_version(paths) != version:
        problems.append(
            f"{paths.package_init.relative_to(paths.root)}: __version__ {package_version(paths)} "
            f"is not Chart.yaml's {version}: run hack/chart_version.py bump {version}"
        )
    for manifest in paths.plugin_manifests:
        plugin_version = str(yaml.safe_load(manifest.read_text())["version"])
        if plugin_version != version:
            problems.append(
                f"{manifest.relative_to(paths.root)}: version {plugin_version} is not Chart.yaml's {version}: "
                f"run hack/chart_version.py bump {version}"
            )
    if paths.readme.is_file():
        stale = sorted({m[2] for m in _README_VERSION.finditer(paths.readme.read_text())} - {version})
        if stale:
            problems.append(f"README.md: install commands name version {', '.join(stale)}, not {version}: run hack/chart_version.py bump {version}")
    entries = changelog_entries(paths, version)
    if not entries:
        problems.append(f"chart/CHANGELOG.md: no '## {version}' section with '- <kind>: <description>' entries")
    elif annotated_changes(paths) != entries:
        problems.append(
            f"chart/Chart.yaml: artifacthub.io/changes is not CHANGELOG.md's {version} entries: "
            f"run hack/chart_version.py bump {version}"
        )
    return problems


def git(root: Path, *args: str, binary: bool = False) -> str | bytes:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    return result.stdout if binary else result.stdout.decode()


def last_release_tag(root: Path) -> str | None:
    """The highest vX.Y.Z tag reachable from HEAD, or None."""
    try:
        tags = str(git(root, "tag", "--list", "v*", "--merged", "HEAD")).split()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    released = [t for t in tags if TAG.match(t)]
    return max(released, key=lambda t: parse_version(t[1:]), default=None)


def helm_binary() -> str:
    helm = os.environ.get("HELM_BIN") or shutil.which("helm")
    if not helm:
        raise SystemExit("chart_version: helm is not on PATH (run make tools; ~/.cache/wandb-launch/bin)")
    return helm


def package_digests(chart_dir: Path, out_dir: Path) -> dict[str, str]:
    """`helm package` of chart_dir: each file's path in the package -> sha256 of its bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [helm_binary(), "package", str(chart_dir), "-d", str(out_dir)], capture_output=True, check=True, text=True
    )
    (package,) = out_dir.glob("*.tgz")
    digests = {}
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                digests[member.name.split("/", 1)[1]] = hashlib.sha256(data).hexdigest()
    return digests


def changed_files(root: Path, tag: str) -> list[str]:
    """Files of the chart package that differ between the tag and the working tree."""
    with tempfile.TemporaryDirectory(prefix="chart-version-") as tmp:
        tagged = Path(tmp) / "tagged"
        tagged.mkdir()
        archive = git(root, "archive", "--format=tar", tag, binary=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:  # type: ignore[arg-type]
            tar.extractall(tagged, filter="tar")
        before = package_digests(tagged / "chart", Path(tmp) / "before")
        now = package_digests(root / "chart", Path(tmp) / "now")
    return sorted(name for name in before.keys() | now.keys() if before.get(name) != now.get(name))


def check(root: Path = REPO) -> tuple[list[str], str]:
    """(problems, what was compared): no problems means the version may be released as it is."""
    paths = Paths(root)
    problems = version_problems(paths)
    tag = last_release_tag(root)
    if tag is None:
        return problems, "skip: no release tag vX.Y.Z is reachable from HEAD, so no chart change needs a new version yet"
    version, released = chart_version(paths), tag[1:]
    if parse_version(version) < parse_version(released):
        problems.append(f"chart/Chart.yaml: version {version} is lower than the last release {tag}")
    elif version == released:
        changed = changed_files(root, tag)
        if changed:
            problems.append(
                f"chart/ changed since release {tag} ({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''}) "
                f"but Chart.yaml still has version {version}: describe the change under a new '## X.Y.Z' "
                f"in chart/CHANGELOG.md, then run hack/chart_version.py bump X.Y.Z"
            )
        return problems, f"chart unchanged since {tag}" if not changed else f"chart changed since {tag}"
    return problems, f"version {version} is newer than the last release {tag}"


def _set_line(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    if count != 1:
        raise SystemExit(f"chart_version: {path}: no line matches {pattern!r}")
    path.write_text(text)


def bump(version: str, root: Path = REPO) -> None:
    parse_version(version)
    paths = Paths(root)
    entries = changelog_entries(paths, version)
    if not entries:
        raise SystemExit(f"chart_version: write the '## {version}' entries of chart/CHANGELOG.md first")
    _set_line(paths.chart_yaml, r"^version: .*$", f"version: {version}")
    _set_line(paths.package_init, r'^__version__ = ".*"$', f'__version__ = "{version}"')
    for manifest in paths.plugin_manifests:
        _set_line(manifest, r"^version: .*$", f"version: {version}")
    if paths.readme.is_file():
        paths.readme.write_text(_README_VERSION.sub(lambda m: m[1] + version, paths.readme.read_text()))
    # JSON strings are YAML: a description holding ": " or a leading backquote stays a string.
    block = "".join(f"    - kind: {kind}\n      description: {json.dumps(text)}\n" for kind, text in entries)
    chart_text = paths.chart_yaml.read_text()
    chart_text, count = re.subn(
        r"^(  artifacthub\.io/changes: \|\n)(?:    .*\n)+", lambda m: m[1] + block, chart_text, count=1, flags=re.M
    )
    if count != 1:
        raise SystemExit("chart_version: chart/Chart.yaml has no artifacthub.io/changes block")
    paths.chart_yaml.write_text(chart_text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="versions agree; the chart version moved if the chart changed since the last tag")
    bump_parser = sub.add_parser("bump", help="set the one version everywhere and sync artifacthub.io/changes")
    bump_parser.add_argument("version")
    args = parser.parse_args(argv)
    if args.command == "bump":
        bump(args.version)
        print(f"chart_version: version {args.version} in Chart.yaml, wandb_launch/__init__.py, the plugin manifests and README.md")
        return 0
    problems, compared = check()
    for problem in problems:
        print(f"chart_version: {problem}", file=sys.stderr)
    print(f"chart_version: {compared}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
