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
    results = api_key_rows(secrets, ["runs", "other", "gone"], "mine", "token", run_secret="wandb-api-key-prod")
    by_namespace = {r.namespace: r for r in results}
    assert by_namespace["wandb"].status == "ok" and "mine" in by_namespace["wandb"].detail
    assert by_namespace["runs"].status == "ok"
    assert by_namespace["other"].status == "fail" and "another key" in by_namespace["other"].detail
    assert by_namespace["gone"].status == "warn"


# --- The report's rows, as a user reads them ---------------------------------------------


def api_key_rows(
    secrets: dict,
    targets: list[str],
    *agent_secret: str,
    run_secret: str = "wandb-api-key-r",
    forbidden: frozenset = frozenset(),
    reads: list[tuple[str, str]] | None = None,
) -> list:
    """The api-key rows of an agent in namespace wandb with these targets, its secrets read
    from plain data ((namespace, name) -> secret), the reads in `forbidden` refused, every
    read noted in `reads`. `agent_secret`: the agent's secret name and key, when not the run
    secret's."""

    def read(namespace: str, name: str):
        if reads is not None:
            reads.append((namespace, name))
        if (namespace, name) in forbidden:
            raise check.Forbidden(name)
        return secrets.get((namespace, name))

    return check.check_api_key_secrets(read, "wandb", targets, run_secret, *agent_secret)


def test_api_key_rows_when_the_agent_s_secret_is_missing() -> None:
    """The agent's own secret is gone: one fail row with the fix, and the runs' secrets are
    still checked (their key cannot be compared, so a present key is ok)."""
    secrets = {("runs", "wandb-api-key-r"): {"data": {"password": "a2V5"}}}
    assert api_key_rows(secrets, ["runs"]) == [
        check.Result(
            "fail",
            "api-key",
            "wandb",
            "secret wandb-api-key-r is missing",
            "install with --api-key-env VAR or create the secret",
        ),
        check.Result("ok", "api-key", "runs", "secret wandb-api-key-r is where runs read it"),
    ]


def test_api_key_rows_when_the_agent_s_secret_lacks_its_key() -> None:
    """The agent's secret exists without the key it reads (default `password`): fail; the
    runs' secrets then have nothing to be compared with."""
    secrets = {
        ("wandb", "wandb-api-key-r"): {"data": {"token": "a2V5"}},
        ("runs", "wandb-api-key-r"): {"data": {"password": "b3RoZXI="}},
    }
    assert api_key_rows(secrets, ["runs"]) == [
        check.Result(
            "fail",
            "api-key",
            "wandb",
            "secret wandb-api-key-r has no key 'password'",
            "set apiKey.existingSecretKey to the key that holds the API key",
        ),
        check.Result("ok", "api-key", "runs", "secret wandb-api-key-r is where runs read it"),
    ]


def test_api_key_rows_per_target_namespace() -> None:
    """Every outcome for a run secret, in the targets' order, none stopping the others: a
    refused read, a missing secret, one without `password`, another key, the same key.
    The agent's namespace is a target with the same secret: read once, one row."""
    secrets = {
        ("wandb", "wandb-api-key-r"): {"data": {"password": "a2V5"}},
        ("nokey", "wandb-api-key-r"): {"data": {"token": "a2V5"}},
        ("other", "wandb-api-key-r"): {"data": {"password": "b3RoZXI="}},
        ("same", "wandb-api-key-r"): {"data": {"password": "a2V5"}},
    }
    reads: list[tuple[str, str]] = []
    results = api_key_rows(
        secrets,
        ["locked", "gone", "wandb", "nokey", "other", "same"],
        forbidden=frozenset({("locked", "wandb-api-key-r")}),
        reads=reads,
    )
    assert results == [
        check.Result("ok", "api-key", "wandb", "secret wandb-api-key-r holds the agent's key"),
        check.Result(
            "fail",
            "api-key",
            "locked",
            "the agent may not read secret wandb-api-key-r",
            "grant secrets get in this namespace",
        ),
        check.Result(
            "warn", "api-key", "gone", "secret wandb-api-key-r is missing; the agent creates it at the first run"
        ),
        check.Result(
            "fail",
            "api-key",
            "nokey",
            "secret wandb-api-key-r has no key 'password'; runs fail",
            "kubectl -n nokey delete secret wandb-api-key-r (the agent recreates it)",
        ),
        check.Result(
            "fail",
            "api-key",
            "other",
            "secret wandb-api-key-r holds another key than the agent's; runs fail",
            "kubectl -n other delete secret wandb-api-key-r, then upgrade the release",
        ),
        check.Result("ok", "api-key", "same", "secret wandb-api-key-r is where runs read it"),
    ]
    assert reads.count(("wandb", "wandb-api-key-r")) == 1


