"""RBAC, judged by the API server's own authorizer, acting as the agent's service account
(a TokenRequest token): every call the agent makes is allowed in each target namespace
and its own, and denied in a namespace that is not a target and at cluster scope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import kubernetes.client
import kubernetes.watch
import pytest
from kubernetes.client.rest import ApiException
from wandb_launch.chartfiles import agent_needs, helm_test_check

from ..paths import CHART, VALUES_DIR
from .kube import can_i, service_account_client

pytestmark = pytest.mark.cluster

# The agent's API calls: the chart's files/agent-rbac.yaml, as the checks read it.
NEEDS = agent_needs(CHART)
TARGET_NAMESPACE_NEEDS = NEEDS.target_namespace
AGENT_NAMESPACE_NEEDS = NEEDS.agent_namespace
ADDITIONAL_SERVICES_NEEDS = NEEDS.additional_services
# A kaniko builder with its build contexts on a PVC (no cloud): the agent namespace's needs.
KANIKO = ("launchConfig.builder.type=kaniko", "launchConfig.builder.destination=registry.invalid/wl/runs",
          "kaniko.pvc.create=true")
# A custom resource a queue config may launch (rbac.extraRules), e.g. a Volcano job.
VOLCANO_JOBS = helm_test_check(CHART).Need("batch.volcano.sh", "jobs", ("create", "get", "list", "watch", "delete"))


def calls(needs: Iterable[Any]) -> list[tuple[str, str, str, str]]:
    """(verb, group, resource, name): a need limited to names is asked about by name."""
    return [(verb, need.group, need.resource, name) for need in needs for verb in need.verbs for name in need.names or ("",)]


def verdicts(client, needs: Iterable[Any], namespace: str | None) -> dict[tuple[str, str, str, str], bool]:
    return {call: can_i(client, *call[:3], namespace, name=call[3]) for call in calls(needs)}


@pytest.fixture(params=[False, True], ids=["roles", "cluster-role"])
def use_cluster_role(request: pytest.FixtureRequest) -> bool:
    return request.param


def test_agent_may_do_what_it_needs_where_it_runs_and_nowhere_else(
    admin, install_release, make_namespace, use_cluster_role: bool
) -> None:
    release = install_release(
        VALUES_DIR / "local.yaml", f"rbac.useClusterRole={str(use_cluster_role).lower()}", *KANIKO, targets=2
    )
    elsewhere = make_namespace("not-a-target")
    with service_account_client(admin, release.agent_namespace, release.service_account) as agent:
        own = verdicts(agent, AGENT_NAMESPACE_NEEDS, release.agent_namespace)
        assert [call for call, allowed in own.items() if not allowed] == [], "denied in the agent namespace"
        # Kaniko's needs only: no run rights there (it is no target), and only one secret by name.
        runs_there = verdicts(agent, TARGET_NAMESPACE_NEEDS, release.agent_namespace)
        assert {call for call, allowed in runs_there.items() if allowed} <= set(calls(AGENT_NAMESPACE_NEEDS)), (
            "run rights in an agent namespace that is no target"
        )
        assert not can_i(agent, "get", "", "secrets", release.agent_namespace), "reads any secret of its namespace"
        for target in release.target_namespaces:
            in_target = verdicts(agent, TARGET_NAMESPACE_NEEDS, target)
            assert [call for call, allowed in in_target.items() if not allowed] == [], f"denied in target {target}"
        outside = verdicts(agent, AGENT_NAMESPACE_NEEDS, elsewhere)
        assert [call for call, allowed in outside.items() if allowed] == [], (
            "allowed in a namespace that is not a target"
        )
        cluster_wide = verdicts(agent, AGENT_NAMESPACE_NEEDS, None)
        assert [call for call, allowed in cluster_wide.items() if allowed] == [], "allowed at cluster scope"
        # The optional grants stay off unless asked for.
        extras = verdicts(agent, ADDITIONAL_SERVICES_NEEDS + (VOLCANO_JOBS,), release.target_namespaces[0])
        assert [call for call, allowed in extras.items() if allowed] == [], "granted more than the defaults"

        # The same verdicts hold for real calls, not only for access reviews.
        target = release.target_namespaces[0]
        batch, core = kubernetes.client.BatchV1Api(agent), kubernetes.client.CoreV1Api(agent)
        # The monitor's watch of Jobs (a watch request, no list: get/list jobs were dropped).
        for _ in kubernetes.watch.Watch().stream(batch.list_namespaced_job, target, timeout_seconds=1):
            pass
        core.list_namespaced_pod(target)
        secret = core.create_namespaced_secret(
            target, {"metadata": {"generateName": "probe-"}, "stringData": {"password": "x"}}
        )
        core.delete_namespaced_secret(secret.metadata.name, target)
        for forbidden in (lambda: core.list_namespaced_pod(elsewhere), lambda: core.list_pod_for_all_namespaces(),
                          lambda: batch.list_namespaced_job(target)):
            with pytest.raises(ApiException) as denied:
                forbidden()
            assert denied.value.status == 403


def test_optional_grants_apply_to_the_targets_only(admin, install_release, make_namespace) -> None:
    release = install_release(
        VALUES_DIR / "local.yaml",
        "rbac.additionalServices=true",
        "rbac.extraRules[0].apiGroups[0]=batch.volcano.sh",
        "rbac.extraRules[0].resources[0]=jobs",
        "rbac.extraRules[0].verbs={create,get,list,watch,delete}",
    )
    elsewhere = make_namespace("not-a-target")
    optional = ADDITIONAL_SERVICES_NEEDS + (VOLCANO_JOBS,)
    with service_account_client(admin, release.agent_namespace, release.service_account) as agent:
        in_target = verdicts(agent, optional, release.target_namespaces[0])
        assert [call for call, allowed in in_target.items() if not allowed] == []
        for namespace in (elsewhere, None):
            leaked = verdicts(agent, optional, namespace)
            assert [call for call, allowed in leaked.items() if allowed] == [], (
                f"allowed in {namespace or 'all namespaces'}"
            )


def test_without_kaniko_the_agent_namespace_grants_nothing(admin, install_release) -> None:
    """The noop builder builds nothing: the agent makes no request in its own namespace
    (tests/agent), so it gets no Role there unless it is a target."""
    release = install_release(VALUES_DIR / "local.yaml", targets=1)
    assert "Role" not in {doc["kind"] for doc in release.manifest() if doc["metadata"].get("namespace") == release.agent_namespace}
    with service_account_client(admin, release.agent_namespace, release.service_account) as agent:
        own = verdicts(agent, TARGET_NAMESPACE_NEEDS + AGENT_NAMESPACE_NEEDS, release.agent_namespace)
        assert [call for call, allowed in own.items() if allowed] == [], "rights in the agent namespace without kaniko"
