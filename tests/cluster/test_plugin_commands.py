"""The plugin's cluster commands against a real API server: install, upgrade, status,
verify, preview-job --server-dry-run, the `helm test` check with the agent's own token,
and the Helm plugin's flags.

One release for the module, installed with `wandb-launch install`; tests that break
something put it back. The commands run in this process through `wandb_launch.cli.main`
(the console script's entry point) to save an interpreter start per call; test_demo.py
and the Helm plugin test run the installed executable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

from ..clirun import Outcome, run_cli
from ..paths import CHART, VALUES_DIR
from .kaniko import kaniko_build_job
from .kube import (
    POD_SECURITY_ENFORCE,
    create_namespace,
    delete_namespace,
    eventually,
    pod_service_account,
    unique_name,
)
from .release import API_KEY, HELM_NAMESPACE, Release

pytestmark = pytest.mark.cluster

QUEUE = {"spec": {"template": {"spec": {"containers": [{"image": "busybox", "resources": {"limits": {"cpu": "1"}}}]}}}}


def as_json(result: Outcome) -> Any:
    try:
        return json.loads(result.out)
    except ValueError as error:
        raise AssertionError(f"not JSON ({error}):\n{result.out}\n{result.err}") from None


def failures(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [row for row in rows if row["status"] == "fail"]


@pytest.fixture(scope="module")
def release(cluster, admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """values/local.yaml installed with the CLI: its own agent namespace (made by the chart)
    and two baseline target namespaces (made here, as an admin would)."""
    name = unique_name("pl")
    targets = [create_namespace(admin, f"{name}-runs{i}", "baseline") for i in range(2)]
    values = tmp_path_factory.mktemp("release") / "release.yaml"
    agent_namespace = f"{name}-agent"
    values.write_text(
        yaml.safe_dump({"namespace": {"create": True, "name": agent_namespace}, "targetNamespaces": targets})
    )
    rel = Release(name, agent_namespace, targets, ["-f", str(VALUES_DIR / "local.yaml"), "-f", str(values)], cluster)
    installed = rel.cli_install("install", "-o", "json")
    assert installed.code == 0, installed.err
    rel.extra["installed_status"] = as_json(installed)
    assert API_KEY not in installed.out + installed.err
    yield rel
    rel.helm("uninstall", rel.name, check=False)
    for ns in [rel.agent_namespace, *targets]:
        delete_namespace(admin, ns)


def verify(release: Release) -> tuple[int, list[dict[str, str]]]:
    result = release.cli("verify", "--all", "-o", "json")
    assert result.code in (0, 1), result.err
    return result.code, as_json(result)


def test_install_reports_status(release: Release) -> None:
    status = release.extra["installed_status"]
    assert status["release"]["status"] == "deployed" and status["release"]["revision"] == 1
    assert status["release"]["name"] == release.name
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    assert status["release"]["chart"] == f"wandb-launch-{version}"
    assert status["agent"]["namespace"] == release.agent_namespace
    assert status["agent"]["image"] == "wandb/launch-agent:0.31.0"
    assert status["queues"] == ["local-queue"] and status["builder"] == {"type": "noop"}
    assert status["targetNamespaces"] == release.target_namespaces


def test_install_twice_is_refused(release: Release) -> None:
    again = release.cli_install()
    assert again.code == 2
    assert f"--release: release {release.name!r} already exists" in again.err


def test_status_shows_the_pending_pod_made_by_the_controller(release: Release) -> None:
    # No kubelet here: the ReplicaSet controller makes a pod that waits for a node.
    pods = eventually(lambda: as_json(release.cli("status", "-o", "json"))["pods"], "the agent pod in status")
    assert pods[0]["phase"] == "Pending"
    status = as_json(release.cli("status", "-o", "json"))
    assert status["release"]["name"] == release.name
    assert status["agent"]["namespace"] == release.agent_namespace
    assert status["agent"]["replicas"] == 1 and status["agent"]["readyReplicas"] == 0
    table = release.cli("status").out
    assert "wandb/launch-agent:0.31.0" in table and "local-queue" in table


def test_verify_passes_on_a_fresh_install(release: Release) -> None:
    code, rows = verify(release)
    assert failures(rows) == [] and code == 0
    checks = {(r["check"], r["namespace"]) for r in rows if r["status"] == "ok"}
    for ns in [release.agent_namespace, *release.target_namespaces]:
        assert ("rbac", ns) in checks and ("pod-security", ns) in checks
    assert ("launch-config", "") in checks


def test_verify_flags_secrets_in_every_namespace(release: Release, admin) -> None:
    rbac = k8s.RbacAuthorizationV1Api(admin)
    name = f"{release.name}-too-much"
    rbac.create_cluster_role(
        {"metadata": {"name": name}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    )
    sa = release.extra["installed_status"]["agent"]["serviceAccount"]
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": release.agent_namespace}],
        }
    )
    try:
        code, rows = verify(release)
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
    excess = [r for r in rows if r["check"] == "rbac-excess" and r["status"] == "fail"]
    assert code == 1
    assert {r["namespace"] for r in excess} == {"*", "kube-system"}
    assert any("reads secrets in every namespace" in r["detail"] for r in excess)


def test_verify_finds_a_missing_role_binding(release: Release, admin) -> None:
    rbac = k8s.RbacAuthorizationV1Api(admin)
    ns = release.target_namespaces[1]
    (binding,) = [
        b
        for b in rbac.list_namespaced_role_binding(ns).items
        if (b.metadata.labels or {}).get("app.kubernetes.io/instance") == release.name
    ]
    rbac.delete_namespaced_role_binding(binding.metadata.name, ns)
    try:
        code, rows = verify(release)
    finally:
        release.cli_install("upgrade", "-o", "json")
    assert code == 1
    assert {(row["check"], row["namespace"]) for row in failures(rows)} == {("rbac", ns)}
    missing = [r for r in rows if r["check"] == "rbac" and r["status"] == "fail"]
    assert any(r["detail"].startswith("may not create,watch,delete jobs.batch") for r in missing)


def test_verify_finds_pod_security_and_api_key_problems(release: Release, admin) -> None:
    core = k8s.CoreV1Api(admin)
    ns = release.target_namespaces[0]
    secret = f"wandb-api-key-{release.name}"
    core.patch_namespace(ns, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "restricted"}}})
    try:
        code, rows = verify(release)
        assert code == 1
        (row,) = failures(rows)
        assert (row["check"], row["namespace"]) == ("pod-security", ns)
        assert "restricted" in row["detail"] and f"{POD_SECURITY_ENFORCE}=baseline" in row["fix"]
        core.patch_namespaced_secret(secret, ns, {"stringData": {"password": "another-key"}})
        code, rows = verify(release)
    finally:
        core.patch_namespace(ns, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "baseline"}}})
        core.patch_namespaced_secret(secret, ns, {"stringData": {"password": API_KEY}})
    assert code == 1
    failed = {(r["check"], r["namespace"]): r for r in failures(rows)}
    assert "run pods" in failed[("pod-security", ns)]["detail"]
    assert "another key" in failed[("api-key", ns)]["detail"]
    assert len(failed) == 2, failed


def test_upgrade_changes_the_release(release: Release, tmp_path: Path) -> None:
    more = tmp_path / "more.yaml"
    more.write_text("launchConfig:\n  maxJobs: 3\n")
    result = release.cli_install("upgrade", "-f", str(more), "-o", "json")
    assert result.code == 0, result.err
    status = as_json(result)
    assert status["maxJobs"] == 3 and status["release"]["revision"] >= 2


@pytest.mark.parametrize(("level", "accepted"), [("restricted", False), ("baseline", True)])
def test_preview_job_server_dry_run_reports_the_servers_verdict(
    cluster, make_namespace, tmp_path: Path, level: str, accepted: bool
) -> None:
    namespace = make_namespace(f"preview-{level}", level)
    queue_config = tmp_path / "queue.json"
    queue_config.write_text(
        json.dumps(
            {
                "metadata": {"namespace": namespace},
                "spec": {
                    "template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}
                },
            }
        )
    )
    result = run_cli(
        "preview-job", str(queue_config), "--server-dry-run", "--image", "python:3.11",
        "--kubeconfig", str(cluster.kubeconfig), "-o", "json",
    )  # fmt: skip
    report = as_json(result)
    verdict = report["serverDryRun"]
    assert report["namespace"] == namespace
    assert verdict["accepted"] is accepted
    if accepted:
        assert result.code == 0 and "DENIED" not in verdict["summary"]
        assert verdict["summary"] == "Job accepted; its pod accepted"
        assert verdict["warnings"] == []  # a clean pass: not even a Pod Security warning
        assert "agentReportsToWandb" not in verdict
    else:
        assert result.code == 1
        assert "Job accepted" in verdict["summary"]  # enforce judges pods, not Jobs ...
        assert "its pod DENIED (HTTP 403)" in verdict["summary"]  # ... whose pod it denies
        assert 'violates PodSecurity "restricted' in verdict["summary"] and "runAsNonRoot" in verdict["summary"]
        assert any('would violate PodSecurity "restricted' in w for w in verdict["warnings"]), verdict["warnings"]
        assert verdict["agentReportsToWandb"] is False and "not report the pods' denial to W&B" in verdict["note"]
    table = run_cli(
        "preview-job", str(queue_config), "--server-dry-run", "--image", "python:3.11",
        "--kubeconfig", str(cluster.kubeconfig),
    ).out  # fmt: skip
    assert ("not report the pods' denial to W&B" in table) is not accepted


def test_server_dry_run_reports_an_invalid_job(release: Release) -> None:
    queue = {
        "metadata": {"namespace": release.target_namespaces[0]},
        "spec": {"backoffLimit": -1, "template": {"spec": {"containers": [{"image": "busybox"}]}}},
    }
    result = release.cli("preview-job", "--server-dry-run", stdin=json.dumps(queue))
    assert result.code == 1
    assert "Job DENIED (HTTP 422)" in result.out and "backoffLimit" in result.out


def _in_cluster_invocation(admin, release: Release, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The helm test pod's command (its own arguments, the chart's file, a copy of the
    launch config) with the agent's own token, and the environment a pod sees."""
    import os

    sa = release.extra["installed_status"]["agent"]["serviceAccount"]
    sa_dir = tmp_path / "serviceaccount"
    env = pod_service_account(admin, release.agent_namespace, sa, sa_dir)
    config = tmp_path / "launch-config.yaml"
    config.write_text(release.launch_config())
    command = list(release.test_pod()["spec"]["containers"][0]["command"])
    assert command[:2] == ["python3", "/opt/wandb-launch/helm_test_check.py"]
    command[:2] = [sys.executable, str(CHART / "files" / "helm_test_check.py")]
    command[command.index("--config") + 1] = str(config)
    argv = [*command, "--service-account-dir", str(sa_dir), "--output", "json"]
    return argv, {"PATH": os.environ["PATH"], **env}