def test_api_key_rows_when_the_agent_s_secret_is_not_readable() -> None:
    """`verify` run by a user who may not read the agent's secret: skipped, not failed; the
    agent's namespace is a target with its own run secret (another name), checked apart."""
    secrets = {("wandb", "wandb-api-key-r"): {"data": {"password": "a2V5"}}}
    assert api_key_rows(secrets, ["wandb"], "mine", "token", forbidden=frozenset({("wandb", "mine")})) == [
        check.Result("skip", "api-key", "wandb", "secret mine not readable here"),
        check.Result("ok", "api-key", "wandb", "secret wandb-api-key-r is where runs read it"),
    ]


@pytest.mark.parametrize("builder", ["kaniko", "noop"])
def test_pod_security_rows(builder: str) -> None:
    """One row per namespace, in order, none stopping the others: an unreadable namespace,
    a missing one, an unknown level, a level denying kaniko's and the runs' pods, a level
    admitting everything, an unlabelled namespace."""
    labels = {
        "hidden": None,
        "gone": check.NAMESPACE_MISSING,
        "typo": {check.ENFORCE_LABEL: "strict"},
        "wandb": {check.ENFORCE_LABEL: "restricted"},
        "runs": {check.ENFORCE_LABEL: "baseline"},
        "open": {"team": "ml"},
    }
    results = check.check_pod_security(labels, "wandb", ["hidden", "gone", "typo", "wandb", "runs", "open"], builder)
    if builder == "kaniko":
        agent_row = check.Result(
            "fail",
            "pod-security",
            "wandb",
            "enforce=restricted denies kaniko build pods and run pods (they meet baseline)",
            "kubectl label --overwrite ns wandb pod-security.kubernetes.io/enforce=baseline",
        )
    else:
        agent_row = check.Result(
            "fail",
            "pod-security",
            "wandb",
            "enforce=restricted denies run pods (they meet baseline)",
            "kubectl label --overwrite ns wandb pod-security.kubernetes.io/enforce=baseline",
        )
    assert results == [
        agent_row,
        check.Result(
            "skip", "pod-security", "hidden", "namespace not readable here", "run `wandb-launch verify` as an admin"
        ),
        check.Result(
            "fail",
            "pod-security",
            "gone",
            "namespace does not exist",
            "kubectl create namespace gone, or remove it from targetNamespaces",
        ),
        check.Result(
            "fail",
            "pod-security",
            "typo",
            "unknown enforce level 'strict'",
            "set pod-security.kubernetes.io/enforce to one of privileged, baseline, restricted",
        ),
        check.Result("ok", "pod-security", "runs", "enforce=baseline admits run pods"),
        check.Result("ok", "pod-security", "open", "unlabelled: privileged admits run pods"),
    ]


def test_pod_security_row_of_an_agent_namespace_that_admits_its_pods() -> None:
    results = check.check_pod_security({"wandb": {check.ENFORCE_LABEL: "baseline"}}, "wandb", ["wandb"], "kaniko")
    assert results == [
        check.Result("ok", "pod-security", "wandb", "enforce=baseline admits agent, kaniko build, run pods")
    ]


