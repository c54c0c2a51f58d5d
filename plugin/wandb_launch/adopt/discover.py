"""Which agents run in the cluster: releases of W&B's launch-agent chart, and Deployments
running the agent that no helm release made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wandb_launch.adopt import handapplied, official
from wandb_launch.clusterref import ClusterRef


@dataclass(frozen=True)
class Found:
    kind: str  # "release" or "deployment"
    namespace: str
    name: str
    detail: str  # the chart, or the image

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} ({self.detail})"


def official_releases(ref: ClusterRef) -> list[Found]:
    from wandb_launch import helmclient

    helm = helmclient.client(ref)
    releases = helmclient.run(helm._command.list(all_namespaces=True, include_failed=True))
    return [
        Found("release", r["namespace"], r["name"], r["chart"])
        for r in releases
        if official.chart_name(r.get("chart", "")) == official.CHART_NAME
    ]


def hand_applied(api: Any) -> list[Found]:
    found = []
    for d in handapplied.find_deployments(api):
        images = [c.get("image", "") for c in d["spec"]["template"]["spec"]["containers"] if handapplied.runs_agent(c)]
        found.append(Found("deployment", d["metadata"]["namespace"], d["metadata"]["name"], images[0]))
    return found


def agents(api: Any, ref: ClusterRef) -> list[Found]:
    return official_releases(ref) + hand_applied(api)