def _assert_all_ok(rows: list[dict[str, str]], release: Release) -> None:
    statuses = {(r["check"], r["namespace"]): r["status"] for r in rows}
    for ns in [release.agent_namespace, *release.target_namespaces]:
        assert statuses[("rbac", ns)] == "ok"
    assert statuses[("rbac-excess", "*")] == "ok"
    assert statuses[("launch-config", "")] == "ok"
    assert {statuses[("api-key", ns)] for ns in release.target_namespaces} == {"ok"}
    assert {r["status"] for r in rows} <= {"ok", "skip"}, rows


def test_helm_test_check_in_cluster_mode(cluster, admin, release: Release, tmp_path: Path) -> None:
    """chart/files/helm_test_check.py run as the pod runs it: a process of its own (the standard
    library only), the test pod's arguments and the agent's own token."""
    import subprocess

    argv, env = _in_cluster_invocation(admin, release, tmp_path)
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_all_ok(json.loads(result.stdout), release)


def test_status_names_pod_security_denials(release: Release, admin, monkeypatch) -> None:
    """Run and build Jobs in a namespace that enforces restricted: the Job controller's pods
    are denied, and status names the denials from the events, read namespace by namespace
    (a few targets) and with one cluster-wide list (many targets)."""
    ns = release.target_namespaces[1]
    core, batch = k8s.CoreV1Api(admin), k8s.BatchV1Api(admin)
    # The Job the agent would submit for a run (its forced securityContext has no runAsNonRoot) ...
    queue = {**QUEUE, "metadata": {"namespace": ns}}
    run_job = as_json(release.cli("preview-job", "--image", "busybox", "-o", "json", stdin=json.dumps(queue)))["job"]
    for labels in (run_job["metadata"]["labels"], run_job["spec"]["template"]["metadata"]["labels"]):
        labels.update({k: "preview" for k, v in labels.items() if v.startswith("<")})
    run_job["metadata"]["labels"]["wandb.ai/run-id"] = "preview"
    for container in run_job["spec"]["template"]["spec"]["containers"]:
        container["env"] = [e for e in container["env"] if "value" not in e or not e["value"].startswith("<")]
    # ... and a root pod from a Job, as the SDK's kaniko builds are.
    build_job = kaniko_build_job(
        namespace=ns, run_id="denied1", repository="registry.example/launch",
        image_tag="registry.example/launch:abc", build_context_store="s3://bucket/ctx",
    )  # fmt: skip
    core.patch_namespace(ns, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "restricted"}}})
    created = []
    try:
        created.append(batch.create_namespaced_job(ns, run_job).metadata.name)
        created.append(batch.create_namespaced_job(ns, build_job).metadata.name)

        def denied() -> dict[str, dict[str, Any]]:
            warnings = as_json(release.cli("status", "-o", "json"))["warnings"]
            found = {w["object"]: w for w in warnings if w["kind"] == "pod-security" and w["namespace"] == ns}
            return found if {f"job/{name}" for name in created} <= set(found) else {}

        denials = eventually(denied, "status to show both Pod Security denials")
        table = release.cli("status").out
        monkeypatch.setattr("wandb_launch.release.PER_NAMESPACE_EVENT_LISTS", 0)
        assert set(denied()) == set(denials), "one cluster-wide list of Warning events found other denials"
    finally:
        for name in created:
            batch.delete_namespaced_job(name, ns, propagation_policy="Background")
        core.patch_namespace(ns, {"metadata": {"labels": {POD_SECURITY_ENFORCE: "baseline"}}})
    for name in created:
        assert 'violates PodSecurity "restricted' in denials[f"job/{name}"]["message"]
    assert "PodSecurity" in table


