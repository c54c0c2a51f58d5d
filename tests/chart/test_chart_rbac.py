"""The rendered RBAC grants, per namespace, exactly the agent's needs (files/agent-rbac.yaml)
that belong there: its own namespace, each target, the optional additional services and
extra rules, with Roles or one ClusterRole."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from wandb_launch.chartfiles import agent_needs

from .chartlib import API_KEY_PLACEHOLDER, CHART, helm_template, launch_config, objects_of, scenario_values

Permission = tuple[str, str, str]  # (api group, resource, verb)
NEEDS = agent_needs(CHART)


def needs_to_permissions(needs: Any) -> set[Permission]:
    return {
        (need.group, f"{need.resource}/{name}" if name else need.resource, verb)
        for need in needs
        for verb in need.verbs
        for name in need.names or ("",)
    }


def rules_to_permissions(rules: list[dict[str, Any]]) -> set[Permission]:
    """(group, resource, verb), with a rule's resourceNames in the resource (`secrets/<name>`)."""
    return {
        (group, f"{resource}/{name}" if name else resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames") or [""]
    }


def granted_per_namespace(docs: list[dict[str, Any]], subject: tuple[str, str]) -> dict[str, set[Permission]]:
    """What the service account (namespace, name) may do, per namespace, from the rendered bindings."""
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in objects_of(docs, "Role")}
    cluster_roles = {r["metadata"]["name"]: r for r in objects_of(docs, "ClusterRole")}
    granted: dict[str, set[Permission]] = defaultdict(set)
    for binding in objects_of(docs, "RoleBinding"):
        ns = binding["metadata"]["namespace"]
        subjects = {(s["namespace"], s["name"]) for s in binding["subjects"] if s["kind"] == "ServiceAccount"}
        if subject not in subjects:
            continue
        ref = binding["roleRef"]
        role = cluster_roles[ref["name"]] if ref["kind"] == "ClusterRole" else roles[(ns, ref["name"])]
        granted[ns] |= rules_to_permissions(role["rules"])
    return dict(granted)


def expected_per_namespace(values: dict[str, Any], agent_ns: str, builder: str) -> dict[str, set[Permission]]:
    """A target's needs in each target; the kaniko builds' in the agent namespace, only with
    kaniko; nothing at all in an agent namespace that is no target of a release without it."""
    target = needs_to_permissions(NEEDS.target_namespace)
    if values["rbac"]["additionalServices"]:
        target |= needs_to_permissions(NEEDS.additional_services)
    target |= rules_to_permissions(values["rbac"]["extraRules"])
    expected = {ns: set(target) for ns in values["targetNamespaces"]}
    if builder == "kaniko":
        expected.setdefault(agent_ns, set())
        expected[agent_ns] |= needs_to_permissions(NEEDS.agent_namespace)
    return expected


def agent_subject(docs: list[dict[str, Any]]) -> tuple[str, str]:
    (deployment,) = objects_of(docs, "Deployment")
    return deployment["metadata"]["namespace"], deployment["spec"]["template"]["spec"]["serviceAccountName"]


def test_rbac_is_exactly_the_needs(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    subject = agent_subject(docs)
    granted = granted_per_namespace(docs, subject)
    if not values["rbac"]["create"]:
        assert granted == {}
        assert not objects_of(docs, "Role") and not objects_of(docs, "ClusterRole")
        return
    builder = launch_config(docs)["builder"]["type"]
    assert granted == expected_per_namespace(values, subject[0], builder)


def test_no_cluster_wide_grant(docs: list[dict[str, Any]]) -> None:
    assert not objects_of(docs, "ClusterRoleBinding")
    for role in objects_of(docs, "Role") + objects_of(docs, "ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], role["metadata"]["name"]


def test_one_object_per_namespace_and_name(docs: list[dict[str, Any]]) -> None:
    """A target that is also the agent namespace gets no second Role, binding or secret."""
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))


def render(*args: str, release: str, namespace: str) -> list[dict[str, Any]]:
    result = helm_template(
        "--set",
        f"apiKey.value={API_KEY_PLACEHOLDER}",
        "--set",
        "launchConfig.queues={q}",
        "--set",
        "rbac.useClusterRole=true",
        "--set",
        "targetNamespaces={runs-a,runs-b}",
        *args,
        release=release,
        namespace=namespace,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_cluster_role_names_never_collide() -> None:
    """Cluster-scoped names carry the release namespace and name."""
    names = set()
    for release, namespace in [("agent", "team-a"), ("agent", "team-b"), ("other", "team-a")]:
        (cluster_role,) = objects_of(render(release=release, namespace=namespace), "ClusterRole")
        name = cluster_role["metadata"]["name"]
        assert namespace in name and release in name
        names.add(name)
    assert len(names) == 3


def test_cluster_role_mode_binds_per_namespace() -> None:
    docs = render(release="wandb-launch", namespace="wandb")
    bindings = {b["metadata"]["namespace"]: b["roleRef"]["kind"] for b in objects_of(docs, "RoleBinding")}
    assert bindings == {"runs-a": "ClusterRole", "runs-b": "ClusterRole"}, "noop builder: nothing in the agent namespace"
    docs = render("--set", "launchConfig.builder.type=kaniko", "--set", "launchConfig.builder.destination=registry.invalid/x",
                  "--set", "kaniko.pvc.create=true", release="wandb-launch", namespace="wandb")
    bindings = {b["metadata"]["namespace"]: b["roleRef"]["kind"] for b in objects_of(docs, "RoleBinding")}
    assert bindings == {"wandb": "Role", "runs-a": "ClusterRole", "runs-b": "ClusterRole"}
