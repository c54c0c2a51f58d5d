"""The CLI as the tests run it: in this process (the console script's entry point, without
an interpreter start per call), or as the installed console script in a process of its own."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from .paths import REPO, VENV_BIN


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@contextmanager
def _environment(env: Mapping[str, str] | None, stdin: str | None) -> Iterator[None]:
    saved_env, saved_stdin = dict(os.environ), sys.stdin
    os.environ.update(env or {})
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.stdin = saved_stdin


def run_cli(*argv: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Outcome:
    """`wandb_launch.cli.main(argv)` here, with `env` laid over os.environ and its own stdio."""
    from wandb_launch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _environment(env, stdin), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse's own exits (--help, usage errors)
            code = int(e.code or 0)
    return Outcome(code, out.getvalue(), err.getvalue())


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
