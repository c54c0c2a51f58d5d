"""Fixtures of the plugin's tests: run the CLI in-process or as a process, the repo's paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from wandb_launch.controlplane.binaries import cache_dir

REPO = Path(__file__).resolve().parents[2]
# WANDB_LAUNCH_CHART (as for the plugin) runs the tests against another copy of the chart.
CHART = Path(os.environ.get("WANDB_LAUNCH_CHART") or REPO / "chart")
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


# The tools cache of hack/install-tools.sh, honouring WANDB_LAUNCH_CACHE and XDG_CACHE_HOME.
CACHE_BIN = cache_dir() / "bin"


# The plugin manifest must load on both Helm majors (install-tools builds helm and helm4).
@pytest.fixture(scope="module", params=["helm", "helm4"])
def helm_plugin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`helm plugin install ./plugin` into a throwaway Helm home; returns helm(*args) there."""
    binary = shutil.which(request.param, path=f"{CACHE_BIN}:{os.environ.get('PATH', '')}")
    if binary is None:
        pytest.fail(f"{request.param} is not built: run `make tools` (hack/install-tools.sh)")
    home = tmp_path_factory.mktemp(f"{request.param}-home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELM_") and k != "KUBECONFIG"},
        # Plugins go to the default $HELM_DATA_HOME/plugins: Helm 4 installs there even when
        # HELM_PLUGINS points elsewhere (and then lists HELM_PLUGINS).
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        # The venv's wandb-launch is found on PATH, so the install hook makes no venv.
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
        )

    installed = run("plugin", "install", str(REPO / "plugin"))
    assert installed.returncode == 0, installed.stderr
    assert f"using {VENV_BIN / 'wandb-launch'}" in installed.stdout
    return run
