"""What the agent asked of the Kubernetes API in each scenario, for the needs-table check
(test_zz_rbac_needs.py) and the docs table, and the project's table to compare it with."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..paths import CHART

if TYPE_CHECKING:
    from .conftest import AgentInTheLoop


class Call(NamedTuple):
    """One kind of request: verb, API group, resource[/subresource], namespace role, status."""

    verb: str
    group: str
    resource: str
    role: str  # agent, target, other, cluster
    code: int

    def right(self) -> tuple[str, str, str]:
        return (self.group, self.resource, self.verb)

    def __str__(self) -> str:
        group = f"{self.group}/" if self.group else ""
        return f"{self.verb} {group}{self.resource} ({self.role} namespace) -> {self.code}"


# scenario -> the kinds of request the agent made for it (filled as the scenarios run).
SCENARIOS: dict[str, set[Call]] = {}


def record_scenario(name: str, loop: AgentInTheLoop, namespaces: set[str]) -> set[Call]:
    """The agent's requests in these namespaces, and any in its own namespace or at cluster
    scope (made for whichever run), kept under the scenario's name."""
    calls = {
        Call(r.verb, r.group, r.resource_path, loop.role(r.namespace), r.code)
        for r in loop.requests()
        if r.namespace in namespaces or loop.role(r.namespace) in ("agent", "cluster")
    }
    SCENARIOS[name] = calls
    print(f"Kubernetes requests of the agent, scenario '{name}':", *sorted(map(str, calls)), sep="\n  ")
    return calls


def rbac_needs() -> dict[str, set[tuple[str, str, str]]]:
    """The project's RBAC needs table (chart/files/agent-rbac.yaml), per namespace role, as
    (group, resource, verb)."""
    from wandb_launch.chartfiles import agent_needs

    needs = agent_needs(CHART)

    def flat(table) -> set[tuple[str, str, str]]:
        return {(n.group, n.resource, verb) for n in table for verb in n.verbs}

    return {"target": flat(needs.target_namespace), "agent": flat(needs.agent_namespace)}


def kept_unused_rights() -> dict[str, dict[tuple[str, str, str], str]]:
    """Rights the chart grants that no scenario used, with the reason each is kept
    (`unusedInAgentScenarios` in chart/files/agent-rbac.yaml)."""
    import yaml

    listed = yaml.safe_load((CHART / "files" / "agent-rbac.yaml").read_text()).get("unusedInAgentScenarios") or {}
    return {
        role: {(r["group"], r["resource"], r["verb"]): r["why"] for r in listed.get(role) or []}
        for role in ("target", "agent")
    }
