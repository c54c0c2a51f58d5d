"""Fixtures of the plugin's offline tests: the CLI in-process from the repo root."""

from __future__ import annotations

from collections.abc import Callable

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
