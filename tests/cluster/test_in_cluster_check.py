"""The `helm test` pod's check (chart/files/helm_test_check.py) run through its main(), in this
process, with a real service account's token against a real API server: every report row it
prints for installs that are right and for installs that are wrong in one way each.

The pod's own run (a process of its own, the standard library only) is in
test_plugin_commands.py; here main() runs in-process so that a mutation run
(`python -m mutation python --cluster-tests ...`, docs/testing.md) can tell which of the
check's mutants these tests kill. No test changes the two shared releases: a wrong install is
another namespace or another service account, made per test, so tests (and mutation runs of
two mutants at once) do not see each other's changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml
from kubernetes.client.rest import ApiException

from ..paths import CHART, VALUES_DIR
from .kube import create_namespace, delete_namespace, pod_service_account, unique_name
from .release import API_KEY, Release, install_args

pytestmark = pytest.mark.cluster

# Set by the mutation run, which starts one control plane for all its mutants: the shared
# releases stay installed after a session, and the next session (the next mutant) finds and
# reuses them instead of installing them again.
KEEP_RELEASES = "WANDB_LAUNCH_TEST_KEEP_RELEASES"


@dataclass(frozen=True)
class Install:
    """A release the check runs against, and its `helm test` pod's command line."""

    release: Release
    service_account: str
    pod_args: list[str]  # the pod's arguments after the script, --config left out
    launch_config: str


def _chart_digest(*values_args: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in CHART.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(CHART)).encode() + b"\0" + path.read_bytes())
    digest.update("\0".join(values_args).encode())
    return digest.hexdigest()[:6]


def _shared_install(cluster, admin, key: str, values_file: Path, *set_args: str, targets: int = 2) -> Iterator[Install]:
    """The chart installed with `values_file`, or found installed by an earlier session of a
    mutation run (same chart and values: same name)."""
    name = f"icc-{key}-{_chart_digest(str(values_file), *set_args)}"
    target_namespaces = [f"{name}-runs{i}" for i in range(targets)]
    agent_namespace = f"{name}-agent"
    release = Release(name, agent_namespace, target_namespaces, install_args(values_file, agent_namespace, target_namespaces, set_args), cluster)
    status = release.helm("status", name, "-o", "json", check=False)
    if status.returncode != 0 or json.loads(status.stdout)["info"]["status"] != "deployed":
        release.helm("uninstall", name, "--wait", check=False)
        for ns in target_namespaces:
            try:
                create_namespace(admin, ns, "baseline")
            except ApiException as error:
                if error.status != 409:
                    raise
        release.helm("install", name, str(CHART), *release.values_args)
    pod = release.test_pod()
    command = list(pod["spec"]["containers"][0]["command"])
    assert command[:2] == ["python3", "/opt/wandb-launch/helm_test_check.py"], command
    config_at = command.index("--config")
    pod_args = command[2:config_at] + command[config_at + 2 :]
    yield Install(release, pod["spec"]["serviceAccountName"], pod_args, release.launch_config())
    if not os.environ.get(KEEP_RELEASES):
        release.helm("uninstall", name, "--wait", check=False)
        for ns in [agent_namespace, *target_namespaces]:
            delete_namespace(admin, ns)


@pytest.fixture(scope="module")
def noop_install(cluster, admin) -> Iterator[Install]:
    """values/local.yaml: the noop builder, namespace-scoped Roles, no additional services."""
    yield from _shared_install(cluster, admin, "noop", VALUES_DIR / "local.yaml")


@pytest.fixture(scope="module")
def kaniko_install(cluster, admin) -> Iterator[Install]:
    """chart/ci/namespaced-rbac-values.yaml: kaniko builds in the agent's namespace, and the
    additional services' rights in the targets."""
    yield from _shared_install(cluster, admin, "kaniko", CHART / "ci" / "namespaced-rbac-values.yaml")


