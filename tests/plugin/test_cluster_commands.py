"""install, upgrade, status, verify and preview-job --server-dry-run against a real API server.

One release for the module; tests that break something put it back. The cluster is the
repo-wide `cluster` fixture (tests/conftest.py): the local control plane by default.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client as k8s
import pytest
import yaml
from wandb_launch.controlplane.binaries import cache_dir

from .conftest import REPO, VENV_BIN

pytestmark = pytest.mark.cluster

# The tools cache of hack/install-tools.sh, honouring WANDB_LAUNCH_CACHE and XDG_CACHE_HOME.
CACHE_BIN = cache_dir() / "bin"
API_KEY = "plugin-test-api-key-" + "0" * 20
ENFORCE = "pod-security.kubernetes.io/enforce"


class Release:
    def __init__(self, cluster, tmp: Path) -> None:
        self.cluster = cluster
        suffix = secrets.token_hex(3)
        self.name = f"pl-{suffix}"
        self.agent_namespace = f"pl-{suffix}-agent"
        self.targets = [f"pl-{suffix}-runs0", f"pl-{suffix}-runs1"]
        self.values = tmp / "release.yaml"
        self.values.write_text(
            yaml.safe_dump(
                {"namespace": {"create": True, "name": self.agent_namespace}, "targetNamespaces": self.targets}
            )
        )

    def cli(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **self.cluster.env,
            "PATH": f"{CACHE_BIN}:{VENV_BIN}:{os.environ.get('PATH', '')}",
            "PLUGIN_TEST_API_KEY": API_KEY,
        }
        env.pop("HELM_NAMESPACE", None)
        return subprocess.run(
            [str(VENV_BIN / "wandb-launch"), *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            input=stdin,
            timeout=300,
            check=False,
        )

    def install_args(self, *extra: str) -> list[str]:
        return ["--release", self.name, "-f", "values/local.yaml", "-f", str(self.values), *extra]


@pytest.fixture(scope="module")
def admin(cluster) -> Iterator[k8s.ApiClient]:
    with cluster.api_client() as client:
        yield client


@pytest.fixture(scope="module")
def release(cluster, admin, tmp_path_factory) -> Iterator[Release]:
    rel = Release(cluster, tmp_path_factory.mktemp("release"))
    core = k8s.CoreV1Api(admin)
    for ns in rel.targets:
        core.create_namespace({"metadata": {"name": ns, "labels": {ENFORCE: "baseline"}}})
    installed = rel.cli("install", *rel.install_args("--api-key-env", "PLUGIN_TEST_API_KEY", "-o", "json"))
    assert installed.returncode == 0, installed.stderr
    rel.installed_status = json.loads(installed.stdout)
    assert API_KEY not in installed.stdout + installed.stderr
    yield rel
    rel.cli("status")  # keeps nothing; uninstall below
    subprocess.run(
        [str(CACHE_BIN / "helm"), "uninstall", rel.name, "-n", "default", "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True,
        check=False,
    )
    for ns in [rel.agent_namespace, *rel.targets]:
        try:
            core.delete_namespace(ns)
        except k8s.ApiException:
            pass


def test_install_reports_status(release: Release) -> None:
    status = release.installed_status
    assert status["release"]["status"] == "deployed" and status["release"]["revision"] == 1
    assert status["release"]["chart"] == "wandb-launch-0.1.0"
    assert status["agent"]["namespace"] == release.agent_namespace
    assert status["agent"]["image"] == "wandb/launch-agent:0.31.0"
    assert status["queues"] == ["local-queue"] and status["builder"] == {"type": "noop"}
    assert status["targetNamespaces"] == release.targets


def test_install_twice_is_refused(release: Release) -> None:
    again = release.cli("install", *release.install_args("--api-key-env", "PLUGIN_TEST_API_KEY"))
    assert again.returncode == 2
    assert f"--release: release {release.name!r} already exists" in again.stderr


def test_status_shows_pods_made_by_the_controller(release: Release) -> None:
    # No kubelet here: the Deployment controller makes a pod that stays Pending.
    status = json.loads(release.cli("status", "--release", release.name, "-o", "json").stdout)
    assert status["agent"]["replicas"] == 1 and status["agent"]["readyReplicas"] == 0
    table = release.cli("status", "--release", release.name).stdout
    assert "wandb/launch-agent:0.31.0" in table and "local-queue" in table


def _verify(release: Release) -> tuple[int, list[dict]]:
    result = release.cli("verify", "--release", release.name, "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_verify_passes_on_a_fresh_install(release: Release) -> None:
    code, rows = _verify(release)
    failures = [r for r in rows if r["status"] == "fail"]
    assert code == 0 and failures == []
    checks = {(r["check"], r["namespace"]) for r in rows if r["status"] == "ok"}
    for ns in [release.agent_namespace, *release.targets]:
        assert ("rbac", ns) in checks and ("pod-security", ns) in checks
    assert ("launch-config", "") in checks


def test_verify_flags_secrets_in_every_namespace(release: Release, admin) -> None:
    rbac = k8s.RbacAuthorizationV1Api(admin)
    name = f"{release.name}-too-much"
    rbac.create_cluster_role(
        {"metadata": {"name": name}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    )
    sa = release.installed_status["agent"]["serviceAccount"]
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": release.agent_namespace}],
        }
    )
    try:
        code, rows = _verify(release)
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
    excess = [r for r in rows if r["check"] == "rbac-excess" and r["status"] == "fail"]
    assert code == 1
    assert {r["namespace"] for r in excess} == {"*", "kube-system"}
    assert any("reads secrets in every namespace" in r["detail"] for r in excess)


def test_verify_finds_a_missing_role_binding(release: Release, admin) -> None:
    rbac = k8s.RbacAuthorizationV1Api(admin)
    ns = release.targets[1]
    binding = rbac.list_namespaced_role_binding(ns).items[0]
    rbac.delete_namespaced_role_binding(binding.metadata.name, ns)
    try:
        code, rows = _verify(release)
    finally:
        release.cli("upgrade", *release.install_args("--api-key-env", "PLUGIN_TEST_API_KEY", "-o", "json"))
    assert code == 1
    missing = [r for r in rows if r["check"] == "rbac" and r["status"] == "fail"]
    assert {r["namespace"] for r in missing} == {ns}
    assert any(r["detail"].startswith("may not create,get,list,watch,delete jobs.batch") for r in missing)


def test_verify_finds_pod_security_and_api_key_problems(release: Release, admin) -> None:
    core = k8s.CoreV1Api(admin)
    ns = release.targets[0]
    core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "restricted"}}})
    secret = f"wandb-api-key-{release.name}"
    core.patch_namespaced_secret(secret, ns, {"stringData": {"password": "another-key"}})
    try:
        code, rows = _verify(release)
    finally:
        core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "baseline"}}})
        core.patch_namespaced_secret(secret, ns, {"stringData": {"password": API_KEY}})
    assert code == 1
    failed = {(r["check"], r["namespace"]): r for r in rows if r["status"] == "fail"}
    assert "run pods" in failed[("pod-security", ns)]["detail"]
    assert "another key" in failed[("api-key", ns)]["detail"]
    assert len(failed) == 2, failed


def test_upgrade_changes_the_release(release: Release, tmp_path: Path) -> None:
    more = tmp_path / "more.yaml"
    more.write_text("launchConfig:\n  maxJobs: 3\n")
    result = release.cli(
        "upgrade", *release.install_args("-f", str(more), "--api-key-env", "PLUGIN_TEST_API_KEY", "-o", "json")
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["maxJobs"] == 3 and status["release"]["revision"] >= 2


QUEUE = {"spec": {"template": {"spec": {"containers": [{"image": "busybox", "resources": {"limits": {"cpu": "1"}}}]}}}}


def test_server_dry_run_accepts_a_run_in_a_baseline_namespace(release: Release) -> None:
    queue = {**QUEUE, "metadata": {"namespace": release.targets[0]}}
    result = release.cli("preview-job", "--server-dry-run", "-o", "json", stdin=json.dumps(queue))
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)["serverDryRun"]
    assert verdict["accepted"] and verdict["summary"] == "Job accepted; its pod accepted"


def test_server_dry_run_reports_pod_security_denial(release: Release, admin) -> None:
    ns = release.targets[1]
    core = k8s.CoreV1Api(admin)
    core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "restricted"}}})
    try:
        queue = {**QUEUE, "metadata": {"namespace": ns}}
        result = release.cli("preview-job", "--server-dry-run", "-o", "json", stdin=json.dumps(queue))
    finally:
        core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "baseline"}}})
    assert result.returncode == 1
    verdict = json.loads(result.stdout)["serverDryRun"]
    assert not verdict["accepted"]
    assert (
        "its pod DENIED (HTTP 403)" in verdict["summary"] and 'violates PodSecurity "restricted' in verdict["summary"]
    )
    assert any('would violate PodSecurity "restricted' in w for w in verdict["warnings"]), verdict["warnings"]


def test_server_dry_run_reports_an_invalid_job(release: Release) -> None:
    queue = {
        "metadata": {"namespace": release.targets[0]},
        "spec": {"backoffLimit": -1, "template": {"spec": {"containers": [{"image": "busybox"}]}}},
    }
    result = release.cli("preview-job", "--server-dry-run", stdin=json.dumps(queue))
    assert result.returncode == 1
    assert "Job DENIED (HTTP 422)" in result.stdout and "backoffLimit" in result.stdout


def _service_account_dir(cluster, admin, release: Release, tmp_path: Path) -> Path:
    """What the kubelet would mount in the test pod: the agent's token and the cluster CA."""
    import base64

    sa = release.installed_status["agent"]["serviceAccount"]
    token = k8s.CoreV1Api(admin).create_namespaced_service_account_token(
        sa, release.agent_namespace, {"spec": {"expirationSeconds": 600}}
    )
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    entry = kubeconfig["clusters"][0]["cluster"]
    ca = (
        base64.b64decode(entry["certificate-authority-data"])
        if "certificate-authority-data" in entry
        else Path(entry["certificate-authority"]).read_bytes()
    )
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(token.status.token)
    (sa_dir / "ca.crt").write_bytes(ca)
    return sa_dir