def test_launch_config_that_is_not_a_mapping() -> None:
    assert check.check_launch_config(["queues", "q"], {}) == [
        check.Result(
            "fail",
            "launch-config",
            "",
            "launch-config is not a mapping",
            "write launch-config.yaml as key: value pairs",
        )
    ]


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ({"queues": "q", "entity": "e"}, "launch-config: queues: Input should be a valid list"),
        # YAML `1: 2` makes an int key, which the SDK's AgentConfig(**config) refuses as such.
        ({1: 2, "queues": ["q"]}, "launch-config: keywords must be strings"),
    ],
)
def test_launch_config_refused_by_the_sdk(config: dict, detail: str) -> None:
    assert check.check_launch_config(config, {}) == [
        check.Result("fail", "launch-config", "", detail, "fix launchConfig in the values")
    ]


def test_launch_config_accepted_rows() -> None:
    """Accepted with an entity: no note; without one (or with no file at all): the note that
    the API key's default entity was stood in for."""
    with_entity = check.check_launch_config({"queues": ["q"], "entity": "team"}, {})
    assert with_entity == [check.Result("ok", "launch-config", "", "AgentConfig accepts it")]
    placeholder = (
        "AgentConfig accepts it (entity not set: the agent uses the API key's default entity"
        " (a placeholder was validated))"
    )
    assert check.check_launch_config({"queues": ["q"]}, {}) == [check.Result("ok", "launch-config", "", placeholder)]
    assert check.check_launch_config(None, {}) == [check.Result("ok", "launch-config", "", placeholder)]


def test_format_table_text() -> None:
    """The exact text of the pod's log: columns padded to their widest cell, two spaces
    apart, the fix after ' -> fix: ', nothing after a row's last character."""
    text = check.format_table(
        [
            check.Result("ok", "launch-config", "", "AgentConfig accepts it"),
            check.Result("fail", "api-key", "training", "secret s is missing", "create it"),
            check.Result("warn", "rbac", "ns", ""),
        ]
    )
    assert text == (
        "STATUS  CHECK          NAMESPACE  DETAIL\n"
        "ok      launch-config             AgentConfig accepts it\n"
        "fail    api-key        training   secret s is missing -> fix: create it\n"
        "warn    rbac           ns"
    )


def test_resource_attributes_of_probes() -> None:
    """What a (Self)SubjectAccessReview asks: a subresource apart, the namespace when there
    is one, the name when the need is limited to one object."""
    assert check.resource_attributes(check.Probe("runs", "", "pods/log", "get")) == {
        "group": "",
        "resource": "pods",
        "subresource": "log",
        "verb": "get",
        "namespace": "runs",
    }
    assert check.resource_attributes(check.Probe("", "rbac.authorization.k8s.io", "clusterrolebindings", "create")) == {
        "group": "rbac.authorization.k8s.io",
        "resource": "clusterrolebindings",
        "verb": "create",
    }
    assert check.resource_attributes(check.Probe("wandb", "", "secrets", "get", "azure-storage-access-key")) == {
        "group": "",
        "resource": "secrets",
        "verb": "get",
        "namespace": "wandb",
        "name": "azure-storage-access-key",
    }


def test_excess_probes_cover_every_namespace_and_secrets_outside() -> None:
    """Excess rights are asked in each namespace the agent works in, cluster-wide, and for
    secret reads in kube-system unless kube-system is one of its namespaces."""
    needs = agent_needs(CHART)
    _, excess = check.rbac_probes("wandb", ["runs"], needs, additional_services=False)
    wildcard = [p.namespace for p, _ in excess if p.resource == "*"]
    assert wildcard == ["wandb", "runs"]
    assert excess[-1] == (check.Probe("kube-system", "", "secrets", "get"), "reads secrets outside its namespaces")
    _, inside = check.rbac_probes("wandb", ["kube-system"], needs, additional_services=False)
    assert not [p for p, why in inside if why == "reads secrets outside its namespaces"]
    assert [p for p, _ in inside if p.namespace == "kube-system" and p.resource == "*"]


def test_needs_of_an_agent_namespace_that_is_a_target_with_kaniko() -> None:
    needs = agent_needs(CHART)
    assert check.needs_for("wandb", "wandb", ["wandb"], needs, False, kaniko=True) == (
        needs.target_namespace + needs.agent_namespace
    )