@dataclass
class Pod:
    """What the kubelet mounts in the test pod: its service-account directory (the environment
    it sets is set in this process)."""

    sa_dir: Path


@pytest.fixture
def as_pod(admin, tmp_path: Path, monkeypatch) -> Callable[..., Pod]:
    """as_pod(namespace, service_account, token=None) -> Pod: its token (or `token`) and the
    cluster's CA in a directory, KUBERNETES_SERVICE_HOST/PORT set in this process."""

    def make(namespace: str, service_account: str, token: str | None = None) -> Pod:
        sa_dir = tmp_path / f"sa-{unique_name('d')}"
        env = pod_service_account(admin, namespace, service_account, sa_dir, token)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Pod(sa_dir)

    return make


@pytest.fixture
def check() -> ModuleType:
    from wandb_launch.chartfiles import helm_test_check

    return helm_test_check(CHART)


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"launch-config-{unique_name('c')}.yaml"
    path.write_text(text)
    return path


def run_main(check: ModuleType, capsys, argv: list[str]) -> tuple[int, str, str]:
    code = check.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows_of(out: str) -> list[tuple[str, str, str, str, str]]:
    return [(r["status"], r["check"], r["namespace"], r["detail"], r["fix"]) for r in json.loads(out)]


def pod_argv(install: Install, pod: Pod, config: Path, *extra: str) -> list[str]:
    """The test pod's arguments (the chart's own), its launch config, and JSON output."""
    return [*install.pod_args, "--config", str(config), "--service-account-dir", str(pod.sa_dir), "--output", "json", *extra]



# --- The chart's own installs: every check passes ------------------------------------


def ok_rows(install: Install, rbac_calls: dict[str, int], excess: int, config_note: str = "") -> list[tuple[str, ...]]:
    """What the agent's token sees of a right install: it may not read namespaces (pod
    security is skipped) nor its own key secret, and every target holds the runs' key."""
    release = install.release
    agent, targets = release.agent_namespace, release.target_namespaces
    secret = f"wandb-api-key-{release.name}"
    rbac = []
    for ns in [agent, *targets]:
        role = "agent namespace" if ns == agent else "target namespace"
        calls = rbac_calls[ns]
        detail = (
            f"all {calls} API calls the agent makes here are allowed ({role})"
            if calls
            else f"the agent makes no API call here ({role}: no kaniko builds, no runs)"
        )
        rbac.append(("ok", "rbac", ns, detail, ""))
    return [
        ("ok", "launch-config", "", "AgentConfig accepts it" + config_note, ""),
        *rbac,
        ("ok", "rbac-excess", "*", f"none of {excess} rights beyond the agent's needs is held", ""),
        *[("skip", "pod-security", ns, "namespace not readable here", "run `wandb-launch verify` as an admin") for ns in [agent, *targets]],
        ("skip", "api-key", agent, f"secret {secret} not readable here", ""),
        *[("ok", "api-key", ns, f"secret {secret} is where runs read it", "") for ns in targets],
    ]  # fmt: skip


ENTITY_NOTE = " (entity not set: the agent uses the API key's default entity (a placeholder was validated))"


