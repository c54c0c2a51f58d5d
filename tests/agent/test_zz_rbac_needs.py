"""The agent's recorded Kubernetes requests against the project's RBAC needs table.

Runs after the scenarios of this directory (file order): every right the agent used must be
in the table, and every right of the table must be used or listed in the chart as kept, with
its reason. So a new call of a new SDK turns this red, and so does a kept right that a
scenario starts to use."""

from __future__ import annotations

import pytest

from .requests_record import SCENARIOS, kept_unused_rights, rbac_needs

EXPECTED_SCENARIOS = {
    "a run completes", "a run is stopped from W&B", "a run aimed at a namespace that is not a target",
    "a run into a namespace that enforces restricted", "a kaniko build with a PVC build context",
}


def test_the_fake_w_and_b_knew_every_operation(loop) -> None:
    """Every request of the agent (and its wandb-core) to W&B was one the fake answers."""
    assert not loop.fake.unknown, f"operations the fake W&B does not know: {loop.fake.unknown}"
    assert not loop.fake.unauthorized


def test_recorded_requests_equal_the_needs_table() -> None:
    missing = EXPECTED_SCENARIOS - set(SCENARIOS)
    if missing:
        pytest.skip(f"needs the scenarios of tests/agent in the same run; not recorded: {sorted(missing)}")
    needs, kept = rbac_needs(), kept_unused_rights()
    for role in ("target", "agent"):
        used = {call.right() for calls in SCENARIOS.values() for call in calls if call.role == role and call.code != 403}
        outside = used - needs[role]
        assert not outside, f"{role} namespace: the agent made requests the needs table lacks: {sorted(outside)}"
        unused = needs[role] - used
        assert unused == set(kept[role]), (
            f"{role} namespace: rights the scenarios did not use, against the chart's kept list:\n"
            f"  unused but not listed as kept: {sorted(unused - set(kept[role]))}\n"
            f"  listed as kept but used (or not in the table): {sorted(set(kept[role]) - unused)}"
        )
    for role in ("other", "cluster"):
        allowed = {call for calls in SCENARIOS.values() for call in calls if call.role == role and call.code != 403}
        assert not allowed, f"requests allowed outside the agent and target namespaces: {sorted(map(str, allowed))}"
