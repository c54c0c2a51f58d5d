"""Fixtures of the plugin's tests: run the CLI in-process or as a process, the repo's paths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """cli("values", "--cloud", ...) -> Outcome: `main(argv)` in this process, from the repo root."""
    from wandb_launch.cli import main

    monkeypatch.chdir(REPO)
    # Helm's plugin env must not leak in from the developer's shell.
    for var in ("HELM_NAMESPACE", "HELM_KUBECONTEXT", "KUBECONFIG", "HELM_BIN", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)

    def run(*argv: str) -> Outcome:
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse's own exits (--help, usage errors)
            code = int(e.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def run_process(
    *argv: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """The installed `wandb-launch` console script, as a user runs it."""
    return subprocess.run(
        [str(VENV_BIN / "wandb-launch"), *argv],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def one_line_error(outcome: Outcome) -> str:
    """The single stderr line a bad input must produce."""
    lines = [line for line in outcome.err.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1, f"expected one error line, got: {outcome.err!r}"
    return lines[0]
