"""Timing of processes, where the tools are, and the cluster a benchmark runs on."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from wandb_launch.toolcache import cache_dir

REPO = Path(__file__).resolve().parents[1]
# The tools cache of hack/install-tools.sh (wandb_launch.toolcache defines it).
CACHE_BIN = cache_dir() / "bin"
CLI = str(Path(sys.executable).parent / "wandb-launch")


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{CACHE_BIN}:{os.environ.get('PATH', '')}")
    if found is None:
        raise SystemExit(f"benchmarks: {name} not found: run `make tools control-plane`")
    return found


def time_process(
    argv: list[str], repeat: int, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[float, int]:
    """Median wall time of `argv` from process start to exit, and its last exit code."""
    times = []
    code = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, input=stdin, env=env, cwd=REPO, check=False)
        times.append(time.perf_counter() - start)
        code = result.returncode
    return statistics.median(times), code


@contextlib.contextmanager
def cluster(nodes: int = 0) -> Iterator[Path]:
    """$KUBECONFIG, else a local control plane started here (with `nodes` simulated nodes)."""
    if os.environ.get("KUBECONFIG"):
        yield Path(os.environ["KUBECONFIG"])
        return
    from wandb_launch.controlplane import LocalControlPlane

    with LocalControlPlane(nodes=nodes) as control_plane:
        yield control_plane.kubeconfig
