"""Runs of the SDK's own agent (wandb 0.31.0) on the chart's install: one release, one agent
process as its pod, the queue items of every scenario pushed at once (conftest.py `loop`),
one namespace per scenario.

Simulated, and said so in each test: the run pods' phases (KWOK: no container ran, so no
run trained) and what W&B hears from the runs themselves (a run's own wandb.init would set
its state; the test sets it in the fake W&B in the run's place). Real: the agent, its
requests, the API server's authorization and admission, the controllers.
"""

from __future__ import annotations

import time

import kubernetes.client
import pytest

from ..cluster.kube import events_for

from wandb_launch.controlplane import SIMULATED_NOTE

from .conftest import RUNS, describe_requests
from .requests_record import record_scenario

pytestmark = pytest.mark.cluster

def jobs(admin, namespace: str) -> list[kubernetes.client.V1Job]:
    return kubernetes.client.BatchV1Api(admin).list_namespaced_job(namespace).items


def pods(admin, namespace: str) -> list[kubernetes.client.V1Pod]:
    return kubernetes.client.CoreV1Api(admin).list_namespaced_pod(namespace).items


def test_a_run_completes_and_the_agent_sees_it_finish(loop, admin) -> None:
    """Job in a target namespace, its pod Succeeded (simulated: no container ran), the agent
    sees the Job finish and asks W&B whether the run called wandb.init; W&B does not know it
    yet, so the agent keeps the run's logs (list pods, get pods/log) and asks again; then W&B
    reports it finished (set here in the run's place) and the queue item stays acknowledged
    with no failure. (The TTL clean-up is checked last, test_the_completed_run_is_removed_by_its_ttl.)"""
    namespace, run_id = loop.namespaces["completes"], RUNS["completes"]
    item = loop.items["completes"]
    (job,) = loop.agent.wait_for(lambda: jobs(admin, namespace), "the run's Job")
    assert job.metadata.labels["wandb.ai/run-id"] == run_id
    assert job.spec.template.spec.containers[0].image == "registry.invalid/wl/train:1"
    loop.agent.wait_for(lambda: f"Job finished with ID: {job.metadata.name}" in loop.agent.log(),
                        f"the agent to see the Job finish ({SIMULATED_NOTE})")
    loop.agent.wait_for(lambda: [r for r in loop.requests() if r.namespace == namespace and r.resource_path == "pods/log"],
                        "the agent to fetch the run's logs while W&B does not know the run")
    reported = time.time()
    loop.fake.run(run_id).state = "finished"  # what the run's own wandb reports on exit
    loop.agent.wait_for(lambda: [r for r in loop.fake.requests if r.operation == "RunState"
                                 and r.variables.get("name") == run_id and r.time > reported],
                        "the agent to ask W&B again and find the run finished")
    assert item.state == "ACKED" and item.run_id == run_id, item
    assert not item.failures, item.failures
    print(f"run {run_id}: Job {job.metadata.name} finished ({SIMULATED_NOTE})")
    record_scenario("a run completes", loop, {namespace})


def test_a_run_stopped_from_wandb_loses_its_job(loop, admin) -> None:
    """W&B says stop: the agent deletes the Job. The pod (still Running: simulated) is
    orphaned by the API server's default for batch/v1 deletes; see the next test."""
    namespace, run_id = loop.namespaces["stopped"], RUNS["stopped"]
    (job,) = loop.agent.wait_for(lambda: jobs(admin, namespace), "the run's Job")
    loop.agent.wait_for(lambda: [p for p in pods(admin, namespace) if p.status.phase == "Running"],
                        f"the run's pod to be Running ({SIMULATED_NOTE})")
    loop.fake.run(run_id).stopped = True
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the agent to delete the stopped run's Job", timeout=60)
    deletes = [r for r in loop.requests() if r.namespace == namespace and r.verb == "delete" and r.resource == "jobs"]
    assert [(r.name, r.code) for r in deletes] == [(job.metadata.name, 200)]
    assert not loop.items["stopped"].failures
    record_scenario("a run is stopped from W&B", loop, {namespace})


@pytest.mark.xfail(strict=True, reason="issue 9: the agent deletes the Job with no propagation policy, "
                   "so batch/v1 orphans the pod and the stopped run keeps running")
