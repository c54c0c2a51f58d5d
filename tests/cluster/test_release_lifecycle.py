"""helm install / upgrade / rollback / uninstall of the chart against a real API server:
the server validates every object, the controllers react to the changes."""

from __future__ import annotations

import base64
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from ..paths import CHART, VALUES_DIR
from .kube import eventually, get_json, until_empty
from .release import API_KEY, Release, ci_values_files, cloud_values_files, deployment_replica_sets, release_leftovers

pytestmark = pytest.mark.cluster

def object_path(admin, doc: dict) -> str:
    """The API path of a rendered object for a GET, with its plural from discovery."""
    group_version = doc["apiVersion"]
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    (resource,) = [r for r in get_json(admin, prefix)["resources"] if r["kind"] == doc["kind"] and "/" not in r["name"]]
    namespace = doc["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if resource["namespaced"] else ""
    return f"{prefix}{scope}/{resource['name']}/{doc['metadata']['name']}"


def agent_namespace_for(values_file: Path, admin) -> str | None:
    """Kaniko on Azure must run in namespace `wandb` (the SDK hard-codes it; the chart
    refuses another): that file keeps its namespace, the others get a unique one."""
    values = yaml.safe_load(values_file.read_text())
    launch = values.get("launchConfig") or {}
    if (launch.get("environment") or {}).get("type") == "azure" and (launch.get("builder") or {}).get("type") == "kaniko":
        name = values["namespace"]["name"]
        if name in {ns.metadata.name for ns in kubernetes.client.CoreV1Api(admin).list_namespace().items}:
            pytest.skip(f"namespace {name} already exists on this cluster; {values_file.name} must install there")
        return name
    return None


def launch_config(admin, release: Release) -> dict:
    core = kubernetes.client.CoreV1Api(admin)
    for cm in core.list_namespaced_config_map(release.agent_namespace).items:
        for value in (cm.data or {}).values():
            if "queues:" in value:
                return yaml.safe_load(value)
    raise AssertionError(f"no launch-config ConfigMap in {release.agent_namespace}")


def api_key_in(admin, namespace: str, release: Release) -> str:
    secret = kubernetes.client.CoreV1Api(admin).read_namespaced_secret(f"wandb-api-key-{release.name}", namespace)
    return base64.b64decode(secret.data["password"]).decode()


@pytest.mark.parametrize(
    "values_file", cloud_values_files() + ci_values_files(), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_each_values_file_installs_and_uninstalls_without_leftovers(admin, install_release, values_file: Path) -> None:
    release = install_release(
        values_file, targets=2, prefix=f"wl-{values_file.stem[:8]}", agent_namespace=agent_namespace_for(values_file, admin)
    )
    manifest = release.manifest()
    for doc in manifest:
        stored = get_json(admin, object_path(admin, doc))
        assert stored["metadata"]["name"] == doc["metadata"]["name"]
    if values_file.parent == VALUES_DIR:
        kinds = {doc["kind"] for doc in manifest}
        assert {"Deployment", "ServiceAccount", "RoleBinding", "Namespace"} <= kinds
        # Rights in the targets: the ClusterRole by default (rbac.useClusterRole), bound per target.
        assert "ClusterRole" in kinds
        for namespace in [release.agent_namespace, *release.target_namespaces]:
            assert api_key_in(admin, namespace, release) == API_KEY
    # The Deployment controller took it from there: a ReplicaSet for the agent.
    eventually(lambda: deployment_replica_sets(admin, release), "the agent's ReplicaSet")

    release.helm("uninstall", release.name)
    release.uninstalled = True
    until_empty(lambda: release_leftovers(admin, release), "objects of the uninstalled release", timeout=120)


def test_upgrade_rollback_and_uninstall(admin, install_release) -> None:
    release = install_release(VALUES_DIR / "local.yaml", targets=2)
    replica_sets = eventually(lambda: deployment_replica_sets(admin, release), "the first ReplicaSet")
    (first_hash,) = replica_sets
    assert launch_config(admin, release)["queues"] == ["local-queue"]

    def upgrade_rolls_out(*set_args: str) -> None:
        """Each change reaches the pod template (checksum annotations), so the agent
        restarts: the Deployment makes one more ReplicaSet."""
        nonlocal replica_sets
        before = replica_sets
        release.helm("upgrade", release.name, str(CHART), "--reuse-values", *set_args)
        replica_sets = eventually(
            lambda: (now := deployment_replica_sets(admin, release)) and len(now) > len(before) and now,
            f"a new ReplicaSet after upgrading with {' '.join(set_args)}",
        )
        assert len(set(replica_sets) - set(before)) == 1

    rotated = "rotated-api-key-111111111111111111111111111111111111"
    upgrade_rolls_out("--set", f"apiKey.value={rotated}")
    for namespace in [release.agent_namespace, *release.target_namespaces]:
        assert api_key_in(admin, namespace, release) == rotated
    upgrade_rolls_out("--set", "launchConfig.queues={other-queue}")
    assert launch_config(admin, release)["queues"] == ["other-queue"]

    # Rollback: the first pod template again, so the first ReplicaSet becomes current.
    release.helm("rollback", release.name, "1", "--wait=false")
    assert launch_config(admin, release)["queues"] == ["local-queue"]
    assert api_key_in(admin, release.target_namespaces[0], release) == API_KEY
    eventually(
        lambda: deployment_replica_sets(admin, release).get(first_hash) == "4",
        "the first ReplicaSet to be the Deployment's revision 4",
    )

    release.helm("uninstall", release.name)
    release.uninstalled = True
    # Garbage collection (ReplicaSets, pods) and namespace deletion take a few seconds.
    until_empty(lambda: release_leftovers(admin, release), "objects of the uninstalled release", timeout=120)
