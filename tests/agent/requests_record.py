"""What the agent asked of the Kubernetes API in each scenario, for the needs-table check
(test_zz_rbac_needs.py) and the docs table, and the project's table to compare it with."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .conftest import AgentInTheLoop

REPO = Path(__file__).resolve().parents[2]
RULES_TEMPLATE = REPO / "chart" / "templates" / "_helpers.tpl"


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
    """The project's RBAC needs table, per namespace role, as (group, resource, verb).

    The one place the comparison reads the table: today selfcheck's tuples; retarget here
    when they move into the shared data file."""
    from wandb_launch import selfcheck

    def flat(needs) -> set[tuple[str, str, str]]:
        return {(n.group, n.resource, verb) for n in needs for verb in n.verbs}

    return {"target": flat(selfcheck.TARGET_NAMESPACE_NEEDS), "agent": flat(selfcheck.AGENT_NAMESPACE_NEEDS)}


_KEPT = re.compile(r"^\s*kept in (target|agent) namespaces: (\w+) ([\w/]+)(?: \(([\w.]+)\))? - (.+)$")


def kept_unused_rights() -> dict[str, dict[tuple[str, str, str], str]]:
    """Rights the chart grants that no scenario used, with the reason each is kept, from the
    comment above the chart's RBAC rules (`kept in <role> namespaces: <verb> <resource> (<group>) - why`)."""
    kept: dict[str, dict[tuple[str, str, str], str]] = {"target": {}, "agent": {}}
    for line in RULES_TEMPLATE.read_text().splitlines():
        match = _KEPT.match(line)
        if match:
            role, verb, resource, group, why = match.groups()
            kept[role][(group or "", resource, verb)] = why
    return kept
