"""The plugin's cluster commands against the cluster: install, status, verify,
preview-job --server-dry-run. They run in-process through `wandb_launch.cli.main` (the
console script's entry point) to save an interpreter start per call; test_demo.py runs
the installed executable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from .kaniko import kaniko_build_job
from .kube import POD_SECURITY_ENFORCE, eventually, unique_name
from .release import VALUES_DIR

pytestmark = pytest.mark.cluster

KEY_ENV = "WANDB_LAUNCH_TEST_API_KEY"


@pytest.fixture
def wandb_launch(cluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """wandb_launch(*argv) -> CompletedProcess with the exit code, stdout and stderr."""
    from wandb_launch import cli

    monkeypatch.setenv(KEY_ENV, "plugin-test-api-key-00000000000000000000")
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(result.stdout)
    except ValueError as error:
        raise AssertionError(f"not JSON ({error}):\n{result.stdout}\n{result.stderr}") from None


class PluginInstall:
    """A release installed with `wandb-launch install`, in namespaces of its own."""

    def __init__(self, cluster, wandb_launch, make_namespace, tmp_path: Path) -> None:
        self.cluster = cluster
        self.wandb_launch = wandb_launch
        self.release = unique_name("wlp")
        self.agent_namespace = f"{self.release}-agent"
        self.targets = [make_namespace("runs", "baseline")]
        self.values = tmp_path / "values.yaml"
        self.values.write_text(yaml.safe_dump({
            "namespace": {"create": True, "name": self.agent_namespace},
            "targetNamespaces": self.targets,
        }))
        self.cluster_args = ["--kubeconfig", str(cluster.kubeconfig), "-n", "default", "--release", self.release]

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.wandb_launch(command, *args, *self.cluster_args)

    def install(self) -> subprocess.CompletedProcess[str]:
        result = self.run("install", "-f", str(VALUES_DIR / "local.yaml"), "-f", str(self.values), "--api-key-env", KEY_ENV, "-o", "json")
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def verify(self) -> tuple[int, list[dict[str, str]]]:
        result = self.run("verify", "--all", "-o", "json")
        return result.returncode, as_json(result)


@pytest.fixture
def plugin_install(cluster, admin, wandb_launch, make_namespace, tmp_path: Path):
    installed = PluginInstall(cluster, wandb_launch, make_namespace, tmp_path)
    yield installed
    cluster.helm("uninstall", installed.release, "-n", "default", check=False)
    try:
        kubernetes.client.CoreV1Api(admin).delete_namespace(installed.agent_namespace)
    except kubernetes.client.ApiException:
        pass


def failures(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [row for row in rows if row["status"] == "fail"]


def test_install_then_verify_passes_and_status_shows_the_pending_agent(plugin_install) -> None:
    installed = plugin_install.install()
    assert plugin_install.release in installed.stdout
    code, rows = plugin_install.verify()
    assert failures(rows) == [] and code == 0
    checked = {(row["check"], row["namespace"]) for row in rows if row["status"] == "ok"}
    for namespace in [plugin_install.agent_namespace, *plugin_install.targets]:
        assert ("rbac", namespace) in checked
        assert ("pod-security", namespace) in checked
    status = as_json(plugin_install.run("status", "-o", "json"))
    assert status["release"]["name"] == plugin_install.release
    assert status["agent"]["namespace"] == plugin_install.agent_namespace
    # The ReplicaSet controller made the pod; with no kubelet it waits for a node.
    pods = eventually(lambda: as_json(plugin_install.run("status", "-o", "json"))["pods"], "the agent pod in status")
    assert pods[0]["phase"] == "Pending"


def test_verify_fails_with_the_rbac_row_after_a_rolebinding_is_deleted(plugin_install, admin) -> None:
    plugin_install.install()
    target = plugin_install.targets[0]
    rbac = kubernetes.client.RbacAuthorizationV1Api(admin)
    (binding,) = [b for b in rbac.list_namespaced_role_binding(target).items
                  if b.metadata.labels.get("app.kubernetes.io/instance") == plugin_install.release]
    rbac.delete_namespaced_role_binding(binding.metadata.name, target)
    code, rows = plugin_install.verify()
    assert code == 1
    assert {(row["check"], row["namespace"]) for row in failures(rows)} == {("rbac", target)}


def test_verify_fails_with_the_pod_security_row_after_a_namespace_is_relabelled(plugin_install, admin) -> None:
    plugin_install.install()
    target = plugin_install.targets[0]
    kubernetes.client.CoreV1Api(admin).patch_namespace(target, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "restricted"}}})
    code, rows = plugin_install.verify()
    assert code == 1
    (row,) = failures(rows)
    assert (row["check"], row["namespace"]) == ("pod-security", target)
    assert "restricted" in row["detail"] and f"{POD_SECURITY_ENFORCE}=baseline" in row["fix"]


def test_status_shows_a_pod_security_denial_from_the_events(plugin_install, admin) -> None:
    plugin_install.install()
    target = plugin_install.targets[0]
    kubernetes.client.CoreV1Api(admin).patch_namespace(target, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "restricted"}}})
    # A root pod from a Job, as the SDK's builds and runs are, into the restricted namespace.
    job = kaniko_build_job(namespace=target, run_id="denied1", repository="registry.example/launch",
                           image_tag="registry.example/launch:abc", build_context_store="s3://bucket/ctx")
    kubernetes.client.BatchV1Api(admin).create_namespaced_job(target, job)

    def denial() -> list[dict[str, Any]]:
        warnings = as_json(plugin_install.run("status", "-o", "json"))["warnings"]
        return [w for w in warnings if w["kind"] == "pod-security" and w["namespace"] == target]

    (event, *_) = eventually(denial, "status to show the Pod Security denial")
    assert event["object"] == f"job/{job['metadata']['name']}"
    assert 'violates PodSecurity "restricted' in event["message"]
    table = plugin_install.run("status")
    assert "PodSecurity" in table.stdout


@pytest.mark.parametrize(("level", "accepted"), [("restricted", False), ("baseline", True)])
def test_preview_job_server_dry_run_reports_the_servers_verdict(
    cluster, wandb_launch, make_namespace, tmp_path: Path, level: str, accepted: bool
) -> None:
    namespace = make_namespace(f"preview-{level}", level)
    queue_config = tmp_path / "queue.json"
    queue_config.write_text(json.dumps({
        "metadata": {"namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}},
    }))
    result = wandb_launch("preview-job", str(queue_config), "--server-dry-run", "--image", "python:3.11",
                          "--kubeconfig", str(cluster.kubeconfig), "-o", "json")
    report = as_json(result)
    verdict = report["serverDryRun"]
    assert report["namespace"] == namespace
    assert verdict["accepted"] is accepted
    if accepted:
        assert result.returncode == 0 and "DENIED" not in verdict["summary"]
        assert verdict["warnings"] == []  # a clean pass: not even a Pod Security warning
    else:
        assert result.returncode == 1
        assert "Job accepted" in verdict["summary"]  # enforce judges pods, not Jobs ...
        assert 'its pod DENIED' in verdict["summary"] and "runAsNonRoot" in verdict["summary"]  # ... whose pod it denies
