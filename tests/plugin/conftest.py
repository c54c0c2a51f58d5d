"""Fixtures of the plugin's offline tests: the CLI in-process from the repo root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..clirun import Outcome, run_cli
from ..paths import REPO


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """cli("values", "--cloud", ...) -> Outcome: `main(argv)` in this process, from the repo root."""
    monkeypatch.chdir(REPO)
    # Helm's plugin env must not leak in from the developer's shell.
    for var in ("HELM_NAMESPACE", "HELM_KUBECONTEXT", "KUBECONFIG", "HELM_BIN", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    return run_cli


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """A well-formed kubeconfig whose server is a closed port on this machine (context `dead`)."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: dead, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: dead}}]\n"
    )
    return path
