"""The CLI without a checkout: the sdist and wheel carry the chart, and the wheel installed in a
fresh venv outside the checkout installs the chart of its own version on the cluster."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, VERSION, PythonDists, files_of, run, tool

CHART_IN_WHEEL = "wandb_launch/chart/"


def test_wheel_and_sdist_carry_the_chart(python_dists: PythonDists, tmp_path: Path) -> None:
    assert python_dists.wheel.name == f"wandb_launch-{VERSION}-py3-none-any.whl"
    run(tool("helm"), "package", REPO / "chart", "-d", tmp_path)
    packaged = files_of(tmp_path / f"wandb-launch-{VERSION}.tgz")
    with zipfile.ZipFile(python_dists.wheel) as wheel:
        in_wheel = {
            name.removeprefix(CHART_IN_WHEEL): wheel.read(name)
            for name in wheel.namelist()
            if name.startswith(CHART_IN_WHEEL)
        }
    # What helm package takes from chart/, byte for
    # byte; helm rewrites Chart.yaml from its fields.
    assert yaml.safe_load(in_wheel.pop("Chart.yaml")) == yaml.safe_load(packaged.pop("Chart.yaml"))
    assert in_wheel == packaged
    with tarfile.open(python_dists.sdist) as sdist:
        names = sdist.getnames()
    assert f"wandb_launch-{VERSION}/plugin/wandb_launch/chart/Chart.yaml" in names
    assert f"wandb_launch-{VERSION}/plugin/wandb_launch/chart/files/helm_test_check.py" in names


@pytest.fixture(scope="module")
def installed_wheel(python_dists: PythonDists, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with nothing but the wheel and its dependencies."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    assert REPO not in venv.parents
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin/pip", "install", "-q", "--no-compile", "--no-index", "--find-links", wheelhouse, python_dists.wheel, timeout=900)
    return venv


def outside_env(**extra: str) -> dict[str, str]:
    """No trace of the checkout: no PYTHONPATH, no WANDB_LAUNCH_CHART, helm from the tools cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WANDB_LAUNCH_CHART", "VIRTUAL_ENV", "KUBECONFIG")}
    env["PATH"] = f"{Path(tool('helm')).parent}:/usr/bin:/bin"
    return {**env, **extra}


def test_installed_cli_finds_its_own_chart(installed_wheel: Path, tmp_path: Path) -> None:
    located = run(installed_wheel / "bin/python", "-c",
                  "from wandb_launch import chartvalues; print(chartvalues.find_chart())",
                  cwd=tmp_path, env=outside_env()).stdout.strip()
    assert Path(located).is_relative_to(installed_wheel) and REPO not in Path(located).resolve().parents
    assert yaml.safe_load((Path(located) / "Chart.yaml").read_text())["version"] == VERSION
    version = run(installed_wheel / "bin/wandb-launch", "--version", cwd=tmp_path, env=outside_env()).stdout.strip()
    assert version == f"wandb-launch {VERSION}"


@pytest.mark.cluster
def test_installed_cli_installs_its_chart_and_chart_still_points_elsewhere(installed_wheel: Path, tmp_path: Path, cluster) -> None:
    release = f"whl-{os.getpid() % 10000}"
    values = yaml.safe_load((REPO / "values/local.yaml").read_text())
    values["namespace"]["name"] = f"{release}-agent"
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    cli = [installed_wheel / "bin/wandb-launch"]
    where = ["--release", release, "-n", "default", "--kubeconfig", cluster.kubeconfig, "-o", "json"]
    env = outside_env(RELEASE_TEST_KEY="wheel-test-api-key-0000000000000000000000000000000")
    helm = [tool("helm"), "--kubeconfig", cluster.kubeconfig, "-n", "default"]
    try:
        run(*cli, "install", "-f", "values.yaml", "--api-key-env", "RELEASE_TEST_KEY", *where, cwd=tmp_path, env=env)
        listed = yaml.safe_load(run(*helm, "list", "-o", "json").stdout)
        assert {r["name"]: r["chart"] for r in listed}[release] == f"wandb-launch-{VERSION}"

        # --chart still wins: the same command with another copy of the chart.
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(REPO / "chart", elsewhere, symlinks=False)
        chart_yaml = elsewhere / "Chart.yaml"
        chart_yaml.write_text(chart_yaml.read_text().replace(f"version: {VERSION}", f"version: {VERSION}-elsewhere", 1))
        run(*cli, "upgrade", "-f", "values.yaml", "--api-key-env", "RELEASE_TEST_KEY", "--chart", elsewhere, *where, cwd=tmp_path, env=env)
        listed = yaml.safe_load(run(*helm, "list", "-o", "json").stdout)
        assert {r["name"]: r["chart"] for r in listed}[release] == f"wandb-launch-{VERSION}-elsewhere"
    finally:
        run(*helm, "uninstall", release, check=False)
