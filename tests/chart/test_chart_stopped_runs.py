"""Issue 9, offline: the MutatingAdmissionPolicy that makes a deleted agent Job take its pods
with it (stoppedRuns.deletePods), and the Pod Security level of an agent namespace that is
also a target. What the policy does to the SDK's own agent is proven in tests/agent."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from .chartlib import API_KEY_PLACEHOLDER, helm_template, objects_of, one

# What `helm install` finds by discovery on a cluster that serves the API (Kubernetes 1.36+).
SERVED = ("--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy")
BASE = ("--set", f"apiKey.value={API_KEY_PLACEHOLDER}", "--set", "launchConfig.queues={q}")
POLICY_KINDS = {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}


def render(*args: str, release: str = "wl", namespace: str = "team") -> list[dict[str, Any]]:
    result = helm_template(*BASE, *args, release=release, namespace=namespace)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def refusal(*args: str) -> str:
    result = helm_template(*BASE, *args)
    assert result.returncode != 0, "the chart rendered values it should refuse"
    return result.stderr


def policy_kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {doc["kind"] for doc in docs} & POLICY_KINDS


def names(docs: list[dict[str, Any]]) -> dict[str, str]:
    for cm in objects_of(docs, "ConfigMap"):
        if "names.yaml" in cm.get("data", {}):
            return yaml.safe_load(cm["data"]["names.yaml"])
    raise AssertionError("no names ConfigMap")


@pytest.mark.parametrize(
    ("mode", "served", "rendered"),
    [
        ("auto", True, True),
        ("auto", False, False),  # an offline `helm template`, or a cluster older than 1.36
        ("true", False, True),  # forced: GitOps renders offline for a cluster that serves it
        ("false", True, False),
    ],
)
def test_the_policy_is_rendered_by_mode_and_capabilities(mode: str, served: bool, rendered: bool) -> None:
    docs = render("--set", f"stoppedRuns.deletePods={mode}", *(SERVED if served else ()))
    assert policy_kinds(docs) == (POLICY_KINDS if rendered else set())
    assert names(docs)["deletePodsPolicyRendered"] == ("true" if rendered else "")


def test_the_policy_adds_the_finalizer_to_the_agent_s_jobs_only() -> None:
    docs = render(*SERVED, "--set", "targetNamespaces={runs-a,runs-b,wandb}", "--set", "namespace.name=wandb",
                  "--set", "serviceAccount.name=launcher")
    policy, binding = one(docs, "MutatingAdmissionPolicy"), one(docs, "MutatingAdmissionPolicyBinding")
    spec = policy["spec"]
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["jobs"]}
    ]
    (condition,) = spec["matchConditions"]
    assert condition["expression"] == 'request.userInfo.username == "system:serviceaccount:wandb:launcher"'
    (mutation,) = spec["mutations"]
    assert mutation["patchType"] == "ApplyConfiguration"
    assert '"foregroundDeletion"' in mutation["applyConfiguration"]["expression"]
    assert spec["failurePolicy"] == "Fail"
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector["key"] == "kubernetes.io/metadata.name" and selector["operator"] == "In"
    # The agent namespace (kaniko build Jobs) and every target (run Jobs), each once.
    assert selector["values"] == ["wandb", "runs-a", "runs-b"]
    found = names(docs)
    assert found["deletePodsPolicy"] == policy["metadata"]["name"]
    assert found["deletePodsPolicyBinding"] == binding["metadata"]["name"]


def test_policy_objects_validate_and_never_collide_between_releases() -> None:
    seen = set()
    for release, namespace in [("agent", "team-a"), ("agent", "team-b"), ("other", "team-a")]:
        docs = render(*SERVED, release=release, namespace=namespace)
        for doc in docs:
            if doc["kind"] in POLICY_KINDS:
                kubernetes_validate.validate(doc, kubernetes_validate.utils.latest_version(), strict=True)
                assert "namespace" not in doc["metadata"], "cluster-scoped"
                assert release in doc["metadata"]["name"] and namespace in doc["metadata"]["name"]
                seen.add((doc["kind"], doc["metadata"]["name"]))
    assert len(seen) == 6


@pytest.mark.parametrize("bad", ["yes", "on", "enabled", "1"])
def test_a_bad_mode_is_refused_naming_the_key(bad: str) -> None:
    stderr = refusal("--set-string", f"stoppedRuns.deletePods={bad}")
    assert "at '/stoppedRuns/deletePods': value must be one of 'auto', true, false" in stderr, stderr


def test_a_typo_under_stopped_runs_is_refused() -> None:
    assert "additional properties 'deletePod' not allowed" in refusal("--set", "stoppedRuns.deletePod=true")


# --- Pod Security of a created agent namespace that is also a target -----------------------

CREATED = ("--set", "namespace.create=true", "--set", "namespace.name=wl-agent")


def enforced(*args: str) -> str:
    (namespace,) = objects_of(render(*CREATED, *args), "Namespace")
    return namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]


def test_an_agent_namespace_that_is_a_target_enforces_baseline() -> None:
    assert enforced("--set", "targetNamespaces={runs}") == "restricted", "noop builder, agent pod only"
    assert enforced("--set", "targetNamespaces={runs,wl-agent}") == "baseline", "run pods meet baseline only"
    assert enforced("--set", "targetNamespaces={wl-agent}", "--set", "namespace.podSecurity.enforce=privileged") == "privileged"


def test_restricted_on_an_agent_namespace_that_is_a_target_is_refused() -> None:
    stderr = refusal(*CREATED, "--set", "targetNamespaces={runs,wl-agent}", "--set", "namespace.podSecurity.enforce=restricted")
    assert (
        "wandb-launch: namespace.podSecurity.enforce is restricted but the agent namespace wl-agent is also in "
        "targetNamespaces" in stderr
    ), stderr
    assert "leave namespace.podSecurity.enforce empty (baseline) or remove wl-agent from targetNamespaces" in stderr
