"""What needs pods to reach phases: `helm install --wait` and `helm upgrade --wait` finish,
a key rotation rolls out, a drain moves the agent. On the local control plane the phases come
from KWOK's simulated nodes: the scheduler is real, the API server and controllers are real,
no container ran (every assertion about a pod being Running or Ready says so)."""

from __future__ import annotations

import json

import kubernetes.client
import pytest

from ..cluster.kube import eventually
from ..cluster.release import CHART, VALUES_DIR, Release

from wandb_launch.controlplane import SIMULATED_NOTE, is_simulated_node

pytestmark = pytest.mark.cluster

WAIT = ("--wait", "--timeout", "90s")


def agent_pods(admin, release: Release) -> list[kubernetes.client.V1Pod]:
    apps, core = kubernetes.client.AppsV1Api(admin), kubernetes.client.CoreV1Api(admin)
    deployment = apps.read_namespaced_deployment(release.deployment, release.agent_namespace)
    selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
    return core.list_namespaced_pod(release.agent_namespace, label_selector=selector).items


def ready(pod: kubernetes.client.V1Pod) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
    )


def where(admin, cluster, pod: kubernetes.client.V1Pod) -> str:
    """The pod's node, and whether its phase is simulated (said in every message)."""
    node = kubernetes.client.CoreV1Api(admin).read_node(pod.spec.node_name)
    simulated = is_simulated_node(node.metadata.annotations)
    assert simulated == cluster.simulated_nodes, f"node {node.metadata.name}: simulated={simulated}"
    return f"{pod.metadata.name} on {node.metadata.name}" + (f" ({SIMULATED_NOTE})" if simulated else "")


def available(admin, release: Release) -> bool:
    deployment = kubernetes.client.AppsV1Api(admin).read_namespaced_deployment(release.deployment, release.agent_namespace)
    return any(c.type == "Available" and c.status == "True" for c in deployment.status.conditions or [])


def replica_sets(admin, release: Release) -> dict[str, kubernetes.client.V1ReplicaSet]:
    apps = kubernetes.client.AppsV1Api(admin)
    return {
        rs.metadata.name: rs
        for rs in apps.list_namespaced_replica_set(release.agent_namespace).items
        if any(o.kind == "Deployment" and o.name == release.deployment for o in rs.metadata.owner_references or [])
    }


def test_install_and_upgrade_wait_for_the_rollout(cluster, admin, install_release) -> None:
    """`helm install --wait` returns once the agent Deployment is Available; a rotated API
    key (`helm upgrade --wait`) rolls out a new ReplicaSet that becomes Ready while the old
    one scales to 0."""
    release = install_release(VALUES_DIR / "local.yaml", helm_flags=WAIT)
    assert available(admin, release), "helm install --wait returned before the Deployment was Available"
    (pod,) = agent_pods(admin, release)
    assert ready(pod)
    print(f"agent Ready after helm install --wait: {where(admin, cluster, pod)}")
    (first,) = replica_sets(admin, release)

    release.helm("upgrade", release.name, str(CHART), "--reuse-values",
                 "--set", "apiKey.value=rotated-api-key-22222222222222222222222222222222", *WAIT)
    sets = replica_sets(admin, release)
    (second,) = set(sets) - {first}
    assert sets[second].status.ready_replicas == 1, f"new ReplicaSet {second} not Ready when helm returned"
    assert sets[first].spec.replicas == 0 and not sets[first].status.replicas, f"old ReplicaSet {first} still has pods"
    assert available(admin, release)
    (pod,) = eventually(lambda: [p for p in agent_pods(admin, release) if ready(p)] or None, "the new agent pod")
    assert pod.metadata.owner_references[0].name == second
    print(f"agent Ready after helm upgrade --wait (key rotated): {where(admin, cluster, pod)}")


def test_drain_with_a_disruption_budget_moves_the_agent(cluster, admin, install_release) -> None:
    """Cordon the agent's node and evict its pod through the eviction API, as `kubectl drain`
    does: the chart's PodDisruptionBudget (same namespace, maxUnavailable 1) allows it, and
    the Deployment brings the agent back on another node."""
    release = install_release(VALUES_DIR / "local.yaml", "podDisruptionBudget.enabled=true", helm_flags=WAIT)
    core, policy = kubernetes.client.CoreV1Api(admin), kubernetes.client.PolicyV1Api(admin)
    (pdb,) = policy.list_namespaced_pod_disruption_budget(release.agent_namespace).items
    eventually(lambda: (policy.read_namespaced_pod_disruption_budget(pdb.metadata.name, release.agent_namespace)
                        .status.disruptions_allowed == 1), "the disruption controller to allow one disruption")
    (pod,) = agent_pods(admin, release)
    node = pod.spec.node_name
    print(f"before the drain: {where(admin, cluster, pod)}")
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        core.create_namespaced_pod_eviction(pod.metadata.name, release.agent_namespace, {
            "apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": pod.metadata.name, "namespace": release.agent_namespace},
        })
        moved = eventually(
            lambda: [p for p in agent_pods(admin, release) if ready(p) and p.metadata.name != pod.metadata.name] or None,
            "the agent to come back on another node", timeout=60,
        )[0]
        assert moved.spec.node_name != node
        eventually(lambda: pod.metadata.name not in {p.metadata.name for p in agent_pods(admin, release)},
                   "the evicted pod to be gone")
        eventually(lambda: available(admin, release), "the Deployment to be Available again")
        print(f"after the drain of {node}: {where(admin, cluster, moved)}")
    finally:
        core.patch_node(node, {"spec": {"unschedulable": False}})


def test_status_says_a_phase_comes_from_a_simulated_node(cluster, admin, install_release, capsys) -> None:
    """`wandb-launch status` marks pods whose node is KWOK's: their phase is no run."""
    if not cluster.simulated_nodes:
        pytest.skip(f"the nodes of the {cluster.source} are real")
    from wandb_launch import cli

    release = install_release(VALUES_DIR / "local.yaml", helm_flags=WAIT)
    args = ["--kubeconfig", str(cluster.kubeconfig), "-n", "default", "--release", release.name]
    capsys.readouterr()
    assert cli.main(["status", "-o", "json", *args]) == 0
    (pod,) = json.loads(capsys.readouterr().out)["pods"]
    assert pod["phase"] == "Running" and pod["simulatedNode"] is True, pod
    assert cli.main(["status", *args]) == 0
    table = capsys.readouterr().out
    assert f"Running ({SIMULATED_NOTE})" in table, table
