"""The checks of a live install, as the chart's `helm test` pod runs them.

The chart ships this file (ConfigMap `<fullname>-selfcheck`, with files/agent-rbac.yaml)
and the test pod runs it in the agent image: python, wandb, pyyaml, and no `kubernetes`
client, so it imports only the standard library at module level; yaml and wandb are
imported where used. The plugin's `verify` imports this same file from the chart
(`wandb_launch.chartfiles`) and runs the same check functions with an admin's backends
(SubjectAccessReview for the agent's service account, instead of the pod's
SelfSubjectAccessReview).

In the pod: python3 helm_test_check.py --agent-namespace NS --target-namespaces a,b \
    --api-key-secret wandb-api-key-R --config /home/launch_agent/.config/wandb/launch-config.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple


class Need(NamedTuple):
    """One API permission the agent uses: API group, resource (with subresource), verbs,
    and the object names it is limited to (RBAC resourceNames; empty: any)."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    names: tuple[str, ...] = ()


class AgentNeeds(NamedTuple):
    """The agent's API calls (files/agent-rbac.yaml): per target namespace, in its own
    namespace with the kaniko builder (build Jobs; a target's needs too only when it is a
    target), and for the SDK's additional services (targets)."""

    target_namespace: tuple[Need, ...]
    agent_namespace: tuple[Need, ...]
    additional_services: tuple[Need, ...]


# files/agent-rbac.yaml next to this file (in the chart, and in the test pod's mount).
AGENT_RBAC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent-rbac.yaml")


def _needs(rules: Sequence[Mapping[str, Any]]) -> tuple[Need, ...]:
    return tuple(
        Need(group, resource, tuple(rule["verbs"]), tuple(rule.get("resourceNames") or ()))
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    )


def load_agent_needs(path: str = AGENT_RBAC_FILE) -> AgentNeeds:
    """The RBAC rules of files/agent-rbac.yaml as needs, one per (group, resource)."""
    import yaml

    with open(path) as f:
        rules = yaml.safe_load(f)
    return AgentNeeds(_needs(rules["target"]), _needs(rules["agentNamespace"]), _needs(rules["additionalServices"]))


# --- Results -------------------------------------------------------------------------

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"


class Result(NamedTuple):
    """One row of the report: a check, where it applies, its outcome, and the fix."""

    status: str
    check: str
    namespace: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return self._asdict()


def failed(results: Iterable[Result]) -> bool:
    return any(r.status == FAIL for r in results)


# --- RBAC: what the agent needs, and rights it should not hold --------------------------


class Probe(NamedTuple):
    """One access question: may the agent `verb` `resource` (group `group`) in `namespace`,
    of the object `name` if one is given?

    An empty namespace asks about every namespace (a cluster-wide grant).
    """

    namespace: str
    group: str
    resource: str
    verb: str
    name: str = ""


class Excess(NamedTuple):
    """A right the agent must not have, and why it matters."""

    group: str
    resource: str
    verb: str
    why: str


# Rights beyond the needs, asked in every namespace the agent works in.
EXCESS_PER_NAMESPACE: tuple[Excess, ...] = (
    Excess("", "secrets", "list", "reads every secret in the namespace (it only needs its own by name)"),
    Excess("", "secrets", "update", "can rewrite other secrets"),
    Excess("", "pods/exec", "create", "can run commands in any pod"),
    Excess("rbac.authorization.k8s.io", "rolebindings", "create", "can grant itself more rights"),
    Excess("", "serviceaccounts/token", "create", "can mint tokens of other service accounts"),
    Excess("*", "*", "*", "holds a wildcard rule"),
)
# Rights beyond the needs, asked cluster-wide (namespace "").
EXCESS_CLUSTER_WIDE: tuple[Excess, ...] = (
    Excess("", "secrets", "get", "reads secrets in every namespace"),
    Excess("", "secrets", "list", "lists secrets in every namespace"),
    Excess("batch", "jobs", "create", "launches jobs in every namespace, not just its targets"),
    Excess("rbac.authorization.k8s.io", "clusterrolebindings", "create", "can grant itself cluster rights"),
    Excess("", "nodes", "list", "reads cluster nodes"),
)
# A namespace the agent never works in, to catch secret rights granted everywhere.
OUTSIDE_NAMESPACE = "kube-system"

