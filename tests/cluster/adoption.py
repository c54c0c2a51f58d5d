"""Helpers of the adoption tests: the old agents (W&B's launch-agent chart installed with
helm, the guide's manifests applied through the API), `adopt` run on them, and what is left
of an old agent afterwards. An `--apply` needs our agent's pod to become Ready, so the tests
that switch run on simulated nodes (tests/nodes, tests/agent); the plain control plane has
no node, and there the switch is seen to roll back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.utils
import pytest
import yaml
from kubernetes.client.rest import ApiException

from ..clirun import Outcome, run_cli
from ..paths import GUIDE, OFFICIAL_CHART
from .kube import create_namespace, delete_namespace, unique_name, until_empty
from .release import HELM_NAMESPACE


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


# --- the old agents -----------------------------------------------------------------------


class OfficialRelease:
    """A release of the official chart in an agent namespace of its own (made here: the chart
    does not create it), its release record in that namespace."""

    def __init__(self, cluster: Any, admin: kubernetes.client.ApiClient) -> None:
        self.cluster, self.admin = cluster, admin
        self.name = unique_name("la")
        self.namespace = create_namespace(admin, unique_name("official"), "baseline")
        self.ours = unique_name("adopted")
        self.namespaces = [self.namespace]

    def install(self, *args: str) -> None:
        self.cluster.helm(
            "install", self.name, str(OFFICIAL_CHART), "-n", self.namespace, "--set", f"namespace={self.namespace}", *args
        )

    def manifest_refs(self) -> list[dict[str, str]]:
        text = self.cluster.helm("get", "manifest", self.name, "-n", self.namespace).stdout
        refs = []
        for doc in yaml.safe_load_all(text):
            if doc:
                scoped = doc["kind"] not in ("ClusterRole", "ClusterRoleBinding")
                refs.append(
                    {
                        "kind": doc["kind"],
                        "namespace": doc["metadata"].get("namespace", self.namespace) if scoped else "",
                        "name": doc["metadata"]["name"],
                    }
                )
        return refs

    def adopt(self, *args: str) -> Outcome:
        return run_cli(
            "adopt", "--from-release", self.name, "--from-namespace", self.namespace,
            "--kubeconfig", str(self.cluster.kubeconfig), "-n", HELM_NAMESPACE, "--release", self.ours, *args,
        )

    def our_deployment(self) -> Any:
        (deployment,) = (
            kubernetes.client.AppsV1Api(self.admin)
            .list_namespaced_deployment(self.namespace, label_selector=f"app.kubernetes.io/instance={self.ours}")
            .items
        )
        return deployment

    def switch(self, values_out: Path, *args: str) -> dict[str, Any]:
        """`adopt --apply` (our agent's pod becomes Ready on a simulated node), then check that
        nothing of the old release is left: its objects, its agent's ReplicaSet and pod, its
        record. Returns the JSON report, with the command's whole output under "output"."""
        old_pods = owned_pods_and_replica_sets(self.admin, self.namespace, f"launch-agent-{self.name}")
        assert old_pods, "the official chart's agent has no pod to replace"
        old = self.manifest_refs()
        result = self.adopt(
            "--values-out", str(values_out), "--apply", "--settle", "2", "--timeout", "90s", "-o", "json", *args
        )
        assert result.code == 0, result.err
        report = json.loads(result.out)
        assert report["switch"]["leftovers"] == []
        # A secret whose name the SDK fixes was made again (the test checks it).
        remade = report["switch"]["remade"]
        old = [r for r in old if f"{r['kind']} {r['namespace']}/{r['name']}" not in remade]
        until_empty(lambda: existing(self.admin, old + old_pods), f"objects of release {self.name}")
        listed = self.cluster.helm("list", "-n", self.namespace, "-q").stdout.split()
        assert self.name not in listed
        report["output"] = result.out + result.err
        return report

    def cleanup(self) -> None:
        self.cluster.helm("uninstall", self.name, "-n", self.namespace, check=False)
        self.cluster.helm("uninstall", self.ours, "-n", HELM_NAMESPACE, check=False)
        for ns in self.namespaces:
            delete_namespace(self.admin, ns)


class GuideAgent:
    """The guide's manifests applied through the API server (moved to a namespace of their own,
    `target` for its TODO training namespace), and the secret its `kubectl create secret` makes.
    `edit` changes the docs before they are applied (a user filling the guide's TODOs)."""

    def __init__(
        self, cluster: Any, admin: kubernetes.client.ApiClient, fixed: bool, api_key: str,
        edit: Any = None,
    ) -> None:
        self.cluster, self.admin = cluster, admin
        self.namespace = unique_name("guide")
        self.target = create_namespace(admin, unique_name("guide-runs"), "baseline")
        self.docs = guide_manifests(self.namespace, self.target, fixed)
        if edit is not None:
            edit(self.docs)
        apply(admin, self.docs)
        # The guide's `kubectl create secret generic wandb-api-key --from-literal=password=...`.
        create_secret(admin, self.namespace, "wandb-api-key", {"password": api_key})
        self.release = unique_name("adopted")

    def adopt(self, *args: str) -> Outcome:
        return run_cli(
            "adopt", "--from-deployment", f"{self.namespace}/launch-agent",
            "--kubeconfig", str(self.cluster.kubeconfig), "-n", HELM_NAMESPACE, "--release", self.release, *args,
        )

    def refs(self, kind: str | None = None) -> list[dict[str, str]]:
        return [
            {"kind": d["kind"], "namespace": d["metadata"].get("namespace", ""), "name": d["metadata"]["name"]}
            for d in self.docs
            if kind is None or d["kind"] == kind
        ]

    def cleanup(self) -> None:
        self.cluster.helm("uninstall", self.release, "-n", HELM_NAMESPACE, check=False)
        rbac = kubernetes.client.RbacAuthorizationV1Api(self.admin)
        for ref in self.refs("ClusterRole"):
            try:
                rbac.delete_cluster_role(ref["name"])
            except ApiException:
                pass
        for ns in (self.namespace, self.target):
            delete_namespace(self.admin, ns)


@pytest.fixture
def official(cluster, admin) -> Iterator[Any]:
    """official() -> a new OfficialRelease (not installed yet); removed after the test."""
    require_reference()
    made: list[OfficialRelease] = []

    def make() -> OfficialRelease:
        made.append(OfficialRelease(cluster, admin))
        return made[-1]

    yield make
    for release in made:
        release.cleanup()
