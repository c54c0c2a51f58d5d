"""An installed release: what the chart rendered for it, its agent Deployment, its status
(release, agent, pods, recent warnings, launch config), and that status as a table."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from wandb_launch.chartoutput import ChartOutput, Names
from wandb_launch.clusterref import ClusterRef
from wandb_launch.simulated import simulated_nodes

# Warnings older than this are history, not status.
EVENT_LIMIT = 10
# Up to this many namespaces, Warning events are listed namespace by namespace (less to read
# on a busy cluster); beyond, with one cluster-wide list when the caller may.
PER_NAMESPACE_EVENT_LISTS = 5


def rendered(helm: Any, ref: ClusterRef) -> ChartOutput:
    """The names and launch config the chart rendered for the release (its manifest)."""
    from wandb_launch import chartoutput, helmclient

    return chartoutput.from_docs(helmclient.release_manifest(helm, ref))


def agent_deployment(api: Any, names: Names) -> Any:
    """The agent's Deployment, or None when it is not there."""
    from kubernetes import client

    try:
        return client.AppsV1Api(api).read_namespaced_deployment(names.deployment, names.agent_namespace)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def collect_status(ref: ClusterRef, api: Any, helm: Any) -> dict[str, Any]:
    from kubernetes import client

    from wandb_launch import helmclient

    release = helmclient.release_status(helm, ref)
    values = helmclient.release_values(helm, ref)
    output = rendered(helm, ref)
    names, launch = output.names, output.launch_config
    agent_ns = names.agent_namespace
    targets = list(values.get("targetNamespaces") or [])
    core = client.CoreV1Api(api)
    deployment = agent_deployment(api, names)
    agent: dict[str, Any] = {"deployment": None}
    pods: list[dict[str, Any]] = []
    if deployment is not None:
        d = deployment
        containers = d.spec.template.spec.containers
        agent = {
            "deployment": d.metadata.name,
            "image": containers[0].image if containers else "",
            "serviceAccount": d.spec.template.spec.service_account_name,
            "replicas": d.spec.replicas or 0,
            "readyReplicas": d.status.ready_replicas or 0,
            "updatedReplicas": d.status.updated_replicas or 0,
            "conditions": [
                f"{c.type}={c.status}" + (f" ({c.reason})" if c.reason else "") for c in d.status.conditions or []
            ],
        }
        selector = ",".join(f"{k}={v}" for k, v in (d.spec.selector.match_labels or {}).items())
        for p in core.list_namespaced_pod(agent_ns, label_selector=selector).items:
            statuses = p.status.container_statuses or []
            waiting = [
                s.state.waiting.reason for s in statuses if s.state and s.state.waiting and s.state.waiting.reason
            ]
            pods.append(
                {
                    "name": p.metadata.name,
                    "phase": p.status.phase,
                    "ready": f"{sum(1 for s in statuses if s.ready)}/{len(p.spec.containers)}",
                    "restarts": sum(s.restart_count for s in statuses),
                    "reason": ", ".join(waiting) or (p.status.reason or ""),
                    "node": p.spec.node_name or "(unscheduled)",
                }
            )
        simulated = simulated_nodes(core, {p["node"] for p in pods})
        for pod in pods:
            pod["simulatedNode"] = pod["node"] in simulated
    events = warning_events(core, [agent_ns, *targets])
    found = agent_runs(api, names, targets)
    return {
        "release": {
            "name": release.get("name"),
            "namespace": release.get("namespace"),
            "revision": release.get("version"),
            "status": (release.get("info") or {}).get("status"),
            "chart": release.get("chartRef"),
            "appVersion": release.get("appVersion"),
        },
        "agent": {"namespace": agent_ns, **agent},
        "pods": pods,
        "queues": launch.get("queues", []),
        "entity": launch.get("entity", "(the API key's default)"),
        "maxJobs": launch.get("max_jobs"),
        "builder": launch.get("builder", {"type": "(none)"}),
        "environment": launch.get("environment"),
        "targetNamespaces": targets,
        "warnings": events,
        "stoppedRuns": stopped_runs(names),
        **found,
    }


def stopped_runs(names: Names) -> dict[str, Any]:
    """Whether a deleted agent Job takes its pods with it (the chart's MutatingAdmissionPolicy)."""
    if names.delete_pods_policy_rendered == "true":
        return {"deletePods": True, "policy": names.delete_pods_policy,
                "detail": "a stopped run's pods are deleted with its Job"}
    return {"deletePods": False, "policy": None,
            "detail": "a stopped run's pods keep running without their Job (no MutatingAdmissionPolicy: "
                      "stoppedRuns.deletePods is false, or the cluster does not serve it); `wandb-launch cleanup` removes them"}


def agent_runs(api: Any, names: Names, targets: list[str]) -> dict[str, Any]:
    """The Jobs the agent created and orphaned run pods (runs.py), or why they cannot be read."""
    from wandb_launch import runs

    try:
        return runs.collect(api, runs.Scope.of(names, targets))
    except runs.NotAllowed as e:
        return {"runs": [], "orphanedPods": [], "runsError": f"{e}: ask for list rights on jobs, pods and events there"}