AccessReviewer = Callable[[Sequence[Probe]], list[bool]]


def _split(resource: str) -> tuple[str, str]:
    name, _, sub = resource.partition("/")
    return name, sub


def resource_attributes(probe: Probe) -> dict[str, str]:
    """The `resourceAttributes` of a (Self)SubjectAccessReview for one probe."""
    name, sub = _split(probe.resource)
    attrs = {"group": probe.group, "resource": name, "verb": probe.verb}
    if sub:
        attrs["subresource"] = sub
    if probe.namespace:
        attrs["namespace"] = probe.namespace
    if probe.name:
        attrs["name"] = probe.name
    return attrs


def needs_for(
    namespace: str,
    agent_namespace: str,
    target_namespaces: Sequence[str],
    agent_needs: AgentNeeds,
    additional_services: bool,
    kaniko: bool,
) -> tuple[Need, ...]:
    """What the agent calls in `namespace`: a target's needs (with the additional services'),
    and the kaniko builds' in its own namespace. Nothing in an agent namespace that is no
    target of a release without kaniko."""
    needs: tuple[Need, ...] = ()
    if namespace in target_namespaces:
        needs += agent_needs.target_namespace + (agent_needs.additional_services if additional_services else ())
    if namespace == agent_namespace and kaniko:
        needs += agent_needs.agent_namespace
    return needs


def _granted_by_needs(excess: Excess, needs: Iterable[Need]) -> bool:
    return any(
        n.group == excess.group and n.resource == excess.resource and excess.verb in n.verbs and not n.names
        for n in needs
    )


def rbac_probes(
    agent_namespace: str,
    target_namespaces: Sequence[str],
    agent_needs: AgentNeeds,
    additional_services: bool,
    kaniko: bool = False,
) -> tuple[list[Probe], list[tuple[Probe, str]]]:
    """The needed probes, and the excess probes with why each would be wrong."""
    namespaces = _namespaces(agent_namespace, target_namespaces)
    needed: list[Probe] = []
    excess: list[tuple[Probe, str]] = []
    for ns in namespaces:
        needs = needs_for(ns, agent_namespace, target_namespaces, agent_needs, additional_services, kaniko)
        needed += [Probe(ns, n.group, n.resource, v, name) for n in needs for v in n.verbs for name in n.names or ("",)]
        excess += [
            (Probe(ns, e.group, e.resource, e.verb), e.why)
            for e in EXCESS_PER_NAMESPACE
            if not _granted_by_needs(e, needs)
        ]
    excess += [(Probe("", e.group, e.resource, e.verb), e.why) for e in EXCESS_CLUSTER_WIDE]
    if OUTSIDE_NAMESPACE not in namespaces:
        excess.append((Probe(OUTSIDE_NAMESPACE, "", "secrets", "get"), "reads secrets outside its namespaces"))
    return needed, excess