def test_helm_test_selfcheck_in_cluster_mode(cluster, admin, release: Release, tmp_path: Path) -> None:
    """chart/files/selfcheck.py run as the test pod runs it, with the agent's own token."""
    from urllib.parse import urlparse

    sa_dir = _service_account_dir(cluster, admin, release, tmp_path)
    server = urlparse(yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0]["cluster"]["server"])
    config = tmp_path / "launch-config.yaml"
    configmaps = k8s.CoreV1Api(admin).list_namespaced_config_map(release.agent_namespace).items
    config.write_text(next(c.data["launch-config.yaml"] for c in configmaps if "launch-config.yaml" in (c.data or {})))
    argv = [
        sys.executable,
        str(REPO / "chart/files/selfcheck.py"),
        "--agent-namespace", release.agent_namespace,
        "--target-namespaces", ",".join(release.targets),
        "--release", release.name,
        "--config", str(config),
        "--service-account-dir", str(sa_dir),
        "--output", "json",
    ]  # fmt: skip
    env = {
        "PATH": os.environ["PATH"],
        "KUBERNETES_SERVICE_HOST": server.hostname,
        "KUBERNETES_SERVICE_PORT": str(server.port),
    }
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)
    statuses = {(r["check"], r["namespace"]): r["status"] for r in rows}
    for ns in [release.agent_namespace, *release.targets]:
        assert statuses[("rbac", ns)] == "ok"
    assert statuses[("rbac-excess", "*")] == "ok"
    assert statuses[("launch-config", "")] == "ok"
    assert {statuses[("api-key", ns)] for ns in release.targets} == {"ok"}


