"""What `install`/`upgrade` check on the cluster before helm applies anything.

- Pod Security of the target namespaces: a target that enforces a level the run pods do not
  meet (they meet `baseline`: the SDK sets no runAsNonRoot) gets a warning naming the
  namespace and the fix. The agent would create the run's Job, the job controller's pods
  would be denied, and W&B would hear nothing (`verify` fails for it too).
- stoppedRuns.deletePods: `true` on a cluster that does not serve MutatingAdmissionPolicy is
  refused (helm would fail half-way); when the policy will be rendered, the caller must be
  allowed to create it and its binding (cluster-scoped), else refused with the way out;
  `auto` on a cluster without the API gets a note on what that costs.
- rbac.useClusterRole (the default): the chart makes one ClusterRole, bound only in the
  targets. Creating a ClusterRole needs `create` on clusterroles and, by the API server's
  escalation check, either `escalate` on them or every right of the role cluster-wide; a
  caller without that is refused with the way out (a Role per target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wandb_launch.errors import InputError

POLICY_GROUP_VERSION = "admissionregistration.k8s.io/v1"
POLICY_RESOURCES = ("mutatingadmissionpolicies", "mutatingadmissionpolicybindings")
KEY = "stoppedRuns.deletePods"


def serves_policy_api(api: Any) -> bool:
    """Does the API server serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy?"""
    from wandb_launch import kube

    status, answer, _ = kube.request(api, "GET", f"/apis/{POLICY_GROUP_VERSION}")
    if status != 200 or not isinstance(answer, Mapping):
        return False
    return any(r.get("name") == POLICY_RESOURCES[0] for r in answer.get("resources") or [])


def may_create(api: Any, group: str, resource: str, verb: str = "create") -> bool:
    """The caller's own rights (SelfSubjectAccessReview), cluster-scoped."""
    from wandb_launch import kube

    plural, _, subresource = resource.partition("/")
    attributes = {"group": group, "resource": plural, "verb": verb}
    if subresource:
        attributes["subresource"] = subresource
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    status, answer, _ = kube.request(api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body)
    return status == 201 and bool((answer or {}).get("status", {}).get("allowed"))


def policy_outcome(mode: Any, served: bool, allowed: bool) -> tuple[bool, str | None]:
    """(the policy will be rendered, a note for the user). InputError when helm would fail."""
    if mode is True and not served:
        raise InputError(
            KEY,
            "is true but this cluster does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy "
            "(Kubernetes 1.36+), so helm would fail half-way",
            "set it to auto (the chart then leaves the policy out) or false",
        )
    rendered = mode is True or (mode == "auto" and served)
    if rendered and not allowed:
        raise InputError(
            KEY,
            "the chart installs a MutatingAdmissionPolicy and its binding (cluster-scoped) so that a stopped "
            "run's pods are deleted with its Job, and you may not create mutatingadmissionpolicies or "
            "mutatingadmissionpolicybindings",
            "install as a cluster admin, or set stoppedRuns.deletePods=false and remove orphaned run pods "
            "with `wandb-launch cleanup`",
        )
    if mode == "auto" and not served:
        return False, (
            "this cluster does not serve MutatingAdmissionPolicy (Kubernetes 1.36+): a run stopped from W&B "
            "keeps its pods running after the agent deletes its Job; `wandb-launch status` lists them, "
            "`wandb-launch cleanup --yes` deletes them"
        )
    return rendered, None