def check_rbac(
    review: AccessReviewer,
    agent_namespace: str,
    target_namespaces: Sequence[str],
    agent_needs: AgentNeeds,
    additional_services: bool,
    kaniko: bool,
) -> list[Result]:
    """Ask the API server (through `review`) about every needed call and every excess right."""
    needed, excess = rbac_probes(agent_namespace, target_namespaces, agent_needs, additional_services, kaniko)
    answers = review(needed + [p for p, _ in excess])
    allowed = dict(zip(needed + [p for p, _ in excess], answers, strict=True))
    results: list[Result] = []
    for ns in _namespaces(agent_namespace, target_namespaces):
        missing = [p for p in needed if p.namespace == ns and not allowed[p]]
        role = "agent namespace" if ns == agent_namespace else "target namespace"
        if not missing:
            count = sum(1 for p in needed if p.namespace == ns)
            if count == 0:
                results.append(Result(OK, "rbac", ns, f"the agent makes no API call here ({role}: no kaniko builds, no runs)"))
                continue
            results.append(Result(OK, "rbac", ns, f"all {count} API calls the agent makes here are allowed ({role})"))
            continue
        by_resource: dict[str, list[str]] = {}
        for p in missing:
            by_resource.setdefault(_resource_name(p), []).append(p.verb)
        for resource, verbs in by_resource.items():
            results.append(
                Result(
                    FAIL,
                    "rbac",
                    ns,
                    f"may not {','.join(verbs)} {resource} ({role})",
                    f"grant it to the agent's service account in {ns}: add {ns} to targetNamespaces, keep rbac.create on",
                )
            )
    for probe, why in excess:
        if allowed[probe]:
            where = probe.namespace or "*"
            results.append(
                Result(
                    FAIL,
                    "rbac-excess",
                    where,
                    f"may {probe.verb} {_resource_name(probe)}: {why}",
                    "remove the binding that grants it (kubectl get rolebindings,clusterrolebindings -A -o wide)",
                )
            )
    if not any(r.check == "rbac-excess" for r in results):
        results.append(Result(OK, "rbac-excess", "*", f"none of {len(excess)} rights beyond the agent's needs is held"))
    return results


def _resource_name(p: Probe) -> str:
    name = f"{p.resource}.{p.group}" if p.group else p.resource
    return f"{name} {p.name}" if p.name else name


def _namespaces(agent_namespace: str, target_namespaces: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([agent_namespace, *target_namespaces]))


# --- Pod Security ----------------------------------------------------------------------

LEVELS = ("privileged", "baseline", "restricted")
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# The strictest level each kind of pod meets (facts: the agent pod meets restricted;
# kaniko runs as root without a securityContext; run pods get the SDK's forced context
# but no runAsNonRoot).
POD_LEVELS = {"agent": "restricted", "kaniko build": "baseline", "run": "baseline"}


def admits(enforce: str, pod_level: str) -> bool:
    """Does a namespace enforcing `enforce` admit a pod that meets `pod_level`?"""
    return LEVELS.index(enforce) <= LEVELS.index(pod_level)


def pods_in(namespace: str, agent_namespace: str, target_namespaces: Sequence[str], builder_type: str) -> list[str]:
    kinds = []
    if namespace == agent_namespace:
        kinds.append("agent")
        if builder_type == "kaniko":
            kinds.append("kaniko build")
    if namespace in target_namespaces:
        kinds.append("run")
    return kinds


# What a namespace reader returns for a namespace that does not exist.
NAMESPACE_MISSING = "missing"


def check_pod_security(
    namespace_labels: Mapping[str, Mapping[str, str] | str | None],
    agent_namespace: str,
    target_namespaces: Sequence[str],
    builder_type: str,
) -> list[Result]:
    """Each namespace's enforced level against the pods that will run there.

    `namespace_labels[ns]` is None when the namespace could not be read, and
    NAMESPACE_MISSING when it does not exist.
    """
    results = []
    for ns in _namespaces(agent_namespace, target_namespaces):
        labels = namespace_labels.get(ns)
        kinds = pods_in(ns, agent_namespace, target_namespaces, builder_type)
        if labels is None:
            results.append(
                Result(SKIP, "pod-security", ns, "namespace not readable here", "run `wandb-launch verify` as an admin")
            )
            continue
        if labels == NAMESPACE_MISSING:
            results.append(
                Result(
                    FAIL,
                    "pod-security",
                    ns,
                    "namespace does not exist",
                    f"kubectl create namespace {ns}, or remove it from targetNamespaces",
                )
            )
            continue
        assert isinstance(labels, Mapping)
        enforce = labels.get(ENFORCE_LABEL, "privileged")
        if enforce not in LEVELS:
            results.append(
                Result(
                    FAIL,
                    "pod-security",
                    ns,
                    f"unknown enforce level {enforce!r}",
                    f"set {ENFORCE_LABEL} to one of {', '.join(LEVELS)}",
                )
            )
            continue
        denied = [k for k in kinds if not admits(enforce, POD_LEVELS[k])]
        if denied:
            needed = min((POD_LEVELS[k] for k in denied), key=LEVELS.index)
            results.append(
                Result(
                    FAIL,
                    "pod-security",
                    ns,
                    f"enforce={enforce} denies {' and '.join(k + ' pods' for k in denied)} (they meet {needed})",
                    f"kubectl label --overwrite ns {ns} {ENFORCE_LABEL}={needed}",
                )
            )
        else:
            shown = "unlabelled: privileged" if ENFORCE_LABEL not in labels else f"enforce={enforce}"
            results.append(Result(OK, "pod-security", ns, f"{shown} admits {', '.join(kinds)} pods"))
    return results


