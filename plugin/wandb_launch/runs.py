"""The agent's runs as Kubernetes holds them: the Jobs it created, what became of their pods,
why a stuck one is stuck, and run pods whose Job is gone (orphans).

The agent (wandb 0.31.0) tells W&B nothing when the API server denies a run's pods (Pod
Security, a quota) or the scheduler cannot place them: the run stays "unknown". This module
reads what the API server said instead. Which objects are the agent's:

- run Jobs carry `wandb.ai/run-id`, their pods `wandb.ai/monitor`; a release's runs read
  `WANDB_API_KEY` from its secret `wandb-api-key-<release>` (the SDK names it from
  WANDB_RELEASE_NAME), so two releases sharing a namespace stay apart;
- kaniko build Jobs and pods carry `wandb: launch`, run in the agent namespace, as the
  agent's service account.

Everything is listed cluster-wide with a label selector when the caller may (two requests
for any number of namespaces), else namespace by namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from wandb_launch.chartoutput import Names

RUN_ID_LABEL = "wandb.ai/run-id"
RUN_POD_LABEL = "wandb.ai/monitor=true"
BUILD_LABEL = "wandb=launch"
QUEUE_ENV = "WANDB_LAUNCH_QUEUE_NAME"
API_KEY_ENV = "WANDB_API_KEY"
# What `cleanup` needs, said in its help and its output (and proven in tests/agent with a
# service account that holds exactly these rights).
CLEANUP_RIGHTS = (
    "read the Helm release (helm's release secrets in the release namespace)",
    "list pods in the agent and target namespaces (cluster-wide when allowed, else per namespace)",
    "delete pods, with --yes, in the namespaces where orphans are found",
    "optional: get nodes, to mark phases written by simulated nodes (KWOK) as such",
)


class NotAllowed(Exception):
    """The API server refused a request the command needs: one line naming the right."""


@dataclass(frozen=True)
class Scope:
    """Where a release's agent works and how its objects are told apart."""

    agent_namespace: str
    target_namespaces: tuple[str, ...]
    api_key_secret: str
    service_account: str

    @classmethod
    def of(cls, names: Names, targets: Iterable[str]) -> Scope:
        return cls(names.agent_namespace, tuple(dict.fromkeys(targets)), names.api_key_secret, names.service_account)

    @property
    def namespaces(self) -> list[str]:
        return list(dict.fromkeys([*self.target_namespaces, self.agent_namespace]))

    def is_run(self, obj: Any, pod_spec: Any) -> bool:
        return obj.metadata.namespace in self.target_namespaces and _api_key_secret(pod_spec) == self.api_key_secret

    def is_build(self, obj: Any, pod_spec: Any) -> bool:
        return obj.metadata.namespace == self.agent_namespace and (
            (pod_spec.service_account_name or "default") == self.service_account
        )


def _api_key_secret(pod_spec: Any) -> str | None:
    for container in pod_spec.containers or []:
        for env in container.env or []:
            ref = env.value_from.secret_key_ref if env.name == API_KEY_ENV and env.value_from else None
            if ref is not None:
                return str(ref.name)
    return None


def _env(pod_spec: Any, name: str) -> str:
    for container in pod_spec.containers or []:
        for env in container.env or []:
            if env.name == name and env.value is not None:
                return str(env.value)
    return ""


def _list(api_call_all: Any, api_call_ns: Any, namespaces: Sequence[str], selector: str, what: str) -> list[Any]:
    """Items with the label selector in these namespaces: one cluster-wide list when allowed,
    else one list per namespace. NotAllowed names the namespace a list was refused in."""
    from kubernetes.client import ApiException

    wanted = set(namespaces)
    try:
        return [i for i in api_call_all(label_selector=selector).items if i.metadata.namespace in wanted]
    except ApiException as e:
        if e.status != 403:
            raise
    items: list[Any] = []
    for ns in namespaces:
        try:
            items += api_call_ns(ns, label_selector=selector).items
        except ApiException as e:
            if e.status == 403:
                raise NotAllowed(f"may not list {what} in namespace {ns}") from None
            if e.status != 404:
                raise
    return items


def list_pods(core: Any, scope: Scope) -> list[Any]:
    """The release's run pods (targets) and kaniko build pods (agent namespace)."""
    runs = _list(core.list_pod_for_all_namespaces, core.list_namespaced_pod, scope.target_namespaces, RUN_POD_LABEL, "pods")
    builds = _list(core.list_pod_for_all_namespaces, core.list_namespaced_pod, [scope.agent_namespace], BUILD_LABEL, "pods")
    return [p for p in runs if scope.is_run(p, p.spec)] + [p for p in builds if scope.is_build(p, p.spec)]