def test_status_names_a_pod_security_denial(release: Release, admin) -> None:
    """A run Job in a namespace that enforces restricted: the Job controller's pods are denied."""
    ns = release.targets[1]
    core, batch = k8s.CoreV1Api(admin), k8s.BatchV1Api(admin)
    queue = {**QUEUE, "metadata": {"namespace": ns}}
    job = json.loads(release.cli("preview-job", "--image", "busybox", "-o", "json", stdin=json.dumps(queue)).stdout)[
        "job"
    ]
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels.update({k: "preview" for k, v in labels.items() if v.startswith("<")})
    job["metadata"]["labels"]["wandb.ai/run-id"] = "preview"
    for container in job["spec"]["template"]["spec"]["containers"]:
        container["env"] = [e for e in container["env"] if "value" not in e or not e["value"].startswith("<")]
    core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "restricted"}}})
    try:
        created = batch.create_namespaced_job(ns, job)
        deadline = time.monotonic() + 60
        while True:
            status = json.loads(release.cli("status", "--release", release.name, "-o", "json").stdout)
            denials = [w for w in status["warnings"] if w["kind"] == "pod-security" and w["namespace"] == ns]
            if denials or time.monotonic() > deadline:
                break
            time.sleep(1)
        batch.delete_namespaced_job(created.metadata.name, ns, propagation_policy="Background")
    finally:
        core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "baseline"}}})
    assert denials, status["warnings"]
    assert denials[0]["object"].startswith("job/") and "violates PodSecurity" in denials[0]["message"]


def test_wait_shows_progress_and_reports_helm_failure(release: Release) -> None:
    """No kubelet: the agent never becomes ready, so helm's wait times out; progress was shown."""
    result = release.cli(
        "upgrade", *release.install_args("--api-key-env", "PLUGIN_TEST_API_KEY", "--wait", "--timeout", "6s")
    )
    assert result.returncode == 1
    progress = [line for line in result.stderr.splitlines() if line.startswith("… waiting for the agent: 0/1 ready")]
    assert progress and "Pending" in progress[-1], result.stderr
    assert result.stderr.splitlines()[-1].startswith("wandb-launch upgrade: helm failed: ")
    assert API_KEY not in result.stdout + result.stderr


def test_helm_plugin_takes_namespace_kubeconfig_and_helm_bin_from_helm(helm_plugin, cluster, release: Release) -> None:
    """`helm -n NS --kubeconfig KC launch status`: HELM_NAMESPACE, KUBECONFIG and HELM_BIN reach the CLI."""
    found = helm_plugin(
        "--kubeconfig",
        str(cluster.kubeconfig),
        "-n",
        "default",
        "launch",
        "status",
        "--release",
        release.name,
        "-o",
        "json",
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["release"]["name"] == release.name
    elsewhere = helm_plugin(
        "--kubeconfig", str(cluster.kubeconfig), "-n", "elsewhere", "launch", "status", "--release", release.name
    )
    assert elsewhere.returncode != 0
    assert f"release {release.name!r} not found in namespace elsewhere" in elsewhere.stderr