# --- The API-key secret ----------------------------------------------------------------

SecretReader = Callable[[str, str], "Mapping[str, Any] | None"]


class Forbidden(Exception):
    """The API server refused a read."""


def check_api_key_secrets(
    read_secret: SecretReader,
    agent_namespace: str,
    target_namespaces: Sequence[str],
    api_key_secret: str,
    agent_secret: str = "",
    agent_key: str = "password",
) -> list[Result]:
    """The agent's key secret exists, and every target namespace holds the same key under
    `api_key_secret` / `password`, the secret runs read (a different one makes every run fail).

    The names are the chart's (`wandb-launch.apiKeySecretName`, `.agentApiKeySecretName`):
    the test pod gets them as arguments, `verify` from the release's names ConfigMap.
    """
    results: list[Result] = []
    agent_secret = agent_secret or api_key_secret
    try:
        secret = read_secret(agent_namespace, agent_secret)
    except Forbidden:
        secret = None
        results.append(Result(SKIP, "api-key", agent_namespace, f"secret {agent_secret} not readable here"))
    else:
        if secret is None:
            results.append(
                Result(
                    FAIL,
                    "api-key",
                    agent_namespace,
                    f"secret {agent_secret} is missing",
                    "install with --api-key-env VAR or create the secret",
                )
            )
        elif agent_key not in (secret.get("data") or {}):
            results.append(
                Result(
                    FAIL,
                    "api-key",
                    agent_namespace,
                    f"secret {agent_secret} has no key {agent_key!r}",
                    "set apiKey.existingSecretKey to the key that holds the API key",
                )
            )
            secret = None
        else:
            results.append(Result(OK, "api-key", agent_namespace, f"secret {agent_secret} holds the agent's key"))
    agent_value = (secret or {}).get("data", {}).get(agent_key)
    name = api_key_secret
    for ns in target_namespaces:
        if ns == agent_namespace and agent_secret == name:
            continue
        try:
            run_secret = read_secret(ns, name)
        except Forbidden:
            results.append(
                Result(
                    FAIL, "api-key", ns, f"the agent may not read secret {name}", "grant secrets get in this namespace"
                )
            )
            continue
        if run_secret is None:
            results.append(
                Result(WARN, "api-key", ns, f"secret {name} is missing; the agent creates it at the first run")
            )
            continue
        value = (run_secret.get("data") or {}).get("password")
        if value is None:
            results.append(
                Result(
                    FAIL,
                    "api-key",
                    ns,
                    f"secret {name} has no key 'password'; runs fail",
                    f"kubectl -n {ns} delete secret {name} (the agent recreates it)",
                )
            )
        elif agent_value is not None and value != agent_value:
            results.append(
                Result(
                    FAIL,
                    "api-key",
                    ns,
                    f"secret {name} holds another key than the agent's; runs fail",
                    f"kubectl -n {ns} delete secret {name}, then upgrade the release",
                )
            )
        else:
            results.append(Result(OK, "api-key", ns, f"secret {name} is where runs read it"))
    return results


# --- The launch config, validated as the agent does ------------------------------------

