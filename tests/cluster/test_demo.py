"""`wandb-launch demo`, the README's main command: on a machine with no kube context it
starts the local control plane; with one, it uses that cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes.client
import pytest
from wandb_launch.clusterref import DEFAULT_RELEASE

from ..paths import VENV_BIN
from .kube import eventually

pytestmark = pytest.mark.cluster

RELEASE = DEFAULT_RELEASE  # the demo installs the CLI's default release
LOCAL_VALUES_NAMESPACE = "wandb"  # values/local.yaml


def demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("wandb-launch", path=str(VENV_BIN)) or shutil.which("wandb-launch")
    assert executable, "the wandb-launch command is not installed: pip install -e ."
    return subprocess.run([executable, "demo", *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def fresh_machine_env(home: Path) -> dict[str, str]:
    """No KUBECONFIG, an empty home: nothing tells the demo where a cluster is."""
    env = {k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", "WANDB_API_KEY", "HELM_KUBECONTEXT", "HELM_NAMESPACE"}}
    env["HOME"] = str(home)
    return env


def test_demo_on_a_fresh_machine_runs_on_a_local_control_plane(cluster, tmp_path: Path) -> None:
    if cluster.source != "local control plane":
        pytest.skip("the local control plane binaries are not set up on this runner")
    env = fresh_machine_env(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env["TMPDIR"] = str(temp)
    result = demo(env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out + result.stderr
    assert "starting a local control plane" in out
    assert "installed wandb-launch" in out
    assert "verify passed" in out
    assert "Pending" in out and "no kubelet runs here" in out
    assert "local control plane stopped" in out
    # An install that succeeds reports no failed helm call (pyhelm3 logs the expected ones).
    assert "command failed" not in out
    assert not list(temp.glob("wandb-launch-control-plane-*")), "the demo left its control plane directory"


def test_demo_uses_the_configured_kube_context(cluster, admin, tmp_path: Path) -> None:
    core = kubernetes.client.CoreV1Api(admin)
    if LOCAL_VALUES_NAMESPACE in {ns.metadata.name for ns in core.list_namespace().items}:
        pytest.skip(f"namespace {LOCAL_VALUES_NAMESPACE} already exists; the demo installs values/local.yaml there")
    env = fresh_machine_env(tmp_path)
    env["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        result = demo(env)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out + result.stderr
        assert f"using the configured cluster ({cluster.kubeconfig}" in out
        assert "starting a local control plane" not in out
        assert "verify passed" in out
        assert [d.metadata.name for d in kubernetes.client.AppsV1Api(admin).list_namespaced_deployment(LOCAL_VALUES_NAMESPACE).items] == [RELEASE]
    finally:
        cluster.helm("uninstall", RELEASE, "-n", "default", check=False)
        eventually(lambda: LOCAL_VALUES_NAMESPACE not in {ns.metadata.name for ns in core.list_namespace().items},
                   f"namespace {LOCAL_VALUES_NAMESPACE} to be deleted", timeout=120)
