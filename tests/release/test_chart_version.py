"""One version for chart, CLI and plugin, raised when the chart changes after a release
(hack/chart_version.py check): on this checkout, and on scratch repositories where it must fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import REPO, VERSION, git_repository_of_worktree, run, tool


def chart_version_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_version", REPO / "hack" / "chart_version.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, root / "hack/chart_version.py", "check", check=False,
               env={"PATH": f"{Path(tool('helm')).parent}:/usr/bin:/bin", "HOME": str(root)})


def test_one_version_for_chart_cli_and_plugins() -> None:
    import wandb_launch

    module = chart_version_module()
    assert module.version_problems(module.Paths(REPO)) == []
    assert wandb_launch.__version__ == VERSION


def test_chart_version_increased_since_the_last_release() -> None:
    """What CI enforces: a chart change after release vX.Y.Z needs a new version."""
    result = check(REPO)
    assert result.returncode == 0, result.stderr
    if "skip:" in result.stdout:
        pytest.skip(result.stdout.strip().removeprefix("chart_version: skip: "))


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                   capture_output=True, check=True)


def _next_patch(version: str) -> str:
    major, minor, patch = version.split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout whose HEAD is release tag v<version>."""
    return git_repository_of_worktree(tmp_path_factory.mktemp("released") / "repo")


def test_no_release_tag_checks_nothing_and_says_so(tmp_path: Path, released: Path) -> None:
    untagged = tmp_path / "untagged"
    subprocess.run(["git", "clone", "-q", "--no-tags", str(released), str(untagged)], check=True)
    result = check(untagged)
    assert result.returncode == 0 and "skip: no release tag" in result.stdout


def test_unchanged_chart_passes(released: Path) -> None:
    result = check(released)
    assert result.returncode == 0 and f"chart unchanged since v{VERSION}" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "changed_file",
    ["chart/templates/deployment.yaml", "chart/files/helm_test_check.py"],  # a template, and a file the chart ships
)
def test_a_chart_change_without_a_new_version_fails(tmp_path: Path, released: Path, changed_file: str) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(released), str(work)], check=True)
    with open(work / changed_file, "a") as f:
        f.write("\n# a change after the release\n")
    result = check(work)
    assert result.returncode == 1
    assert f"chart/ changed since release v{VERSION}" in result.stderr
    assert changed_file.removeprefix("chart/") in result.stderr
    assert "hack/chart_version.py bump X.Y.Z" in result.stderr

    # The fix the message names: a CHANGELOG section, then bump.
    changelog = work / "chart/CHANGELOG.md"
    new = _next_patch(VERSION)
    text = changelog.read_text()
    head, rest = text.split(f"## {VERSION}", 1)
    changelog.write_text(f"{head}## {new}\n\n- changed: A change after the release.\n\n## {VERSION}{rest}")
    run(sys.executable, work / "hack/chart_version.py", "bump", new)
    result = check(work)
    assert result.returncode == 0 and f"version {new} is newer than the last release v{VERSION}" in result.stdout, result.stderr
    _git(work, "commit", "-qam", "release")
    _git(work, "tag", f"v{new}")
    assert f"chart unchanged since v{new}" in check(work).stdout


def test_a_version_below_the_release_fails(tmp_path: Path, released: Path) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(released), str(work)], check=True)
    major, minor, patch = map(int, VERSION.split("."))
    _git(work, "tag", f"v{major}.{minor}.{patch + 5}")
    result = check(work)
    assert result.returncode == 1 and f"version {VERSION} is lower than the last release v{major}.{minor}.{patch + 5}" in result.stderr


def test_versions_that_disagree_fail(tmp_path: Path, released: Path) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(released), str(work)], check=True)
    init = work / "plugin/wandb_launch/__init__.py"
    init.write_text(init.read_text().replace(f'"{VERSION}"', '"9.9.9"'))
    result = check(work)
    assert result.returncode == 1
    assert f"__version__ 9.9.9 is not Chart.yaml's {VERSION}" in result.stderr


def test_bump_writes_changes_that_yaml_reads_back(tmp_path: Path, released: Path) -> None:
    """A changelog line holding ': ' or backquotes becomes one description string in
    Chart.yaml's artifacthub.io/changes (written bare, it broke the annotation's YAML)."""
    import yaml

    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(released), str(work)], check=True)
    version = _next_patch(VERSION)
    changelog = work / "chart/CHANGELOG.md"
    entry = "fixed: `wandb-launch status`: runs: a colon, then `backquotes` and #hash"
    changelog.write_text(changelog.read_text().replace(f"## {VERSION}", f"## {version}\n\n- {entry}\n\n## {VERSION}", 1))
    run(sys.executable, work / "hack/chart_version.py", "bump", version)
    chart = yaml.safe_load((work / "chart/Chart.yaml").read_text())
    changes = yaml.safe_load(chart["annotations"]["artifacthub.io/changes"])
    assert changes == [{"kind": "fixed", "description": entry.split(": ", 1)[1]}]
    assert check(work).returncode == 0, check(work).stderr