def test_a_stopped_run_leaves_no_pod(loop, admin) -> None:
    namespace = loop.namespaces["stopped"]
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the stopped run's Job to be gone", timeout=60)
    left = [f"{p.metadata.name} ({p.status.phase}, owners: {[o.kind for o in p.metadata.owner_references or []]})"
            for p in pods(admin, namespace) if not p.metadata.deletion_timestamp]
    assert not left, f"pods of the stopped run still there: {left}"


def test_a_run_aimed_at_a_namespace_that_is_not_a_target_is_denied(loop, admin) -> None:
    """The agent may not create its API-key secret there: 403 on every try, the queue item
    is failed with the denial, and nothing is created in that namespace."""
    namespace = loop.namespaces["not-target"]
    item = loop.items["not-target"]
    loop.agent.wait_for(lambda: item.failures, "the queue item to be failed", timeout=90)
    (failure,) = item.failures
    assert failure["stage"] == "agent" and "forbidden" in failure["message"].lower(), failure
    attempts = [r for r in loop.requests() if r.namespace == namespace]
    assert attempts and all(r.code == 403 and r.decision == "forbid" for r in attempts), describe_requests(loop, {namespace})
    assert {(r.verb, r.resource) for r in attempts} == {("create", "secrets")}
    assert not jobs(admin, namespace) and not pods(admin, namespace)
    assert not kubernetes.client.CoreV1Api(admin).list_namespaced_secret(namespace, label_selector="wandb.ai/created-by").items
    print(f"denied {len(attempts)} times in {namespace}: {failure['message'][:160]}")
    record_scenario("a run aimed at a namespace that is not a target", loop, {namespace})


def test_a_run_in_a_restricted_namespace_never_starts_and_w_and_b_is_not_told(loop, admin) -> None:
    """The SDK's run pods meet `baseline`, not `restricted` (no runAsNonRoot): the Job is
    created, the job controller's pods are denied (FailedCreate events), the agent's run
    state stays unknown and W&B hears nothing (no failure, no warning on the queue item)."""
    namespace, run_id = loop.namespaces["restricted"], RUNS["restricted"]
    item = loop.items["restricted"]
    (job,) = loop.agent.wait_for(lambda: jobs(admin, namespace), "the run's Job")
    denials = loop.agent.wait_for(
        lambda: [e for e in events_for(admin, namespace, "Job") if e.startswith("FailedCreate") and "PodSecurity" in e],
        "FailedCreate events of the job controller")
    assert "restricted" in denials[0], denials
    assert not pods(admin, namespace)
    # Two of the agent's polling rounds (10 s each): still nothing reported.
    loop.agent.wait_for(lambda: sum(1 for r in loop.fake.requests if r.operation == "RunStoppedStatus"
                                    and r.variables.get("runId") == run_id) >= 2,
                        "two status rounds of the agent for the run", timeout=45)
    assert item.state == "ACKED" and not item.failures and not item.warnings, item
    assert f"Job finished with ID: {job.metadata.name}" not in loop.agent.log()
    record_scenario("a run into a namespace that enforces restricted", loop, {namespace})
    # Free the agent: stop the run from W&B, as its user eventually would.
    loop.fake.run(run_id).stopped = True
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the agent to delete the stuck run's Job", timeout=60)


def test_the_agent_is_the_chart_pod_as_the_api_server_sees_it(loop, admin) -> None:
    """Every request came as the chart's service account with a token bound to the agent
    pod; none was denied in the agent or a target namespace; W&B saw no unknown operation."""
    requests = loop.requests()
    assert requests, "no request of the agent's service account in the audit log"
    assert {r.pod for r in requests} == {loop.agent.pod.metadata.name}, "a request not made with the pod-bound token"
    denied = [r for r in requests if r.code == 403 and loop.role(r.namespace) in ("agent", "target")]
    assert not denied, describe_requests(loop)
    assert not loop.fake.unauthorized
    assert loop.fake.agent["hostname"] == loop.agent.pod.metadata.name  # the pod's hostname (UTS namespace)
    assert loop.fake.agent["version"] == "wandb@0.31.0"


def test_the_completed_run_is_removed_by_its_ttl(loop, admin) -> None:
    """Last in this file, so the SDK's default TTL (ttlSecondsAfterFinished 60) runs out while
    the other scenarios are checked: the TTL controller removes the finished Job, the garbage
    collector its pod."""
    namespace = loop.namespaces["completes"]
    loop.agent.wait_for(lambda: not jobs(admin, namespace) and not pods(admin, namespace),
                        "the TTL controller to remove the Job, and its pod with it", timeout=100)
    assert not loop.items["completes"].failures
