"""selfcheck.py's evaluation logic that needs no API server, and its standalone form."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from wandb_launch import selfcheck

from .conftest import REPO


def test_module_level_imports_are_standard_library_only() -> None:
    tree = ast.parse((REPO / "plugin/wandb_launch/selfcheck.py").read_text())
    modules = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


def test_runs_standalone_without_the_package_and_says_why_it_cannot_check() -> None:
    # As in the helm test pod: a bare file, no wandb_launch on the path, no service account.
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(REPO / "chart/files/selfcheck.py"),
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
    assert selfcheck.admits(enforce, pod_level) is admitted


def test_pod_security_per_namespace() -> None:
    labels = {
        "wandb": {selfcheck.ENFORCE_LABEL: "restricted"},  # kaniko builds need baseline
        "runs": {selfcheck.ENFORCE_LABEL: "baseline"},
        "strict": {selfcheck.ENFORCE_LABEL: "restricted"},
        "open": {},
        "gone": selfcheck.NAMESPACE_MISSING,
    }
    results = {
        r.namespace: r
        for r in selfcheck.check_pod_security(labels, "wandb", ["runs", "strict", "open", "gone"], "kaniko")
    }
    assert results["wandb"].status == "fail" and "kaniko build pods" in results["wandb"].detail
    assert results["wandb"].fix.endswith("pod-security.kubernetes.io/enforce=baseline")
    assert results["runs"].status == "ok"
    assert results["strict"].status == "fail" and "run pods" in results["strict"].detail
    assert results["open"].status == "ok" and "unlabelled" in results["open"].detail
    assert results["gone"].status == "fail"
    noop = selfcheck.check_pod_security({"wandb": {selfcheck.ENFORCE_LABEL: "restricted"}}, "wandb", [], "noop")
    assert noop[0].status == "ok", "the agent pod alone meets restricted"


def test_excess_probes_skip_what_additional_services_need() -> None:
    _, plain = selfcheck.rbac_probes("wandb", ["runs"], additional_services=False)
    _, extra = selfcheck.rbac_probes("wandb", ["runs"], additional_services=True)
    listing = selfcheck.Probe("runs", "", "secrets", "list")
    assert listing in [p for p, _ in plain]
    assert listing not in [p for p, _ in extra]
    assert selfcheck.Probe("", "", "secrets", "get") in [p for p, _ in plain], (
        "cluster-wide secret reads are always flagged"
    )


def test_launch_config_resolution_follows_the_agent() -> None:
    config, notes = selfcheck.resolve_launch_config({"queues": ["q"]}, {"WANDB_LAUNCH_MAX_JOBS": "3"})
    assert config["max_jobs"] == 3 and config["max_schedulers"] == 1 and config["builder"] == {}
    assert config["entity"] == selfcheck.PLACEHOLDER_ENTITY and notes
    config, notes = selfcheck.resolve_launch_config({"queues": ["q"], "entity": "file"}, {"WANDB_ENTITY": "env"})
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
    results = selfcheck.check_launch_config(config, {})
    assert results[0].status == "fail"
    assert any(problem in r.detail for r in results), [r.detail for r in results]


def test_format_table_shows_fix() -> None:
    text = selfcheck.format_table([selfcheck.Result("fail", "rbac", "ns", "may not get pods", "grant it")])
    assert text.splitlines()[1].split()[:3] == ["fail", "rbac", "ns"]
    assert "-> fix: grant it" in text