def _warning_event_items(core: Any, namespaces: list[str]) -> list[Any]:
    """Warning events of these namespaces: beyond a few namespaces one cluster-wide list
    (filtered by the server to type=Warning, then to these namespaces here) when the caller
    may, else one list per namespace (1,001 requests for 1,000 targets)."""
    from kubernetes.client import ApiException

    wanted = list(dict.fromkeys(namespaces))
    if len(wanted) > PER_NAMESPACE_EVENT_LISTS:
        try:
            items = core.list_event_for_all_namespaces(field_selector="type=Warning").items
            keep = set(wanted)
            return [e for e in items if e.metadata.namespace in keep]
        except ApiException as e:
            if e.status != 403:
                raise
    items = []
    for ns in wanted:
        try:
            items += core.list_namespaced_event(ns, field_selector="type=Warning").items
        except ApiException:
            continue
    return items


def warning_events(core: Any, namespaces: list[str]) -> list[dict[str, Any]]:
    """The newest Warning events of these namespaces (Pod Security and RBAC denials show here)."""
    found = []
    for e in _warning_event_items(core, namespaces):
        when = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        obj = e.involved_object
        found.append(
            {
                "time": when.isoformat() if when else "",
                "namespace": e.metadata.namespace,
                "object": f"{(obj.kind or '').lower()}/{obj.name}",
                "reason": e.reason,
                "count": e.count or 1,
                "message": " ".join((e.message or "").split()),
                "kind": classify(e.reason or "", e.message or ""),
            }
        )
    found.sort(key=lambda e: e["time"], reverse=True)
    return found[:EVENT_LIMIT]


def classify(reason: str, message: str) -> str:
    """Name the denials people look for (Pod Security, a quota, RBAC)."""
    from wandb_launch.runs import classify as classify_denial

    kind = classify_denial(message)
    if kind in ("pod-security", "quota"):
        return kind
    if kind == "forbidden":
        return "rbac"
    return reason


def format_status(status: dict[str, Any]) -> str:
    from wandb_launch import output

    r, a, b = status["release"], status["agent"], status["builder"]
    ready = f"{a.get('readyReplicas', 0)}/{a.get('replicas', 0)}" if a.get("deployment") else "no Deployment found"
    builder = b.get("type", "")
    if b.get("destination"):
        builder += f" -> {b['destination']}"
    if b.get("build-context-store"):
        builder += f" (contexts {b['build-context-store']})"
    rows = [
        ("release", f"{r['name']} in {r['namespace']}: revision {r['revision']}, {r['status']}"),
        ("chart", f"{r['chart']} (app {r['appVersion']})"),
        ("agent", f"{a.get('deployment') or '-'} in {a['namespace']}, image {a.get('image', '-')}"),
        ("ready", ready + (f"  [{'; '.join(a.get('conditions', []))}]" if a.get("conditions") else "")),
        ("queues", ", ".join(status["queues"]) or "(none)"),
        ("entity", status["entity"]),
        ("builder", builder),
        ("targets", ", ".join(status["targetNamespaces"])),
    ]
    parts = [output.table(("", ""), rows).split("\n", 1)[1]]
    if status["pods"]:
        parts.append(
            output.table(
                ("POD", "PHASE", "READY", "RESTARTS", "NODE", "REASON"),
                [(p["name"], _phase(p), p["ready"], p["restarts"], p["node"], p["reason"]) for p in status["pods"]],
            )
        )
    else:
        parts.append("no agent pods")
    parts.append(_format_runs(status))
    if status["warnings"]:
        parts.append(
            output.table(
                ("WHEN", "NAMESPACE", "OBJECT", "KIND", "MESSAGE"),
                [(_ago(w["time"]), w["namespace"], w["object"], w["kind"], w["message"]) for w in status["warnings"]],
            )
        )
    else:
        parts.append("no warning events")
    return "\n\n".join(parts)


def _format_runs(status: dict[str, Any]) -> str:
    from wandb_launch import runs

    stopped = status["stoppedRuns"]
    lines = [f"stopped runs: {stopped['detail']}" + (f" (MutatingAdmissionPolicy {stopped['policy']})" if stopped["policy"] else "")]
    if status.get("runsError"):
        lines.append(f"runs: not readable: {status['runsError']}")
    else:
        lines.append(runs.format_runs(status["runs"]))
    if status["orphanedPods"]:
        lines += ["", f"orphaned pods of the agent's runs ({len(status['orphanedPods'])}): their Job is gone, "
                  "nothing will remove them; `wandb-launch cleanup` lists them, `--yes` deletes them",
                  runs.format_orphans(status["orphanedPods"])]
    return "\n".join(lines)


def _phase(pod: dict[str, Any]) -> str:
    from wandb_launch.controlplane.nodes import SIMULATED_NOTE

    return f"{pod['phase']} ({SIMULATED_NOTE})" if pod.get("simulatedNode") else pod["phase"]


def _ago(iso: str) -> str:
    if not iso:
        return "?"
    seconds = int((datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"