def target_pod_security_warnings(
    api: Any, agent_namespace: str, targets: Sequence[str], builder_type: str, agent_namespace_created: bool
) -> list[str]:
    """One line per target namespace whose enforced Pod Security level denies run pods;
    InputError for a target that does not exist."""
    from kubernetes import client

    from wandb_launch.chartfiles import helm_test_check

    check = helm_test_check()
    core = client.CoreV1Api(api)
    labels: dict[str, Any] = {}
    try:  # one request for any number of targets, when the caller may list namespaces
        existing: dict[str, Any] | None = {n.metadata.name: n.metadata.labels or {} for n in core.list_namespace().items}
    except client.ApiException:
        existing = None
    for ns in targets:
        if ns == agent_namespace and agent_namespace_created:
            continue  # the chart labels it (baseline when it is a target)
        if existing is not None:
            labels[ns] = existing.get(ns, check.NAMESPACE_MISSING)
            continue
        try:
            labels[ns] = core.read_namespace(ns).metadata.labels or {}
        except client.ApiException as e:
            labels[ns] = check.NAMESPACE_MISSING if e.status == 404 else None
    checked = [t for t in targets if t in labels]
    warnings = []
    for result in check.check_pod_security(labels, agent_namespace, checked, builder_type):
        if result.status != check.FAIL or result.namespace not in labels:
            continue
        if labels[result.namespace] == check.NAMESPACE_MISSING:
            raise InputError(
                "targetNamespaces",
                f"namespace {result.namespace} does not exist (the chart does not create targets; helm would fail half-way)",
                f"kubectl create namespace {result.namespace}, or remove it from targetNamespaces",
            )
        warnings.append(
            f"target namespace {result.namespace}: {result.detail}; runs there would never start and the agent "
            f"would not tell W&B; fix: {result.fix}"
        )
    return warnings


RBAC_GROUP = "rbac.authorization.k8s.io"


def cluster_role_rules(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(group, resource, verb) of every right the chart's ClusterRole holds, from the chart's
    files/agent-rbac.yaml and the values (additional services, extra rules)."""
    from wandb_launch.chartfiles import agent_needs

    rbac = values.get("rbac") or {}
    needs = agent_needs()
    rules = [(n.group, n.resource, v) for n in needs.target_namespace for v in n.verbs]
    if rbac.get("additionalServices"):
        rules += [(n.group, n.resource, v) for n in needs.additional_services for v in n.verbs]
    for rule in rbac.get("extraRules") or []:
        rules += [(g, r, v) for g in rule.get("apiGroups") or [""] for r in rule.get("resources") or []
                  for v in rule.get("verbs") or []]
    return rules


def cluster_role_refusal(api: Any, values: Mapping[str, Any], agent_namespace: str) -> InputError | None:
    """Why the caller cannot create the chart's ClusterRole, or None (also when none is rendered)."""
    rbac = values.get("rbac") or {}
    targets = list(values.get("targetNamespaces") or ["default"])
    # The chart's defaults: rbac.create and rbac.useClusterRole are true (chart/values.yaml).
    if not rbac.get("create", True) or not rbac.get("useClusterRole", True):
        return None
    if not [t for t in targets if t != agent_namespace]:
        return None  # no target besides the agent namespace: no ClusterRole
    fix = ("install as a cluster admin, or set rbac.useClusterRole=false (a Role and RoleBinding in each target "
           "namespace, which rights in the targets suffice for)")
    if not may_create(api, RBAC_GROUP, "clusterroles"):
        return InputError("rbac.useClusterRole", "the chart makes a ClusterRole (bound only in the target namespaces) "
                          "and you may not create clusterroles", fix)
    if may_create(api, RBAC_GROUP, "clusterroles", "escalate"):
        return None
    missing = [rule for rule in dict.fromkeys(cluster_role_rules(values)) if not may_create(api, rule[0], rule[1], rule[2])]
    if missing:
        group, resource, verb = missing[0]
        return InputError(
            "rbac.useClusterRole",
            f"the API server lets you create a ClusterRole only with rights you hold cluster-wide (or `escalate` on "
            f"clusterroles), and you may not {verb} {resource}{'.' + group if group else ''} in every namespace",
            fix,
        )
    return None


def check(api: Any, values: Mapping[str, Any], launch_config: Mapping[str, Any], names: Any) -> list[str]:
    """Warnings to show before helm runs; InputError for what would make helm fail."""
    targets = list(values.get("targetNamespaces") or ["default"])
    mode = (values.get("stoppedRuns") or {}).get("deletePods", "auto")
    created = bool((values.get("namespace") or {}).get("create"))
    builder = str((launch_config.get("builder") or {}).get("type") or "")
    warnings = target_pod_security_warnings(api, names.agent_namespace, targets, builder, created)
    served = serves_policy_api(api)
    will_render = mode is True or (mode == "auto" and served)
    allowed = will_render and all(may_create(api, "admissionregistration.k8s.io", r) for r in POLICY_RESOURCES)
    _, note = policy_outcome(mode, served, allowed or not will_render)
    if note:
        warnings.append(note)
    refused = cluster_role_refusal(api, values, names.agent_namespace)
    if refused is not None:
        raise refused
    return warnings
