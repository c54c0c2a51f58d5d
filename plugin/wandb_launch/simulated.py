"""Which nodes are simulated (KWOK): a phase on them was written by a simulator, no container
ran. Read by `status` (the agent's pods, the runs) and `cleanup`."""

from __future__ import annotations

from typing import Any


def simulated_nodes(core: Any, names: set[str]) -> set[str]:
    """Which of these nodes are KWOK's (their phases are written by a simulator: no container
    ran). Nodes that cannot be read (no rights, gone) count as real."""
    from kubernetes.client import ApiException

    from wandb_launch.controlplane.nodes import is_simulated_node

    found = set()
    for name in names:
        if name.startswith("("):  # "(unscheduled)"
            continue
        try:
            node = core.read_node(name)
        except ApiException:
            continue
        if is_simulated_node(node.metadata.annotations):
            found.add(name)
    return found