def list_jobs(batch: Any, scope: Scope) -> list[Any]:
    runs = _list(batch.list_job_for_all_namespaces, batch.list_namespaced_job, scope.target_namespaces, RUN_ID_LABEL, "jobs")
    builds = _list(batch.list_job_for_all_namespaces, batch.list_namespaced_job, [scope.agent_namespace], BUILD_LABEL, "jobs")
    return [j for j in runs if scope.is_run(j, j.spec.template.spec)] + [
        j for j in builds if scope.is_build(j, j.spec.template.spec)
    ]


def _owned_by_a_job(pod: Any) -> bool:
    return any(o.kind == "Job" and o.api_version.startswith("batch/") for o in pod.metadata.owner_references or [])


def orphans(pods: Iterable[Any]) -> list[Any]:
    """Pods with no Job owning them (not already being deleted). When a Job is deleted with
    the orphan policy (batch/v1's default), the garbage collector strips the pods' owner
    reference; a pod whose owner is merely gone is deleted by the collector itself."""
    return [p for p in pods if not _owned_by_a_job(p) and not p.metadata.deletion_timestamp]


def _age(when: datetime | None) -> str:
    if when is None:
        return "?"
    seconds = int((datetime.now(timezone.utc) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def classify(message: str) -> str:
    """Name the kinds of denial people look for."""
    lowered = message.lower()
    if "podsecurity" in lowered or "pod security" in lowered:
        return "pod-security"
    if "exceeded quota" in lowered or "for quota" in lowered:
        return "quota"
    if "forbidden" in lowered:
        return "forbidden"
    return "other"


def _pod_problem(pod: Any) -> tuple[str, str] | None:
    """(kind, message) of a pod that is not getting anywhere: unschedulable, or a container
    waiting on something that will not come by itself (image, config)."""
    status = pod.status
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason == "Unschedulable":
            return "unschedulable", " ".join((condition.message or "").split())
    for cs in status.container_statuses or []:
        waiting = cs.state.waiting if cs.state else None
        if waiting and waiting.reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            return "image", f"{waiting.reason}: {' '.join((waiting.message or '').split())}".rstrip(": ")
        if waiting and waiting.reason in ("CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff"):
            return "container", f"{waiting.reason}: {' '.join((waiting.message or '').split())}".rstrip(": ")
    return None


def _job_events(core: Any, job: Any) -> list[Any]:
    from kubernetes.client import ApiException

    selector = f"involvedObject.kind=Job,involvedObject.name={job.metadata.name},type=Warning"
    try:
        events = core.list_namespaced_event(job.metadata.namespace, field_selector=selector).items
    except ApiException:
        return []
    return sorted(events, key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp, reverse=True)


def describe_job(core: Any, job: Any, pods: Sequence[Any], simulated: set[str]) -> dict[str, Any]:
    """One row of the runs table: what the agent created and where it stands."""
    spec = job.spec.template.spec
    run_id = (job.metadata.labels or {}).get(RUN_ID_LABEL, "")
    build = not run_id
    if build:  # the SDK names it <build-job-name>-<run id>
        run_id = job.metadata.name.rsplit("-", 1)[-1]
    row: dict[str, Any] = {
        "namespace": job.metadata.namespace,
        "job": job.metadata.name,
        "kind": "build" if build else "run",
        "runId": run_id,
        "queue": _env(spec, QUEUE_ENV) or ("(kaniko build)" if build else ""),
        "created": job.metadata.creation_timestamp.isoformat() if job.metadata.creation_timestamp else "",
        "age": _age(job.metadata.creation_timestamp),
        "pods": [],
        "state": "",
        "stuck": None,
    }
    conditions = {c.type: c for c in job.status.conditions or [] if c.status == "True"}
    for pod in pods:
        node = pod.spec.node_name or ""
        row["pods"].append({
            "name": pod.metadata.name,
            "phase": pod.status.phase,
            "node": node or "(unscheduled)",
            "simulatedNode": node in simulated,
        })
    if job.metadata.deletion_timestamp:
        row["state"] = "deleting (its pods go with it)"
    elif "Complete" in conditions:
        row["state"] = "finished"
    elif "Failed" in conditions:
        failed = conditions["Failed"]
        row["state"] = "failed"
        row["stuck"] = {"kind": "failed", "reason": failed.reason or "", "message": " ".join((failed.message or "").split())}
    elif not pods:
        events = [e for e in _job_events(core, job) if e.reason == "FailedCreate"]
        if events:
            message = " ".join((events[0].message or "").split())
            row["state"] = "no pod"
            row["stuck"] = {"kind": classify(message), "reason": "FailedCreate", "message": message,
                            "count": events[0].count or 1}
        else:
            row["state"] = "no pod yet"
    else:
        problems = [(p, problem) for p in pods if (problem := _pod_problem(p))]
        row["state"] = "-"
        if problems:
            pod, (kind, message) = problems[0]
            row["stuck"] = {"kind": kind, "reason": pod.metadata.name, "message": message}
    return row


def _owner_job(pod: Any) -> tuple[str, str] | None:
    for owner in pod.metadata.owner_references or []:
        if owner.kind == "Job":
            return pod.metadata.namespace, owner.name
    return None


def describe_orphan(pod: Any, simulated: set[str]) -> dict[str, Any]:
    labels = pod.metadata.labels or {}
    node = pod.spec.node_name or ""
    return {
        "namespace": pod.metadata.namespace,
        "pod": pod.metadata.name,
        "uid": pod.metadata.uid,
        "kind": "build" if labels.get("wandb") == "launch" else "run",
        "runId": _env(pod.spec, "WANDB_RUN_ID") or labels.get("job-name", ""),
        "queue": _env(pod.spec, QUEUE_ENV),
        "job": labels.get("job-name", ""),
        "phase": pod.status.phase,
        "node": node or "(unscheduled)",
        "simulatedNode": node in simulated,
        "age": _age(pod.metadata.creation_timestamp),
    }


def collect(api: Any, scope: Scope, *, jobs: bool = True) -> dict[str, Any]:
    """{"runs": [...], "orphanedPods": [...]} for the release's scope. `jobs=False` skips the
    Jobs (and their events): what `cleanup` needs is the pods alone."""
    from kubernetes import client

    from wandb_launch.simulated import simulated_nodes

    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    pods = list_pods(core, scope)
    simulated = simulated_nodes(core, {p.spec.node_name for p in pods if p.spec.node_name})
    rows: list[dict[str, Any]] = []
    if jobs:
        by_job: dict[tuple[str, str], list[Any]] = {}
        for pod in pods:
            owner = _owner_job(pod)
            if owner:
                by_job.setdefault(owner, []).append(pod)
        for job in sorted(list_jobs(batch, scope), key=lambda j: (j.metadata.namespace, j.metadata.creation_timestamp)):
            rows.append(describe_job(core, job, by_job.get((job.metadata.namespace, job.metadata.name), []), simulated))
    return {"runs": rows, "orphanedPods": [describe_orphan(p, simulated) for p in orphans(pods)]}


def delete_orphans(api: Any, found: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delete these orphaned pods (each only if it is still the same pod: uid precondition).
    Returns the rows deleted; NotAllowed on the first refusal."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    deleted = []
    for row in found:
        body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=row["uid"]))
        try:
            core.delete_namespaced_pod(row["pod"], row["namespace"], body=body)
        except client.ApiException as e:
            if e.status == 403:
                raise NotAllowed(f"may not delete pods in namespace {row['namespace']}") from None
            if e.status in (404, 409):  # gone already, or a new pod of the same name
                continue
            raise
        deleted.append(row)
    return deleted


# --- table output ----------------------------------------------------------------------


def _phase(pod: dict[str, Any]) -> str:
    from wandb_launch.controlplane.nodes import SIMULATED_NOTE

    text = pod["phase"] or "?"
    return f"{text} ({SIMULATED_NOTE})" if pod.get("simulatedNode") else text


def format_runs(rows: Sequence[dict[str, Any]]) -> str:
    from wandb_launch import output

    if not rows:
        return "no Jobs of the agent in its namespaces"
    table = []
    for r in rows:
        phases = "; ".join(_phase(p) for p in r["pods"]) or "no pod"
        nodes = "; ".join(dict.fromkeys(p["node"] for p in r["pods"])) or "-"
        state = r["state"]
        if r["stuck"]:
            state = f"STUCK {r['stuck']['kind']}: {r['stuck']['message'] or r['stuck']['reason']}"
        table.append((r["namespace"], r["kind"], r["runId"], r["queue"], r["age"], phases, nodes, state))
    return output.table(("NAMESPACE", "KIND", "RUN", "QUEUE", "AGE", "POD PHASE", "NODE", "STATE"), table)


def format_orphans(rows: Sequence[dict[str, Any]]) -> str:
    from wandb_launch import output

    return output.table(
        ("NAMESPACE", "POD", "KIND", "RUN", "QUEUE", "AGE", "PHASE", "NODE"),
        [(o["namespace"], o["pod"], o["kind"], o["runId"], o["queue"], o["age"], _phase(o), o["node"]) for o in rows],
    )
