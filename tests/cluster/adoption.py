"""Helpers of the adoption tests: the old agents (W&B's launch-agent chart installed with
helm, the guide's manifests applied through the API), a stand-in for the kubelet that
marks pods ready, and what is left of an old agent afterwards."""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kubernetes.client
import kubernetes.utils
import pytest
import yaml
from kubernetes.client.rest import ApiException

from ..paths import GUIDE, OFFICIAL_CHART


def require_reference() -> None:
    """The official chart and the guide are test data outside the repository (tests/paths.py)."""
    missing = [str(p) for p in (OFFICIAL_CHART / "Chart.yaml", GUIDE) if not p.is_file()]
    if missing:
        pytest.skip(f"reference data not found ({', '.join(missing)}); set WANDB_LAUNCH_REFERENCE to its directory")


# --- the guide's manifests ------------------------------------------------------------------

# What the guide's manifests need before they describe an agent that can start, each fix with
# the text it changes. Without them they apply (the API server accepts every object) but:
GUIDE_FIXES: list[tuple[str, str, str]] = [
    (
        "the two RoleBindings of the RBAC block have no `---` between them: YAML keeps the second "
        "mapping's keys (kubectl too), so binding wandb-launch-role-binding (the agent's own "
        "namespace) is silently never created",
        "  apiGroup: rbac.authorization.k8s.io\n\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding",
        "  apiGroup: rbac.authorization.k8s.io\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding",
    ),
    (
        "the Deployment mounts ConfigMap wandb-launch-configmap, but the ConfigMap is named "
        "wandb-launch-agent-config: the pod never starts",
        "          configMap:\n            name: wandb-launch-configmap",
        "          configMap:\n            name: wandb-launch-agent-config",
    ),
    (
        "the image is the placeholder <latest-agent-release> (the API server accepts it; no node can pull it)",
        "image: <latest-agent-release>",
        "image: wandb/launch-agent:0.31.0",
    ),
]


def guide_blocks(fixed: bool) -> list[str]:
    """The YAML blocks of the guide that are manifests (not the queue-config example), in order."""
    text = GUIDE.read_text()
    if fixed:
        for _, old, new in GUIDE_FIXES:
            assert text.count(old) == 1, f"the guide changed: {old!r} not found once"
            text = text.replace(old, new)
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [b for b in blocks if "apiVersion:" in b]


def guide_manifests(agent_namespace: str, target: str, fixed: bool) -> list[dict[str, Any]]:
    """The guide's objects, moved from namespace `wandb` to `agent_namespace` (so tests do not
    share one), with `target` for its TODO training namespace (`default`), and its
    ClusterRole `job-creator` named after the agent namespace (it is cluster-wide)."""
    docs = [doc for block in guide_blocks(fixed) for doc in yaml.safe_load_all(block) if doc]
    cluster_role = f"job-creator-{agent_namespace}"
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] == "ClusterRole":
            meta["name"] = cluster_role
        if doc.get("roleRef", {}).get("kind") == "ClusterRole":
            doc["roleRef"]["name"] = cluster_role
        if doc["kind"] == "Namespace":
            meta["name"] = agent_namespace
        elif meta.get("namespace") == "wandb":
            meta["namespace"] = agent_namespace
        elif meta.get("namespace") == "default":
            meta["namespace"] = target
        for subject in doc.get("subjects") or []:
            subject["namespace"] = agent_namespace
    return docs


def apply(admin: kubernetes.client.ApiClient, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes.utils.create_from_dict(admin, doc)


def create_secret(
    admin: kubernetes.client.ApiClient, namespace: str, name: str, data: dict[str, str], type_: str = "Opaque"
) -> None:
    kubernetes.client.CoreV1Api(admin).create_namespaced_secret(
        namespace, {"metadata": {"name": name}, "type": type_, "stringData": data}
    )


def secret_data(admin: kubernetes.client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    import base64

    secret = kubernetes.client.CoreV1Api(admin).read_namespaced_secret(name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


# --- a stand-in for the kubelet ---------------------------------------------------------------


@contextmanager
def pods_marked_ready(admin: kubernetes.client.ApiClient, namespaces: list[str]) -> Iterator[list[str]]:
    """Mark every new pod of these namespaces Running and Ready through the status
    subresource, as an admin, standing in for the kubelet the local control plane lacks (the
    simulated nodes of issue 8 will do this). Yields the names of the pods it marked."""
    core = kubernetes.client.CoreV1Api(admin)
    stop = threading.Event()
    marked: list[str] = []

    def mark() -> None:
        while not stop.wait(0.3):
            for ns in namespaces:
                for pod in core.list_namespaced_pod(ns).items:
                    if pod.status.phase == "Running" or pod.metadata.deletion_timestamp:
                        continue
                    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
                    status = {
                        "phase": "Running",
                        "conditions": [
                            {"type": t, "status": "True", "lastTransitionTime": now}
                            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
                        ],
                        "containerStatuses": [
                            {
                                "name": c.name,
                                "image": c.image,
                                "imageID": "",
                                "ready": True,
                                "started": True,
                                "restartCount": 0,
                                "state": {"running": {"startedAt": now}},
                            }
                            for c in pod.spec.containers
                        ],
                    }
                    try:
                        core.patch_namespaced_pod_status(pod.metadata.name, ns, {"status": status})
                        marked.append(pod.metadata.name)
                    except ApiException as error:
                        if error.status != 404:
                            raise

    thread = threading.Thread(target=mark, daemon=True)
    thread.start()
    try:
        yield marked
    finally:
        stop.set()
        thread.join(timeout=10)


# --- what is left -------------------------------------------------------------------------


def existing(admin: kubernetes.client.ApiClient, refs: list[dict[str, str]]) -> list[str]:
    """Which of these objects ({kind, namespace, name}) still exist (and are not being deleted)."""
    from .kube import get_json

    paths = {
        "Deployment": "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps/{name}",
        "Secret": "/api/v1/namespaces/{namespace}/secrets/{name}",
        "ServiceAccount": "/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
        "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}",
        "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/{name}",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
        "PodDisruptionBudget": "/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}",
        "ReplicaSet": "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}",
        "Pod": "/api/v1/namespaces/{namespace}/pods/{name}",
        "Namespace": "/api/v1/namespaces/{name}",
    }
    left = []
    for ref in refs:
        try:
            obj = get_json(admin, paths[ref["kind"]].format(**ref))
        except ApiException as error:
            if error.status == 404:
                continue
            raise
        if not obj["metadata"].get("deletionTimestamp"):
            left.append(f"{ref['kind']} {ref.get('namespace', '')}/{ref['name']}")
    return left


def owned_pods_and_replica_sets(
    admin: kubernetes.client.ApiClient, namespace: str, deployment: str
) -> list[dict[str, str]]:
    """The ReplicaSets a Deployment owns and their pods (to check the garbage collector took them too)."""
    apps, core = kubernetes.client.AppsV1Api(admin), kubernetes.client.CoreV1Api(admin)
    refs = []
    for rs in apps.list_namespaced_replica_set(namespace).items:
        if any(o.kind == "Deployment" and o.name == deployment for o in rs.metadata.owner_references or []):
            refs.append({"kind": "ReplicaSet", "namespace": namespace, "name": rs.metadata.name})
            for pod in core.list_namespaced_pod(namespace).items:
                if any(
                    o.kind == "ReplicaSet" and o.name == rs.metadata.name for o in pod.metadata.owner_references or []
                ):
                    refs.append({"kind": "Pod", "namespace": namespace, "name": pod.metadata.name})
    return refs
