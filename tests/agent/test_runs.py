"""Runs of the SDK's own agent (wandb 0.31.0) on the chart's install: one release, one agent
process as its pod, the queue items of every scenario pushed at once (conftest.py `loop`),
one namespace per scenario.

Simulated, and said so in each test: the run pods' phases (KWOK: no container ran, so no
run trained) and what W&B hears from the runs themselves (a run's own wandb.init would set
its state; the test sets it in the fake W&B in the run's place). Real: the agent, its
requests, the API server's authorization and admission, the controllers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from ..clirun import Outcome, run_cli
from ..cluster.kube import events_for
from ..cluster.release import HELM_NAMESPACE
from ..paths import CHART

from wandb_launch.controlplane import SIMULATED_NOTE

from wandb_launch.controlplane.audit import read_requests

from .conftest import QUEUE, RUNS, describe_requests, run_spec
from ..cluster.limited_user import limited_user
from .requests_record import record_scenario

pytestmark = pytest.mark.cluster

# The run stopped after the policy was turned off (test_an_upgrade_turns_the_policy_off).
ORPHAN_RUN = "wlorphan1"

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
    assert "foregroundDeletion" in (job.metadata.finalizers or []), "the chart's policy did not mark the agent's Job"
    loop.agent.wait_for(lambda: [p for p in pods(admin, namespace) if p.status.phase == "Running"],
                        f"the run's pod to be Running ({SIMULATED_NOTE})")
    loop.fake.run(run_id).stopped = True
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the agent to delete the stopped run's Job", timeout=60)
    deletes = [r for r in loop.requests() if r.namespace == namespace and r.verb == "delete" and r.resource == "jobs"]
    assert [(r.name, r.code) for r in deletes] == [(job.metadata.name, 200)]
    assert not loop.items["stopped"].failures
    record_scenario("a run is stopped from W&B", loop, {namespace})


def test_a_stopped_run_leaves_no_pod(loop, admin) -> None:
    """The agent deletes the Job with no propagation policy, which for batch/v1 would orphan
    the pod; the chart's MutatingAdmissionPolicy gave the Job the foregroundDeletion finalizer
    when the agent created it, so the garbage collector deletes the pod with the Job."""
    namespace = loop.namespaces["stopped"]
    creates = [r for r in loop.requests() if r.namespace == namespace and r.verb == "create" and r.resource == "jobs"]
    assert [r.code for r in creates] == [201]
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the stopped run's Job to be gone", timeout=60)
    loop.agent.wait_for(lambda: not pods(admin, namespace), "the stopped run's pod to be deleted with its Job", timeout=30)


def test_an_upgrade_turns_the_policy_off(loop, admin) -> None:
    """stoppedRuns.deletePods=false (what a cluster without MutatingAdmissionPolicy gets): the
    upgrade removes the policy and its binding. A run is queued then, for the orphan test below."""
    release, fake = loop.release, loop.fake
    release.helm("upgrade", release.name, str(CHART), "--reuse-values", "--set", "stoppedRuns.deletePods=false")
    admission = kubernetes.client.AdmissionregistrationV1Api(admin)
    left = [p.metadata.name for p in admission.list_mutating_admission_policy().items if release.name in p.metadata.name]
    left += [b.metadata.name for b in admission.list_mutating_admission_policy_binding().items if release.name in b.metadata.name]
    assert not left, f"the upgrade left {left}"
    # The API server stops applying a deleted policy a moment later (its admission informer;
    # seconds on a loaded machine): wait for that, asking admission itself with a dry-run Job
    # as the agent's user (the admin impersonating it: the audit log keeps it apart from the
    # agent's own requests), before the run's Job is made.
    namespace = loop.namespaces["stopped"]
    with kubernetes.client.ApiClient(admin.configuration) as as_agent:
        as_agent.set_default_header("Impersonate-User", f"system:serviceaccount:{release.agent_namespace}:{release.service_account}")
        probe = {"metadata": {"generateName": "policy-probe-"},
                 "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
        loop.agent.wait_for(
            lambda: "foregroundDeletion" not in (
                kubernetes.client.BatchV1Api(as_agent).create_namespaced_job(namespace, probe, dry_run="All").metadata.finalizers or []),
            "admission to stop applying the removed policy", timeout=60)  # fmt: skip
    loop.items["orphan"] = fake.push(QUEUE, run_spec(loop.namespaces["stopped"], ORPHAN_RUN, keep_running=True))
    fake.run(ORPHAN_RUN).state = "running"


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
    assert_status_shows_the_stuck_run(loop, run_id, namespace)
    # Free the agent: stop the run from W&B, as its user eventually would (checked later, in
    # test_stuck_runs_stopped_from_wandb_leave_nothing, while other scenarios run).
    loop.fake.run(run_id).stopped = True


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


def status_of(loop, *args: str, kubeconfig: Path | None = None) -> Outcome:
    """`wandb-launch <args>` on the loop's release (in this process)."""
    return run_cli(*args, "--kubeconfig", str(kubeconfig or loop.release.cluster.kubeconfig),
                   "-n", HELM_NAMESPACE, "--release", loop.release.name)