# resolve_agent_config() in wandb/sdk/launch/_launch.py starts from these.
AGENT_CONFIG_DEFAULTS: dict[str, Any] = {
    "max_jobs": 1,
    "max_schedulers": 1,
    "queues": [],
    "registry": {},
    "builder": {},
    "verbosity": 0,
}
# Stands in for the API key's default entity when validating without the W&B server.
PLACEHOLDER_ENTITY = "<default entity of the API key>"


def resolve_launch_config(
    file_config: Mapping[str, Any] | None, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The agent's order: defaults, the file over them, env, then a missing entity.

    Offline the API key's default entity is unknown: a placeholder stands in, and the
    returned notes say so.
    """
    resolved: dict[str, Any] = json.loads(json.dumps(AGENT_CONFIG_DEFAULTS))
    resolved.update(file_config or {})
    notes: list[str] = []
    if env.get("WANDB_ENTITY") is not None:
        resolved["entity"] = env["WANDB_ENTITY"]
    if env.get("WANDB_LAUNCH_MAX_JOBS") is not None:
        resolved["max_jobs"] = int(env["WANDB_LAUNCH_MAX_JOBS"])
    if not resolved.get("entity"):
        resolved["entity"] = PLACEHOLDER_ENTITY
        notes.append("entity not set: the agent uses the API key's default entity (a placeholder was validated)")
    return resolved, notes


def agent_config_problems(config: Mapping[str, Any]) -> list[str]:
    """The SDK's own verdict (`AgentConfig(**cfg)`): one line per problem, naming the key."""
    from wandb.sdk.launch.agent.config import AgentConfig, ValidationError

    try:
        AgentConfig(**config)
    except ValidationError as e:
        return [f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in e.errors()]
    except (TypeError, ValueError) as e:  # e.g. a list where a mapping belongs
        return [str(e).splitlines()[0]]
    return []


def check_launch_config(
    file_config: Mapping[str, Any] | None, env: Mapping[str, str], where: str = "launch-config"
) -> list[Result]:
    if file_config is not None and not isinstance(file_config, Mapping):
        return [
            Result(
                FAIL, "launch-config", "", f"{where} is not a mapping", "write launch-config.yaml as key: value pairs"
            )
        ]
    config, notes = resolve_launch_config(file_config, env)
    problems = agent_config_problems(config)
    if problems:
        return [Result(FAIL, "launch-config", "", f"{where}: {p}", "fix launchConfig in the values") for p in problems]
    detail = "AgentConfig accepts it" + (f" ({notes[0]})" if notes else "")
    return [Result(OK, "launch-config", "", detail)]


# --- In-cluster backend (the helm test pod): plain HTTPS with the pod's token ----------

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class InClusterAPI:
    """Just enough of the Kubernetes API over urllib, as the pod's service account."""

    def __init__(self, sa_dir: str = SERVICE_ACCOUNT_DIR) -> None:
        import ssl  # here, not at module level: only the pod needs it

        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise RuntimeError("KUBERNETES_SERVICE_HOST is not set: not running in a pod")
        self.base = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
        with open(os.path.join(sa_dir, "token")) as f:
            self.token = f.read().strip()
        self.context = ssl.create_default_context(cafile=os.path.join(sa_dir, "ca.crt"))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def self_review(self, probes: Sequence[Probe]) -> list[bool]:
        from concurrent.futures import ThreadPoolExecutor

        def one(probe: Probe) -> bool:
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": resource_attributes(probe)},
            }
            status, answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body)
            if status != 201:
                raise RuntimeError(f"SelfSubjectAccessReview failed with HTTP {status}")
            return bool(answer["status"].get("allowed"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, probes))

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | str | None:
        status, ns = self.request("GET", f"/api/v1/namespaces/{namespace}")
        if status == 404:
            return NAMESPACE_MISSING
        return (ns["metadata"].get("labels") or {}) if status == 200 else None

    def read_secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        status, secret = self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if status == 403:
            raise Forbidden(name)
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"reading secret {namespace}/{name} failed with HTTP {status}")
        return secret


