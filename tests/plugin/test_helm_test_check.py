"""The chart's files/helm_test_check.py (the `helm test` pod's check, which `verify` runs
too): its logic that needs no API server, and its standalone form."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from wandb_launch.chartfiles import agent_needs, helm_test_check

from ..paths import CHART

check = helm_test_check(CHART)
CHECK_FILE = CHART / "files" / "helm_test_check.py"


def test_module_level_imports_are_standard_library_only() -> None:
    tree = ast.parse(CHECK_FILE.read_text())
    modules = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


def test_runs_standalone_without_the_package_and_says_why_it_cannot_check() -> None:
    # As in the helm test pod: a bare file, no wandb_launch on the path, no service account.
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(CHECK_FILE),
            "--agent-namespace",
            "wandb",
            "--target-namespaces",
            "a,b",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "selfcheck: error: KUBERNETES_SERVICE_HOST is not set: not running in a pod"


@pytest.mark.parametrize(
    ("enforce", "pod_level", "admitted"),
    [
        ("privileged", "baseline", True),
        ("baseline", "baseline", True),
        ("restricted", "baseline", False),
        ("restricted", "restricted", True),
        ("baseline", "restricted", True),
    ],
)
def test_admits(enforce: str, pod_level: str, admitted: bool) -> None:
    assert check.admits(enforce, pod_level) is admitted


def test_pod_security_per_namespace() -> None:
    labels = {
        "wandb": {check.ENFORCE_LABEL: "restricted"},  # kaniko builds need baseline
        "runs": {check.ENFORCE_LABEL: "baseline"},
        "strict": {check.ENFORCE_LABEL: "restricted"},
        "open": {},
        "gone": check.NAMESPACE_MISSING,
    }
    results = {
        r.namespace: r for r in check.check_pod_security(labels, "wandb", ["runs", "strict", "open", "gone"], "kaniko")
    }
    assert results["wandb"].status == "fail" and "kaniko build pods" in results["wandb"].detail
    assert results["wandb"].fix.endswith("pod-security.kubernetes.io/enforce=baseline")
    assert results["runs"].status == "ok"
    assert results["strict"].status == "fail" and "run pods" in results["strict"].detail
    assert results["open"].status == "ok" and "unlabelled" in results["open"].detail
    assert results["gone"].status == "fail"
    noop = check.check_pod_security({"wandb": {check.ENFORCE_LABEL: "restricted"}}, "wandb", [], "noop")
    assert noop[0].status == "ok", "the agent pod alone meets restricted"


def test_excess_probes_skip_what_additional_services_need() -> None:
    needs = agent_needs(CHART)
    _, plain = check.rbac_probes("wandb", ["runs"], needs, additional_services=False)
    _, extra = check.rbac_probes("wandb", ["runs"], needs, additional_services=True)
    listing = check.Probe("runs", "", "secrets", "list")
    assert listing in [p for p, _ in plain]
    assert listing not in [p for p, _ in extra]
    assert check.Probe("", "", "secrets", "get") in [p for p, _ in plain], (
        "cluster-wide secret reads are always flagged"
    )


def test_launch_config_resolution_follows_the_agent() -> None:
    config, notes = check.resolve_launch_config({"queues": ["q"]}, {"WANDB_LAUNCH_MAX_JOBS": "3"})
    assert config["max_jobs"] == 3 and config["max_schedulers"] == 1 and config["builder"] == {}
    assert config["entity"] == check.PLACEHOLDER_ENTITY and notes
    config, notes = check.resolve_launch_config({"queues": ["q"], "entity": "file"}, {"WANDB_ENTITY": "env"})
    assert config["entity"] == "env" and not notes


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"queue": "q"}, "queue: Extra inputs are not permitted"),
        ({"queues": ["q"], "environment": {"type": "local", "region": "x"}}, "environment.type"),
        ({"queues": ["q"], "environment": {"type": "azure"}}, "environment.region: Field required"),
        ({"queues": ["q"], "builder": {"type": "kaniko", "build-context-store": "ftp://x"}}, "build-context-store"),
        ({"queues": ["q"], "runner": {}}, "runner: Extra inputs are not permitted"),
    ],
)
def test_agent_config_refusals(config: dict, problem: str) -> None:
    results = check.check_launch_config(config, {})
    assert results[0].status == "fail"
    assert any(problem in r.detail for r in results), [r.detail for r in results]


def test_format_table_shows_fix() -> None:
    text = check.format_table([check.Result("fail", "rbac", "ns", "may not get pods", "grant it")])
    assert text.splitlines()[1].split()[:3] == ["fail", "rbac", "ns"]
    assert "-> fix: grant it" in text


def test_needs_come_from_the_chart_s_rbac_file() -> None:
    """One record of the agent's API calls: what the check asks about is what the Roles render."""
    import yaml

    rules = yaml.safe_load((CHART / "files" / "agent-rbac.yaml").read_text())
    needs = agent_needs(CHART)

    def permissions(found: tuple) -> set[tuple[str, str, str, str]]:
        return {(n.group, n.resource, v, name) for n in found for v in n.verbs for name in n.names or ("",)}

    def rule_permissions(section: str) -> set[tuple[str, str, str, str]]:
        return {
            (g, r, v, name)
            for rule in rules[section]
            for g in rule["apiGroups"]
            for r in rule["resources"]
            for v in rule["verbs"]
            for name in rule.get("resourceNames") or [""]
        }

    assert permissions(needs.target_namespace) == rule_permissions("target")
    assert permissions(needs.agent_namespace) == rule_permissions("agentNamespace")
    assert permissions(needs.additional_services) == rule_permissions("additionalServices")
    assert ("batch", "jobs", "create", "") in permissions(needs.target_namespace)
    assert ("", "configmaps", "create", "") not in permissions(needs.target_namespace)
    assert ("", "secrets", "get", "azure-storage-access-key") in permissions(needs.agent_namespace)


