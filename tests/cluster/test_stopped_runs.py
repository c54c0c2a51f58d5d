"""Issue 9 on a real API server, with the CLI: what `install` checks before applying (targets
whose Pod Security denies run pods; the right to create the stop policy), `verify` on the
same, and uninstall leaving nothing of the policy. The policy's effect on the SDK's own
agent is proven in tests/agent."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from wandb_launch.preflight import serves_policy_api

from ..clirun import one_line_error, run_cli
from ..paths import VALUES_DIR
from .kube import create_namespace, delete_namespace, unique_name, until_empty
from .limited_user import limited_user
from .release import API_KEY, API_KEY_ENV, HELM_NAMESPACE, Release
from .test_release_lifecycle import release_leftovers

pytestmark = pytest.mark.cluster

POLICY_KINDS = {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}


@pytest.fixture
def served(admin) -> None:
    if not serves_policy_api(admin):
        pytest.skip("this cluster does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy")


def values_file(tmp_path: Path, agent_namespace: str, targets: list[str], **extra) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"namespace": {"create": True, "name": agent_namespace},
                                    "targetNamespaces": targets, **extra}))
    return path


def test_install_warns_of_a_restricted_target_verify_fails_and_uninstall_leaves_no_policy(
    cluster, admin, served, tmp_path: Path
) -> None:
    name = unique_name("stop")
    # Not named after the release: they are the admin's, and outlive it (the leftover scan matches names).
    open_ns = create_namespace(admin, unique_name("runs-open"), "baseline")
    strict_ns = create_namespace(admin, unique_name("runs-strict"), "restricted")
    agent_ns = f"{name}-agent"
    release = Release(name, agent_ns, [open_ns, strict_ns],
                      ["-f", str(VALUES_DIR / "local.yaml"), "-f", str(values_file(tmp_path, agent_ns, [open_ns, strict_ns]))],
                      cluster)
    try:
        installed = release.cli_install("install", "-o", "json")
        assert installed.code == 0, installed.err
        warnings = [line for line in installed.err.splitlines() if "warning:" in line]
        assert warnings == [
            f"wandb-launch install: warning: target namespace {strict_ns}: enforce=restricted denies run pods (they "
            "meet baseline); runs there would never start and the agent would not tell W&B; fix: kubectl label "
            f"--overwrite ns {strict_ns} pod-security.kubernetes.io/enforce=baseline"
        ], installed.err
        status = json.loads(installed.out)
        assert status["stoppedRuns"]["deletePods"] is True and status["runs"] == [] and status["orphanedPods"] == []
        kinds = {doc["kind"] for doc in release.manifest()}
        assert POLICY_KINDS <= kinds
        # The leftover scan of the lifecycle tests sees the cluster-scoped policy objects.
        seen = {entry.split(" ")[0] for entry in release_leftovers(admin, release)}
        assert POLICY_KINDS <= seen, seen

        verified = release.cli("verify", "--all", "-o", "json")
        assert verified.code == 1
        rows = {(r["check"], r["namespace"]): r for r in json.loads(verified.out)}
        assert rows[("pod-security", strict_ns)]["status"] == "fail"
        assert rows[("pod-security", open_ns)]["status"] == "ok"
        assert rows[("stopped-runs", "*")]["status"] == "ok"

        release.helm("uninstall", release.name)
        release.uninstalled = True
        until_empty(lambda: release_leftovers(admin, release), "objects of the uninstalled release", timeout=120)
    finally:
        if not release.uninstalled:
            release.helm("uninstall", release.name, check=False)
        for ns in (open_ns, strict_ns, agent_ns):
            delete_namespace(admin, ns)


def test_install_is_refused_when_the_caller_may_not_create_the_policy(cluster, admin, served, tmp_path: Path) -> None:
    """A namespace admin (helm's release records, nothing cluster-scoped) gets one line naming
    stoppedRuns.deletePods and the two ways out, before anything is applied."""
    name = unique_name("stopnp")
    target = create_namespace(admin, f"{name}-runs", "baseline")
    values = values_file(tmp_path, f"{name}-agent", [target])
    rules = {HELM_NAMESPACE: [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}
    try:
        with limited_user(admin, cluster.kubeconfig, tmp_path, name=f"{name}-installer", home=HELM_NAMESPACE,
                          rules=rules) as (kubeconfig, _):
            refused = run_cli("install", "-f", str(VALUES_DIR / "local.yaml"), "-f", str(values),
                              "--api-key-env", API_KEY_ENV, "--kubeconfig", str(kubeconfig), "-n", HELM_NAMESPACE,
                              "--release", name, env={API_KEY_ENV: API_KEY})
        assert refused.code == 2
        line = one_line_error(refused)
        assert line.startswith("wandb-launch install: error: stoppedRuns.deletePods: the chart installs a "
                               "MutatingAdmissionPolicy"), line
        assert "install as a cluster admin, or set stoppedRuns.deletePods=false" in line
        assert cluster.helm("status", name, "-n", HELM_NAMESPACE, check=False).returncode != 0, "something was applied"
    finally:
        delete_namespace(admin, target)


def test_install_refuses_a_target_that_does_not_exist(cluster, admin, tmp_path: Path) -> None:
    name = unique_name("stopnx")
    values = values_file(tmp_path, f"{name}-agent", [f"{name}-missing"])
    refused = run_cli("install", "-f", str(VALUES_DIR / "local.yaml"), "-f", str(values), "--api-key-env", API_KEY_ENV,
                      "--kubeconfig", str(cluster.kubeconfig), "-n", HELM_NAMESPACE, "--release", name,
                      env={API_KEY_ENV: API_KEY})
    assert refused.code == 2
    assert (f"targetNamespaces: namespace {name}-missing does not exist" in one_line_error(refused)
            and f"kubectl create namespace {name}-missing" in refused.err)
    assert cluster.helm("status", name, "-n", HELM_NAMESPACE, check=False).returncode != 0


def test_policy_off_installs_nothing_cluster_scoped(cluster, admin, tmp_path: Path) -> None:
    """stoppedRuns.deletePods=false: no policy; status says what that costs."""
    name = unique_name("stopoff")
    target = create_namespace(admin, f"{name}-runs", "baseline")
    release = Release(name, f"{name}-agent", [target],
                      ["-f", str(VALUES_DIR / "local.yaml"),
                       "-f", str(values_file(tmp_path, f"{name}-agent", [target], stoppedRuns={"deletePods": False}))],
                      cluster)
    try:
        installed = release.cli_install("install", "-o", "json")
        assert installed.code == 0, installed.err
        assert not POLICY_KINDS & {doc["kind"] for doc in release.manifest()}
        stopped = json.loads(installed.out)["stoppedRuns"]
        assert stopped["deletePods"] is False and "wandb-launch cleanup" in stopped["detail"]
        admission = kubernetes.client.AdmissionregistrationV1Api(admin)
        assert not [p for p in admission.list_mutating_admission_policy().items if name in p.metadata.name]
    finally:
        release.helm("uninstall", release.name, check=False)
        for ns in (target, release.agent_namespace):
            delete_namespace(admin, ns)


@pytest.mark.parametrize("may_create_cluster_roles", [False, True], ids=["no-create", "create-without-the-rights"])
def test_install_is_refused_when_the_caller_may_not_create_the_cluster_role(
    cluster, admin, tmp_path: Path, may_create_cluster_roles: bool
) -> None:
    """rbac.useClusterRole (the default): a caller who may not create clusterroles, or may but
    holds the role's rights in no namespace (the API server's escalation check would refuse
    it half-way), gets one line naming the key and the way out, before anything is applied."""
    name = unique_name("crole")
    target = create_namespace(admin, f"{name}-runs", "baseline")
    values = values_file(tmp_path, f"{name}-agent", [target], stoppedRuns={"deletePods": False})
    rules = {HELM_NAMESPACE: [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}
    rbac = kubernetes.client.RbacAuthorizationV1Api(admin)
    user = f"{name}-installer"
    try:
        if may_create_cluster_roles:
            rbac.create_cluster_role({"metadata": {"name": user}, "rules": [
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["create"]}]})
            rbac.create_cluster_role_binding({
                "metadata": {"name": user},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
                "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": HELM_NAMESPACE}],
            })
        with limited_user(admin, cluster.kubeconfig, tmp_path, name=user, home=HELM_NAMESPACE,
                          rules=rules) as (kubeconfig, _):
            refused = run_cli("install", "-f", str(VALUES_DIR / "local.yaml"), "-f", str(values),
                              "--api-key-env", API_KEY_ENV, "--kubeconfig", str(kubeconfig), "-n", HELM_NAMESPACE,
                              "--release", name, env={API_KEY_ENV: API_KEY})
        assert refused.code == 2
        line = one_line_error(refused)
        assert line.startswith("wandb-launch install: error: rbac.useClusterRole: "), line
        if may_create_cluster_roles:
            assert "only with rights you hold cluster-wide (or `escalate` on clusterroles)" in line, line
        else:
            assert "you may not create clusterroles" in line, line
        assert "install as a cluster admin, or set rbac.useClusterRole=false" in line
        assert cluster.helm("status", name, "-n", HELM_NAMESPACE, check=False).returncode != 0, "something was applied"
    finally:
        for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
            try:
                delete(user)
            except kubernetes.client.ApiException:
                pass
        delete_namespace(admin, target)
