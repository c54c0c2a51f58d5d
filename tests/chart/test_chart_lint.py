"""helm lint --strict for every scenario, and ct lint with the real ct binary."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

from .chartlib import CHART, REPO, run_helm, tool, value_args


def test_helm_lint_strict(values_file: Path) -> None:
    result = run_helm("lint", "--strict", str(CHART), *value_args(values_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_ct_lint() -> None:
    # ct lints Chart.yaml (yamale), Chart.yaml and values files (yamllint), then runs
    # `helm lint` once per chart/ci/*-values.yaml.
    result = subprocess.run(
        [tool("ct"), "lint", "--config", "ct.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All charts linted successfully" in output


def test_helm_package_ships_the_helm_test_check(tmp_path: Path) -> None:
    """The packaged chart carries the in-cluster check and the RBAC needs it reads, unchanged."""
    result = run_helm("package", str(CHART), "--destination", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (archive,) = tmp_path.glob("wandb-launch-*.tgz")
    with tarfile.open(archive) as tar:
        for name in ("helm_test_check.py", "agent-rbac.yaml"):
            member = tar.extractfile(f"wandb-launch/files/{name}")
            assert member is not None
            assert member.read() == (CHART / "files" / name).read_bytes()


def test_no_helm_notice_from_the_source_tree() -> None:
    """No symlink in the chart: helm prints nothing but the objects (no walk.go notice)."""
    result = run_helm("template", "wandb-launch", str(CHART), *value_args(REPO / "values" / "local.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert not [p for p in CHART.rglob("*") if p.is_symlink()]


def test_loading_the_check_leaves_no_bytecode_in_the_chart() -> None:
    """verify imports files/helm_test_check.py from the chart; `helm package` must not ship a __pycache__."""
    code = "from wandb_launch.chartfiles import helm_test_check; helm_test_check()"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert not list(CHART.rglob("__pycache__")) and not list(CHART.rglob("*.pyc"))