def test_needs_per_namespace_follow_the_builder_and_the_targets() -> None:
    """Targets get the run needs; the agent namespace the kaniko needs with kaniko only, and
    the run needs only when it is a target too; a named need is asked about by name."""
    needs = agent_needs(CHART)
    assert check.needs_for("wandb", "wandb", ["runs"], needs, False, kaniko=False) == ()
    assert check.needs_for("wandb", "wandb", ["runs"], needs, False, kaniko=True) == needs.agent_namespace
    assert check.needs_for("wandb", "wandb", ["wandb"], needs, True, kaniko=False) == (
        needs.target_namespace + needs.additional_services
    )
    assert check.needs_for("runs", "wandb", ["runs"], needs, False, kaniko=True) == needs.target_namespace
    needed, _ = check.rbac_probes("wandb", ["runs"], needs, additional_services=False, kaniko=True)
    named = [p for p in needed if p.name]
    assert named == [check.Probe("wandb", "", "secrets", "get", "azure-storage-access-key")]
    assert check.resource_attributes(named[0])["name"] == "azure-storage-access-key"
    no_kaniko, _ = check.rbac_probes("wandb", ["runs"], needs, additional_services=False)
    assert {p.namespace for p in no_kaniko} == {"runs"}


def test_api_key_secrets_use_the_names_given() -> None:
    """The check takes the chart's secret names; it never derives them from a release name."""
    secrets = {
        ("wandb", "mine"): {"data": {"token": "a2V5"}},
        ("runs", "wandb-api-key-prod"): {"data": {"password": "a2V5"}},
        ("other", "wandb-api-key-prod"): {"data": {"password": "b3RoZXI="}},
    }
    results = check.check_api_key_secrets(
        lambda ns, name: secrets.get((ns, name)),
        "wandb",
        ["runs", "other", "gone"],
        "wandb-api-key-prod",
        "mine",
        "token",
    )
    by_namespace = {r.namespace: r for r in results}
    assert by_namespace["wandb"].status == "ok" and "mine" in by_namespace["wandb"].detail
    assert by_namespace["runs"].status == "ok"
    assert by_namespace["other"].status == "fail" and "another key" in by_namespace["other"].detail
    assert by_namespace["gone"].status == "warn"