def assert_status_shows_the_stuck_run(loop, run_id: str, namespace: str) -> None:
    """`status` lists the agent's Job of a run whose pods the API server denies, with the
    denial (which the agent never reported to W&B), in JSON, YAML and the table."""
    status = json.loads(status_of(loop, "status", "-o", "json").out)
    (row,) = [r for r in status["runs"] if r["runId"] == run_id]
    assert row["namespace"] == namespace and row["queue"] == QUEUE and row["kind"] == "run"
    assert row["pods"] == [] and row["stuck"]["kind"] == "pod-security", row
    assert row["stuck"]["reason"] == "FailedCreate" and 'PodSecurity "restricted' in row["stuck"]["message"]
    table = status_of(loop, "status").out
    assert "STUCK pod-security" in table and run_id in table, table
    (as_yaml,) = [r for r in yaml.safe_load(status_of(loop, "status", "-o", "yaml").out)["runs"] if r["runId"] == run_id]
    assert (as_yaml["job"], as_yaml["stuck"]["kind"]) == (row["job"], "pod-security")
    print(next(line for line in table.splitlines() if run_id in line))


def _unschedulable(pod: kubernetes.client.V1Pod) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in pod.status.conditions or [])


@pytest.mark.parametrize("scenario", ["quota", "unschedulable"])
def test_status_names_why_a_run_is_stuck(loop, admin, scenario: str) -> None:
    """The agent created the run's Job; then the API server refused its pod (an admin's
    ResourceQuota of no pods: FailedCreate events), or the scheduler finds no node for it (a
    nodeSelector no node matches: the pod stays Pending). `status` names the reason; what
    the agent itself told W&B is printed. Then the run is stopped from W&B to free the agent."""
    namespace, run_id = loop.namespaces[scenario], RUNS[scenario]
    item = loop.items[scenario]
    (job,) = loop.agent.wait_for(lambda: jobs(admin, namespace), "the run's Job", timeout=90)
    if scenario == "quota":
        loop.agent.wait_for(lambda: [e for e in events_for(admin, namespace, "Job")
                                     if e.startswith("FailedCreate") and "exceeded quota" in e], "FailedCreate events")
    else:
        loop.agent.wait_for(lambda: [p for p in pods(admin, namespace) if _unschedulable(p)],
                            "the scheduler to mark the pod unschedulable")
    status = json.loads(status_of(loop, "status", "-o", "json").out)
    (row,) = [r for r in status["runs"] if r["runId"] == run_id]
    assert row["job"] == job.metadata.name and row["queue"] == QUEUE
    assert row["stuck"] and row["stuck"]["kind"] == scenario, row
    if scenario == "quota":
        assert row["pods"] == [] and "exceeded quota" in row["stuck"]["message"]
    else:
        assert [(p["phase"], p["node"]) for p in row["pods"]] == [("Pending", "(unscheduled)")]
        assert "node affinity/selector" in row["stuck"]["message"] or "didn't match" in row["stuck"]["message"], row
    if scenario == "unschedulable":
        print(status_of(loop, "status").out)
    print(f"{scenario}: status says {row['stuck']}; W&B heard: failures {item.failures}, warnings "
          f"{[w.get('message') for w in item.warnings]}")
    assert item.state == "ACKED" and not item.failures, item
    record_scenario(f"a run stuck on {scenario}", loop, {namespace})
    loop.fake.run(run_id).stopped = True  # checked in test_stuck_runs_stopped_from_wandb_leave_nothing