def test_wait_shows_progress_and_reports_helm_failure(release: Release) -> None:
    """No kubelet: the agent never becomes ready, so helm's wait times out; progress was shown."""
    result = release.cli_install("upgrade", "--wait", "--timeout", "6s")
    assert result.code == 1
    progress = [line for line in result.err.splitlines() if line.startswith("… waiting for the agent: 0/1 ready")]
    assert progress and "Pending" in progress[-1], result.err
    assert result.err.splitlines()[-1].startswith("wandb-launch upgrade: helm failed: ")
    assert API_KEY not in result.out + result.err


def test_helm_plugin_takes_namespace_kubeconfig_and_helm_bin_from_helm(helm_plugin, cluster, release: Release) -> None:
    """`helm -n NS --kubeconfig KC launch status`: HELM_NAMESPACE, KUBECONFIG and HELM_BIN reach the CLI."""
    found = helm_plugin(
        "--kubeconfig", str(cluster.kubeconfig), "-n", HELM_NAMESPACE,
        "launch", "status", "--release", release.name, "-o", "json",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["release"]["name"] == release.name
    elsewhere = helm_plugin(
        "--kubeconfig", str(cluster.kubeconfig), "-n", "elsewhere", "launch", "status", "--release", release.name
    )
    assert elsewhere.returncode != 0
    assert f"release {release.name!r} not found in namespace elsewhere" in elsewhere.stderr