def test_a_noop_install_passes_every_check(noop_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    """values/local.yaml: 9 calls in each target (agent-rbac.yaml's target rules), none in
    the agent's namespace (no kaniko), and none of 6 x 3 + 5 + 1 excess rights."""
    release = noop_install.release
    pod = as_pod(release.agent_namespace, noop_install.service_account)
    config = _config_file(tmp_path, noop_install.launch_config)
    code, out, err = run_main(check, capsys, pod_argv(noop_install, pod, config))
    calls = {release.agent_namespace: 0, **{ns: 9 for ns in release.target_namespaces}}
    assert (code, err) == (0, "")
    assert rows_of(out) == ok_rows(noop_install, calls, 24)
    fields = ("status", "check", "namespace", "detail", "fix")
    assert out == json.dumps([dict(zip(fields, row)) for row in rows_of(out)], indent=2) + "\n"


def test_the_table_is_the_pods_log(noop_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    """Without --output the pod prints the table `helm test --logs` shows: the rows of the
    JSON report, in format_table's layout (pinned in tests/plugin/test_helm_test_check.py)."""
    release = noop_install.release
    pod = as_pod(release.agent_namespace, noop_install.service_account)
    argv = pod_argv(noop_install, pod, _config_file(tmp_path, noop_install.launch_config))
    _, json_out, _ = run_main(check, capsys, argv)
    code, out, err = run_main(check, capsys, argv[: argv.index("--output")])
    assert (code, err) == (0, "")
    assert out == check.format_table([check.Result(*row) for row in rows_of(json_out)]) + "\n"
    assert out.splitlines()[0].split() == ["STATUS", "CHECK", "NAMESPACE", "DETAIL"]


def test_a_kaniko_install_with_additional_services_passes(kaniko_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    """namespaced-rbac values: 8 calls in the agent's namespace (agent-rbac.yaml's
    agentNamespace rules), 9 + 14 in each target; `secrets list` is an additional services'
    need there, so it is no excess (22, not 24)."""
    release = kaniko_install.release
    assert "--additional-services" in kaniko_install.pod_args
    pod = as_pod(release.agent_namespace, kaniko_install.service_account)
    config = _config_file(tmp_path, kaniko_install.launch_config)
    code, out, err = run_main(check, capsys, pod_argv(kaniko_install, pod, config))
    calls = {release.agent_namespace: 8, **{ns: 23 for ns in release.target_namespaces}}
    assert (code, err) == (0, "")
    assert rows_of(out) == ok_rows(kaniko_install, calls, 22, ENTITY_NOTE)


def test_additional_services_rights_without_the_flag_are_excess(kaniko_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    """The same install checked as one without additional services: the targets' `secrets
    list` (which only those services need) is then a right beyond the agent's needs."""
    release = kaniko_install.release
    pod = as_pod(release.agent_namespace, kaniko_install.service_account)
    argv = pod_argv(kaniko_install, pod, _config_file(tmp_path, kaniko_install.launch_config))
    argv.remove("--additional-services")
    code, out, _ = run_main(check, capsys, argv)
    rows = rows_of(out)
    assert code == 1
    fix = "remove the binding that grants it (kubectl get rolebindings,clusterrolebindings -A -o wide)"
    why = "reads every secret in the namespace (it only needs its own by name)"
    assert [r for r in rows if r[1].startswith("rbac")] == [
        ("ok", "rbac", release.agent_namespace, "all 8 API calls the agent makes here are allowed (agent namespace)", ""),
        *[("ok", "rbac", ns, "all 9 API calls the agent makes here are allowed (target namespace)", "") for ns in release.target_namespaces],
        *[("fail", "rbac-excess", ns, f"may list secrets: {why}", fix) for ns in release.target_namespaces],
    ]  # fmt: skip


# --- Installs that are wrong in one way ------------------------------------------------


def test_kaniko_builds_on_a_noop_install_lack_rights(noop_install: Install, kaniko_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    """A kaniko launch config on an install whose Roles were made for noop: every call of a
    build in the agent's namespace is missing, one row per resource (names where RBAC
    limits them), each with the fix."""
    release = noop_install.release
    agent = release.agent_namespace
    pod = as_pod(agent, noop_install.service_account)
    code, out, _ = run_main(check, capsys, pod_argv(noop_install, pod, _config_file(tmp_path, kaniko_install.launch_config)))
    fix = f"grant it to the agent's service account in {agent}: add {agent} to targetNamespaces, keep rbac.create on"
    assert code == 1
    assert [r for r in rows_of(out) if r[1] == "rbac" and r[2] == agent] == [
        ("fail", "rbac", agent, "may not create,delete jobs.batch (agent namespace)", fix),
        ("fail", "rbac", agent, "may not get jobs/status.batch (agent namespace)", fix),
        ("fail", "rbac", agent, "may not list pods (agent namespace)", fix),
        ("fail", "rbac", agent, "may not get pods/log (agent namespace)", fix),
        ("fail", "rbac", agent, "may not create,delete configmaps (agent namespace)", fix),
        ("fail", "rbac", agent, "may not get secrets azure-storage-access-key (agent namespace)", fix),
    ]


def test_a_target_the_install_does_not_cover(noop_install: Install, as_pod, make_namespace, check, capsys, tmp_path: Path) -> None:
    """A namespace named as a target that the release has no Role in: every run call is
    missing there, and the agent may not read the runs' key secret in it."""
    release = noop_install.release
    extra = make_namespace("icc-extra", "baseline")
    pod = as_pod(release.agent_namespace, noop_install.service_account)
    argv = pod_argv(noop_install, pod, _config_file(tmp_path, noop_install.launch_config))
    argv[argv.index("--target-namespaces") + 1] += f",{extra}"
    code, out, _ = run_main(check, capsys, argv)
    fix = f"grant it to the agent's service account in {extra}: add {extra} to targetNamespaces, keep rbac.create on"
    secret = f"wandb-api-key-{release.name}"
    assert code == 1
    assert [r for r in rows_of(out) if r[2] == extra] == [
        ("fail", "rbac", extra, "may not create,watch,delete jobs.batch (target namespace)", fix),
        ("fail", "rbac", extra, "may not list,watch pods (target namespace)", fix),
        ("fail", "rbac", extra, "may not get pods/log (target namespace)", fix),
        ("fail", "rbac", extra, "may not create,get,delete secrets (target namespace)", fix),
        ("skip", "pod-security", extra, "namespace not readable here", "run `wandb-launch verify` as an admin"),
        ("fail", "api-key", extra, f"the agent may not read secret {secret}", "grant secrets get in this namespace"),
    ]


# --- An agent of the test's own: namespaces labelled and secrets set as a test needs -----

AGENT_RBAC = yaml.safe_load((CHART / "files" / "agent-rbac.yaml").read_text())
RUNS_KEY = "runs-key-of-this-agent-000000000000000000000000"
SECRET = "wandb-api-key-own"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class OwnAgent:
    """A service account with the chart's target rules (agent-rbac.yaml) in each target, read
    access to its own namespace's secrets and to namespaces (what `verify`'s admin sees),
    plus any extra rules a test grants."""

    namespace: str
    service_account: str
    targets: list[str]
    pod: Pod

    def argv(self, config: Path, *extra: str) -> list[str]:
        return [
            "--agent-namespace", self.namespace, "--target-namespaces", ",".join(self.targets),
            "--api-key-secret", SECRET, "--config", str(config),
            "--service-account-dir", str(self.pod.sa_dir), "--output", "json", *extra,
        ]  # fmt: skip


@pytest.fixture
def own_agent(admin, make_namespace, as_pod) -> Iterator[Callable[..., OwnAgent]]:
    """own_agent({target: (pod_security, secret data or None, extra rules)}, missing=(), cluster_rules=(), agent_rules=())"""
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    cluster_scoped: list[str] = []

    def bind(namespace: str, name: str, rules: list[dict[str, Any]], service_account: tuple[str, str]) -> None:
        subject = [{"kind": "ServiceAccount", "name": service_account[1], "namespace": service_account[0]}]
        rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": name}, "subjects": subject,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        })  # fmt: skip

    def make(targets: dict[str, tuple[str | None, dict[str, str] | None, list[dict[str, Any]]]],
             missing: tuple[str, ...] = (), cluster_rules: tuple[dict[str, Any], ...] = (),
             agent_rules: tuple[dict[str, Any], ...] = ()) -> OwnAgent:  # fmt: skip
        agent_namespace = make_namespace("icc-own", "restricted")
        sa = (agent_namespace, "launch-agent")
        core.create_namespaced_service_account(agent_namespace, {"metadata": {"name": sa[1]}})
        core.create_namespaced_secret(agent_namespace, {"metadata": {"name": SECRET}, "data": {"password": _b64(RUNS_KEY)}})
        bind(agent_namespace, "own-secrets", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, *agent_rules], sa)
        names = []
        for prefix, (pod_security, secret, extra_rules) in targets.items():
            ns = make_namespace(prefix, pod_security)
            names.append(ns)
            bind(ns, "agent", [*AGENT_RBAC["target"], *extra_rules], sa)
            if secret is not None:
                core.create_namespaced_secret(ns, {"metadata": {"name": SECRET}, "data": {k: _b64(v) for k, v in secret.items()}})
        names += [unique_name(prefix) for prefix in missing]
        role = unique_name("icc-own")
        cluster_scoped.append(role)
        rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}, *cluster_rules]
        rbac.create_cluster_role({"metadata": {"name": role}, "rules": rules})
        rbac.create_cluster_role_binding({
            "metadata": {"name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa[1], "namespace": sa[0]}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        })  # fmt: skip
        return OwnAgent(agent_namespace, sa[1], names, as_pod(*sa))

    yield make
    for name in cluster_scoped:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


NOOP_CONFIG = "entity: my-team\nqueues: [local-queue]\nbuilder: {type: noop}\n"


def test_pod_security_keys_and_excess_rights_as_an_admin_would_see_them(own_agent, check, capsys, tmp_path: Path) -> None:
    """Namespaces the agent may read, each wrong (or right) in one way: unlabelled, restricted
    (denies run pods), baseline, one that does not exist; the runs' key the same, another,
    under no 'password', missing; and rights beyond the agent's needs, in a target, cluster-wide
    and in kube-system."""
    exec_rule = {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
    agent = own_agent(
        {
            "icc-open": (None, {"password": RUNS_KEY}, [exec_rule]),
            "icc-strict": ("restricted", {"password": "another-key"}, []),
            "icc-base": ("baseline", {"token": RUNS_KEY}, []),
            "icc-empty": ("baseline", None, []),
        },
        missing=("icc-gone",),
        cluster_rules=(
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        ),
    )
    code, out, err = run_main(check, capsys, agent.argv(_config_file(tmp_path, NOOP_CONFIG)))
    open_, strict, base, empty, gone = agent.targets
    label = "pod-security.kubernetes.io/enforce"
    denied_fix = "remove the binding that grants it (kubectl get rolebindings,clusterrolebindings -A -o wide)"
    gone_fix = f"grant it to the agent's service account in {gone}: add {gone} to targetNamespaces, keep rbac.create on"
    assert (code, err) == (1, "")
    assert rows_of(out) == [
        ("ok", "launch-config", "", "AgentConfig accepts it", ""),
        ("ok", "rbac", agent.namespace, "the agent makes no API call here (agent namespace: no kaniko builds, no runs)", ""),
        *[("ok", "rbac", ns, "all 9 API calls the agent makes here are allowed (target namespace)", "") for ns in (open_, strict, base, empty)],
        ("fail", "rbac", gone, "may not create,watch,delete jobs.batch (target namespace)", gone_fix),
        ("fail", "rbac", gone, "may not list,watch pods (target namespace)", gone_fix),
        ("fail", "rbac", gone, "may not get pods/log (target namespace)", gone_fix),
        # The cluster-wide `secrets get` below covers get there too.
        ("fail", "rbac", gone, "may not create,delete secrets (target namespace)", gone_fix),
        ("fail", "rbac-excess", open_, "may create pods/exec: can run commands in any pod", denied_fix),
        ("fail", "rbac-excess", "*", "may get secrets: reads secrets in every namespace", denied_fix),
        ("fail", "rbac-excess", "*", "may list nodes: reads cluster nodes", denied_fix),
        ("fail", "rbac-excess", "kube-system", "may get secrets: reads secrets outside its namespaces", denied_fix),
        ("ok", "pod-security", agent.namespace, "enforce=restricted admits agent pods", ""),
        ("ok", "pod-security", open_, "unlabelled: privileged admits run pods", ""),
        ("fail", "pod-security", strict, "enforce=restricted denies run pods (they meet baseline)", f"kubectl label --overwrite ns {strict} {label}=baseline"),
        ("ok", "pod-security", base, "enforce=baseline admits run pods", ""),
        ("ok", "pod-security", empty, "enforce=baseline admits run pods", ""),
        ("fail", "pod-security", gone, "namespace does not exist", f"kubectl create namespace {gone}, or remove it from targetNamespaces"),
        ("ok", "api-key", agent.namespace, f"secret {SECRET} holds the agent's key", ""),
        ("ok", "api-key", open_, f"secret {SECRET} is where runs read it", ""),
        ("fail", "api-key", strict, f"secret {SECRET} holds another key than the agent's; runs fail", f"kubectl -n {strict} delete secret {SECRET}, then upgrade the release"),
        ("fail", "api-key", base, f"secret {SECRET} has no key 'password'; runs fail", f"kubectl -n {base} delete secret {SECRET} (the agent recreates it)"),
        ("warn", "api-key", empty, f"secret {SECRET} is missing; the agent creates it at the first run", ""),
        ("warn", "api-key", gone, f"secret {SECRET} is missing; the agent creates it at the first run", ""),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "agent_row", "other_key_row"),
    [
        (
            ["--agent-api-key-secret", "no-such-secret"],
            ("fail", "api-key", "no-such-secret is missing", "install with --api-key-env VAR or create the secret"),
            "ok",  # with the agent's key unknown, a target's key is not compared
        ),
        (
            ["--agent-api-key-secret-key", "api-key"],
            ("fail", "api-key", f"{SECRET} has no key 'api-key'", "set apiKey.existingSecretKey to the key that holds the API key"),
            "ok",
        ),
        (
            ["--agent-api-key-secret-key", "password"],
            ("ok", "api-key", f"{SECRET} holds the agent's key", ""),
            "fail",
        ),
    ],
    ids=["agent-secret-missing", "agent-secret-without-its-key", "agent-secret-right"],
)
def test_the_agents_own_key_secret(own_agent, check, capsys, tmp_path: Path, extra, agent_row, other_key_row) -> None:
    agent = own_agent({"icc-same": ("baseline", {"password": RUNS_KEY}, []), "icc-other": ("baseline", {"password": "x"}, [])})
    code, out, _ = run_main(check, capsys, agent.argv(_config_file(tmp_path, NOOP_CONFIG), *extra))
    rows = [r for r in rows_of(out) if r[1] == "api-key"]
    status, _, detail, fix = agent_row
    same, other = agent.targets
    assert rows[0] == (status, "api-key", agent.namespace, f"secret {detail}", fix)
    assert rows[1] == ("ok", "api-key", same, f"secret {SECRET} is where runs read it", "")
    assert rows[2][:3] == (other_key_row, "api-key", other) and len(rows) == 3
    assert code == (1 if "fail" in (status, other_key_row) else 0)


def test_an_agent_namespace_that_is_a_target_is_checked_once_for_the_key(own_agent, check, capsys, tmp_path: Path) -> None:
    """Runs in the agent's own namespace read the same secret the agent does: one row."""
    agent = own_agent({"icc-t": ("baseline", {"password": RUNS_KEY}, [])})
    argv = agent.argv(_config_file(tmp_path, NOOP_CONFIG))
    argv[argv.index("--target-namespaces") + 1] = f"{agent.namespace},{agent.targets[0]}"
    code, out, _ = run_main(check, capsys, argv)
    assert [r for r in rows_of(out) if r[1] == "api-key"] == [
        ("ok", "api-key", agent.namespace, f"secret {SECRET} holds the agent's key", ""),
        ("ok", "api-key", agent.targets[0], f"secret {SECRET} is where runs read it", ""),
    ]
    # The agent namespace as a target needs the run rights there, which this agent lacks.
    assert code == 1 and ("fail", "rbac", agent.namespace) in {r[:3] for r in rows_of(out)}


def test_the_defaults_are_the_pods(own_agent, check, capsys, tmp_path: Path, monkeypatch) -> None:
    """Without the optional flags: the launch config at ~/.config/wandb/launch-config.yaml, the
    agent-rbac.yaml next to the script, the agent's key in the runs' secret under 'password',
    and the table. The same rows as with every flag given."""
    agent = own_agent({"icc-t": ("baseline", {"password": RUNS_KEY}, [])})
    home = tmp_path / "home"
    (home / ".config" / "wandb").mkdir(parents=True)
    (home / ".config" / "wandb" / "launch-config.yaml").write_text(NOOP_CONFIG)
    monkeypatch.setenv("HOME", str(home))
    argv = agent.argv(home / ".config" / "wandb" / "launch-config.yaml")
    _, full, _ = run_main(check, capsys, [*argv, "--rbac-needs", str(CHART / "files" / "agent-rbac.yaml"),
                                          "--agent-api-key-secret", SECRET, "--agent-api-key-secret-key", "password"])  # fmt: skip
    assert "holds the agent's key" in full
    bare = [a for a in argv if a not in ("--config", str(home / ".config" / "wandb" / "launch-config.yaml"))]
    code, out, err = run_main(check, capsys, bare[: bare.index("--output")])
    assert (code, err) == (0, "")
    assert out == check.format_table([check.Result(*row) for row in rows_of(full)]) + "\n"


def test_without_the_secret_name_the_key_check_is_skipped(own_agent, check, capsys, tmp_path: Path) -> None:
    agent = own_agent({"icc-t": ("baseline", {"password": RUNS_KEY}, [])})
    argv = agent.argv(_config_file(tmp_path, NOOP_CONFIG))
    del argv[argv.index("--api-key-secret") : argv.index("--api-key-secret") + 2]
    code, out, _ = run_main(check, capsys, argv)
    assert code == 0
    assert [r for r in rows_of(out) if r[1] == "api-key"] == [
        ("skip", "api-key", agent.namespace, "API-key secret name unknown", "pass --api-key-secret")
    ]


# --- What stops the check: one line on stderr, exit 2 ----------------------------------


def test_a_token_the_server_refuses(noop_install: Install, as_pod, check, capsys, tmp_path: Path) -> None:
    release = noop_install.release
    pod = as_pod(release.agent_namespace, noop_install.service_account, token="not-a-token")
    code, out, err = run_main(check, capsys, pod_argv(noop_install, pod, _config_file(tmp_path, noop_install.launch_config)))
    assert (code, out) == (2, "")
    assert err == "selfcheck: error: SelfSubjectAccessReview failed with HTTP 401\n"


def test_the_api_refuses_reads_with_a_bad_token(noop_install: Install, as_pod, check) -> None:
    """What the pod's backend returns for a token the server refuses: the HTTP status, no
    namespace labels, and a secret read that names the secret."""
    release = noop_install.release
    pod = as_pod(release.agent_namespace, noop_install.service_account, token="not-a-token")
    api = check.InClusterAPI(str(pod.sa_dir))
    assert api.request("GET", f"/api/v1/namespaces/{release.agent_namespace}") == (401, None)
    assert api.namespace_labels(release.agent_namespace) is None
    with pytest.raises(RuntimeError, match=rf"^reading secret {release.agent_namespace}/x failed with HTTP 401$"):
        api.read_secret(release.agent_namespace, "x")


def test_the_pods_backend_reads_what_its_token_may(noop_install: Install, as_pod, check) -> None:
    """The agent's own token: its targets' runs secret (with its data), a missing one as
    None, a forbidden one as Forbidden, namespace labels it may not read as None."""
    release = noop_install.release
    target = release.target_namespaces[0]
    api = check.InClusterAPI(str(as_pod(release.agent_namespace, noop_install.service_account).sa_dir))
    secret = api.read_secret(target, f"wandb-api-key-{release.name}")
    assert base64.b64decode(secret["data"]["password"]).decode() == API_KEY
    assert api.read_secret(target, "no-such-secret") is None
    with pytest.raises(check.Forbidden, match="^x$"):
        api.read_secret("kube-system", "x")
    assert api.namespace_labels(target) is None
    assert api.self_review([check.Probe(target, "batch", "jobs", "create"), check.Probe(target, "batch", "jobs", "get"),
                            check.Probe(target, "", "pods/log", "get"), check.Probe("", "", "nodes", "list")]) == [True, False, True, False]  # fmt: skip


@pytest.mark.parametrize("broken", ["token", "config", "rbac-needs"])
def test_a_missing_file(noop_install: Install, as_pod, check, capsys, tmp_path: Path, broken: str) -> None:
    release = noop_install.release
    pod = as_pod(release.agent_namespace, noop_install.service_account)
    config = _config_file(tmp_path, noop_install.launch_config)
    argv = pod_argv(noop_install, pod, config, "--rbac-needs", str(CHART / "files" / "agent-rbac.yaml"))
    missing = {"token": pod.sa_dir / "token", "config": config, "rbac-needs": CHART / "files" / "agent-rbac.yaml"}[broken]
    if broken == "token":
        missing.unlink()
    else:
        argv[argv.index(f"--{broken}") + 1] = str(tmp_path / "gone.yaml")
        missing = tmp_path / "gone.yaml"
    code, out, err = run_main(check, capsys, argv)
    assert (code, out) == (2, "")
    assert err == f"selfcheck: error: [Errno 2] No such file or directory: '{missing}'\n"


def test_no_api_server_behind_the_address(noop_install: Install, as_pod, check, capsys, tmp_path: Path, monkeypatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pod = as_pod(noop_install.release.agent_namespace, noop_install.service_account)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
    code, out, err = run_main(check, capsys, pod_argv(noop_install, pod, _config_file(tmp_path, noop_install.launch_config)))
    assert (code, out) == (2, "")
    assert err == "selfcheck: error: <urlopen error [Errno 111] Connection refused>\n"


def test_kaniko_builds_in_an_agent_namespace_that_enforces_restricted(own_agent, kaniko_install: Install, check, capsys, tmp_path: Path) -> None:
    """An agent with the build rights (agent-rbac.yaml's agentNamespace rules) whose own
    namespace enforces restricted: kaniko's build pods run as root and are denied there."""
    agent = own_agent({"icc-t": ("baseline", {"password": RUNS_KEY}, [])}, agent_rules=tuple(AGENT_RBAC["agentNamespace"]))
    code, out, _ = run_main(check, capsys, agent.argv(_config_file(tmp_path, kaniko_install.launch_config)))
    label = "pod-security.kubernetes.io/enforce"
    assert code == 1
    assert [r for r in rows_of(out) if r[2] == agent.namespace and r[1] in ("rbac", "pod-security")] == [
        ("ok", "rbac", agent.namespace, "all 8 API calls the agent makes here are allowed (agent namespace)", ""),
        ("fail", "pod-security", agent.namespace, "enforce=restricted denies kaniko build pods (they meet baseline)",
         f"kubectl label --overwrite ns {agent.namespace} {label}=baseline"),
    ]  # fmt: skip