def test_without_the_policy_a_stopped_run_is_orphaned_and_cleanup_removes_it(loop, admin, tmp_path) -> None:
    """Without the policy (upgraded above), a run stopped from W&B keeps its pod (Running,
    simulated) with no owner; `status` lists it as orphaned; `cleanup` as a user holding only
    the rights it states lists it (dry run: nothing deleted), then `--yes` deletes it."""
    release, fake = loop.release, loop.fake
    namespace, run_id = loop.namespaces["stopped"], ORPHAN_RUN
    (job,) = loop.agent.wait_for(lambda: [j for j in jobs(admin, namespace) if j.metadata.labels["wandb.ai/run-id"] == run_id],
                                 "the agent to create the run's Job", timeout=60)
    assert "foregroundDeletion" not in (job.metadata.finalizers or [])
    loop.agent.wait_for(lambda: [p for p in pods(admin, namespace) if p.status.phase == "Running"],
                        f"the run's pod to be Running ({SIMULATED_NOTE})")
    fake.run(run_id).stopped = True
    loop.agent.wait_for(lambda: not jobs(admin, namespace), "the agent to delete the stopped run's Job", timeout=60)
    (orphan,) = loop.agent.wait_for(lambda: [p for p in pods(admin, namespace) if not p.metadata.owner_references],
                                    "the garbage collector to orphan the pod", timeout=30)
    assert orphan.status.phase == "Running"

    status = json.loads(status_of(loop, "status", "-o", "json").out)
    assert status["stoppedRuns"]["deletePods"] is False
    (listed,) = [o for o in status["orphanedPods"] if o["runId"] == run_id]
    assert (listed["namespace"], listed["pod"], listed["queue"], listed["phase"]) == (
        namespace, orphan.metadata.name, QUEUE, "Running")
    assert listed["simulatedNode"] is True

    pod_rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]}]
    rules = {HELM_NAMESPACE: [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
             **{ns: pod_rules for ns in [*release.target_namespaces, release.agent_namespace]}}
    with limited_user(admin, release.cluster.kubeconfig, tmp_path, name=f"{release.name}-cleaner",
                      home=HELM_NAMESPACE, rules=rules) as (kubeconfig, user):
        dry = status_of(loop, "cleanup", "-o", "json", kubeconfig=kubeconfig)
        assert dry.code == 0, dry.err
        report = json.loads(dry.out)
        assert report["dryRun"] and [o["pod"] for o in report["orphanedPods"]] == [orphan.metadata.name]
        assert report["deleted"] == [] and [p.metadata.name for p in pods(admin, namespace)] == [orphan.metadata.name]
        done = status_of(loop, "cleanup", "--yes", kubeconfig=kubeconfig)
        assert done.code == 0, done.err
        assert "deleted 1 of 1 orphaned pods" in done.out, done.out
    loop.agent.wait_for(lambda: not pods(admin, namespace), "the orphaned pod to be deleted", timeout=30)
    requests = read_requests(loop.audit_log, user)
    # Non-resource requests (GET /version, the client's reachability check) every user may make.
    assert {r.uri.rstrip("/") for r in requests if not r.resource} <= {"/version"}, [r.uri for r in requests if not r.resource]
    made = {(r.verb, r.resource_path, r.namespace or "*", r.code) for r in requests if r.resource}
    allowed = {(verb, resource, ns) for verb, resource, ns, code in made if code < 400}
    stated = {("get", "secrets", HELM_NAMESPACE), ("list", "secrets", HELM_NAMESPACE),
              *{("list", "pods", ns) for ns in rules if ns != HELM_NAMESPACE}, ("delete", "pods", namespace)}
    assert allowed <= stated, f"cleanup used rights it does not state: {sorted(allowed - stated)}"
    # Refused and done without: the cluster-wide list (then per namespace), the optional node reads.
    assert {(v, r, ns) for v, r, ns, code in made if code == 403} <= {("list", "pods", "*"), ("get", "nodes", "*")}, made
    print(f"cleanup's requests: {sorted(made)}")


def test_stuck_runs_stopped_from_wandb_leave_nothing(loop, admin) -> None:
    """The restricted, quota and unschedulable runs were stopped from W&B in their tests: the
    agent deleted their Jobs (made while the policy was on), and the pending pod went with its Job."""
    for scenario in ("restricted", "quota", "unschedulable"):
        namespace = loop.namespaces[scenario]
        loop.agent.wait_for(lambda: not jobs(admin, namespace) and not pods(admin, namespace),
                            f"the agent to delete the stopped {scenario} run's Job, and any pod with it", timeout=60)


def test_the_completed_run_is_removed_by_its_ttl(loop, admin) -> None:
    """Last in this file, so the SDK's default TTL (ttlSecondsAfterFinished 60) runs out while
    the other scenarios are checked: the TTL controller removes the finished Job, the garbage
    collector its pod."""
    namespace = loop.namespaces["completes"]
    loop.agent.wait_for(lambda: not jobs(admin, namespace) and not pods(admin, namespace),
                        "the TTL controller to remove the Job, and its pod with it", timeout=100)
    assert not loop.items["completes"].failures