def load_config_file(path: str) -> Any:
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def run_checks(
    *,
    review: AccessReviewer,
    namespace_labels: Callable[[str], Mapping[str, str] | str | None],
    read_secret: SecretReader,
    agent_namespace: str,
    target_namespaces: Sequence[str],
    agent_needs: AgentNeeds,
    launch_config: Mapping[str, Any] | None,
    env: Mapping[str, str],
    api_key_secret: str,
    agent_api_key_secret: str,
    agent_api_key_secret_key: str,
    additional_services: bool,
) -> list[Result]:
    """Every check of a live install, in one order, for the test pod and `verify` alike."""
    builder_type = str(((launch_config or {}).get("builder") or {}).get("type") or "")
    results = check_launch_config(launch_config, env)
    results += check_rbac(
        review, agent_namespace, target_namespaces, agent_needs, additional_services, kaniko=builder_type == "kaniko"
    )
    labels = {ns: namespace_labels(ns) for ns in _namespaces(agent_namespace, target_namespaces)}
    results += check_pod_security(labels, agent_namespace, target_namespaces, builder_type)
    if api_key_secret:
        results += check_api_key_secrets(
            read_secret,
            agent_namespace,
            target_namespaces,
            api_key_secret,
            agent_api_key_secret,
            agent_api_key_secret_key,
        )
    else:
        results.append(Result(SKIP, "api-key", agent_namespace, "API-key secret name unknown", "pass --api-key-secret"))
    return results


def format_table(results: Sequence[Result]) -> str:
    """A plain table (the test pod's log has no terminal)."""
    headers = ("STATUS", "CHECK", "NAMESPACE", "DETAIL")
    rows = [(r.status, r.check, r.namespace, r.detail + (f" -> fix: {r.fix}" if r.fix else "")) for r in results]
    widths = [max(len(str(x[i])) for x in [headers, *rows]) for i in range(3)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="selfcheck", description="Check this launch agent install from inside the cluster."
    )
    parser.add_argument("--agent-namespace", required=True)
    parser.add_argument("--target-namespaces", required=True, help="comma-separated")
    parser.add_argument(
        "--api-key-secret",
        default="",
        help="the secret runs read their API key from (wandb-api-key-<release>); without it that check is skipped",
    )
    parser.add_argument(
        "--agent-api-key-secret", default="", help="the agent's own key secret (default: --api-key-secret)"
    )
    parser.add_argument(
        "--agent-api-key-secret-key", default="password", help="the key of that secret holding the API key (default: password)"
    )
    parser.add_argument(
        "--config",
        default=os.path.expanduser("~/.config/wandb/launch-config.yaml"),
        help="the agent's launch config (default: ~/.config/wandb/launch-config.yaml)",
    )
    parser.add_argument("--rbac-needs", default=AGENT_RBAC_FILE, help="the chart's files/agent-rbac.yaml")
    parser.add_argument(
        "--additional-services", action="store_true", help="the release grants the SDK's additional services (rbac.additionalServices)"
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument(
        "--service-account-dir", default=SERVICE_ACCOUNT_DIR, help="token and ca.crt of the pod's service account"
    )
    args = parser.parse_args(argv)
    # One line, no traceback, for what the pod's log must say plainly: no API server, a
    # token it refuses, a missing file.
    try:
        api = InClusterAPI(args.service_account_dir)
        config = load_config_file(args.config)
        agent_needs = load_agent_needs(args.rbac_needs)
        results = run_checks(
            review=api.self_review,
            namespace_labels=api.namespace_labels,
            read_secret=api.read_secret,
            agent_namespace=args.agent_namespace,
            target_namespaces=[n for n in args.target_namespaces.split(",") if n],
            agent_needs=agent_needs,
            launch_config=config,
            env=os.environ,
            api_key_secret=args.api_key_secret,
            agent_api_key_secret=args.agent_api_key_secret,
            agent_api_key_secret_key=args.agent_api_key_secret_key,
            additional_services=args.additional_services,
        )
    except (OSError, RuntimeError) as e:
        print(f"selfcheck: error: {e}", file=sys.stderr)
        return 2
    if args.output == "table":
        print(format_table(results))
    else:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    return 1 if failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
