"""A release of W&B's public `launch-agent` chart (0.13.12) as this chart's values.

Every value key of that chart has an entry in KEYS: carried into our values, given way to
our own default (the old chart's default, not the user's choice), or refused with the
reason. A key KEYS does not know (another chart version, a typo the old chart ignored) is
refused by name. Values come from helm (`get values`, all and user-supplied); the cluster
answers what values cannot: whether the API group of Volcano jobs is served, which secrets
exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wandb_launch.adopt import launchconfig
from wandb_launch.adopt.model import (
    ADDED,
    DEFAULT,
    MAPPED,
    REFUSED,
    Adoption,
    ObjectRef,
    OldObject,
    SecretCopy,
    set_path,
)
from wandb_launch.errors import InputError

CHART_NAME = "launch-agent"
PUBLIC_IMAGE = "wandb/launch-agent"
# Its ClusterRole always grants Volcano jobs (templates/rbac.yaml), whatever `volcano` says.
VOLCANO_GROUP = "batch.volcano.sh"
VOLCANO_RULE = {
    "apiGroups": [VOLCANO_GROUP],
    "resources": ["jobs"],
    "verbs": ["create", "get", "list", "watch", "delete"],
}
# The SDK's default run start timeout (agent/agent.py RUN_START_TIMEOUT), also the old chart's default.
SDK_START_TIMEOUT = 1800
# Workload identity annotations: the cloud side trusts the service account by its name.
IDENTITY_ANNOTATIONS = (
    "iam.gke.io/gcp-service-account",
    "eks.amazonaws.com/role-arn",
    "azure.workload.identity/client-id",
)


@dataclass(frozen=True)
class Live:
    """What the cluster says that the release's values do not."""

    served_groups: frozenset[str] = frozenset()  # API groups the server serves
    secrets: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)  # (ns, name) -> its keys
    manifest: tuple[ObjectRef, ...] = ()  # the release's objects (`helm get manifest`)


@dataclass(frozen=True)
class Target:
    """Where our release goes: its name (copied secrets are named after it)."""

    release: str
    keep_image: bool = False


def copy_name(target: Target, what: str) -> str:
    return f"{target.release}-adopted-{what}"[:253]


class _Mapper:
    def __init__(
        self,
        values: Mapping[str, Any],
        user: Mapping[str, Any],
        release: str,
        target: Target,
        live: Live,
        adoption: Adoption,
    ) -> None:
        self.values, self.user, self.release, self.target, self.live, self.a = (
            values,
            user,
            release,
            target,
            live,
            adoption,
        )
        self.ns = adoption.agent_namespace
        self.out = adoption.values

    def get(self, key: str) -> Any:
        node: Any = self.values
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return node

    def user_set(self, key: str) -> bool:
        node: Any = self.user
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    def put(self, path: str, value: Any) -> None:
        set_path(self.out, path, value)

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        return self.live.secrets.get((namespace, name))

    def copy_secret(
        self,
        source: ObjectRef,
        target: ObjectRef,
        keys: tuple[tuple[str, str], ...],
        *,
        missing: str,
        why: str = "the old release deletes its own on uninstall",
        after_removal: bool = False,
    ) -> None:
        """Copy the old release's secret `source` into `target`; refused (`missing` says what
        is gone) when the secret is not there to copy."""
        if self.secret_keys(source.namespace, source.name) is None:
            raise InputError("--from-release", missing, "reinstall the old release first")
        self.a.copies.append(SecretCopy(source, target, keys, why, after_removal=after_removal))


# --- one function per key of the old chart's values.yaml ---------------------------------


def _namespace(m: _Mapper, key: str) -> None:
    m.put("namespace.create", False)
    m.put("namespace.name", m.ns)
    m.a.outcome(key, MAPPED, "namespace.name", "the agent stays in its namespace (namespace.create false: it exists)")


def _base_url(m: _Mapper, key: str) -> None:
    m.put("baseUrl", m.get(key))
    m.a.outcome(key, MAPPED, "baseUrl")


def _targets(m: _Mapper, key: str) -> None:
    targets = list(dict.fromkeys([*(m.get(key) or []), m.ns]))
    m.put("targetNamespaces", targets)
    m.a.outcome(key, MAPPED, "targetNamespaces", f"plus {m.ns}: the old chart binds its own namespace too")


def _launch_config(m: _Mapper, key: str) -> None:
    import yaml

    text = m.get(key) or ""
    where = f"launchConfig of release {m.a.source}"
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError(where, "is not valid YAML", "fix the release's launchConfig first") from None
    m.a.outcome(
        key, MAPPED, "launchConfig", "a string of launch-config.yaml; each of its keys below, in structured form"
    )
    launch, base_url = launchconfig.to_values(parsed, m.a, where=where, prefix=f"{key}: ")
    m.put("launchConfig", launch)
    if base_url and not m.user_set("baseUrl"):
        m.put("baseUrl", base_url)


def _api_key(m: _Mapper, key: str) -> None:
    if m.get("agent.useExternalWandbSecret"):
        m.a.outcome(key, REFUSED, "", "unused: agent.useExternalWandbSecret is true")
        return
    source = ObjectRef("Secret", f"wandb-api-key-{m.release}", m.ns)
    target = ObjectRef("Secret", copy_name(m.target, "api-key"), m.ns)
    m.copy_secret(
        source,
        target,
        (("password", "password"),),
        missing=f"the release's API-key secret {m.ns}/{source.name} is missing",
    )
    m.put("apiKey", {"existingSecret": target.name, "existingSecretKey": "password"})
    m.a.outcome(
        key, MAPPED, "apiKey.existingSecret", f"copied into secret {target.name} (never printed or written to a file)"
    )


def _external_secret(m: _Mapper, key: str) -> None:
    if not m.get(key):
        m.a.outcome(key, MAPPED, "", "false: the key came from agent.apiKey")
        return
    name = f"wandb-api-key-{m.release}"
    keys = m.secret_keys(m.ns, name)
    if keys is None or "password" not in keys:
        raise InputError(
            "--from-release",
            f"agent.useExternalWandbSecret is true but secret {m.ns}/{name} (key password) is missing: the old agent cannot start",
            f"create it (kubectl -n {m.ns} create secret generic {name} --from-literal=password=...) and run adopt again",
        )
    m.put("apiKey", {"existingSecret": name, "existingSecretKey": "password"})
    m.a.outcome(key, MAPPED, "apiKey.existingSecret", f"your secret {name} (kept)")


def _image(m: _Mapper, key: str) -> None:
    ref = str(m.get(key) or "")
    repository, tag, digest = split_image(ref)
    if repository and repository != PUBLIC_IMAGE:
        m.put("image.repository", repository)
    if m.target.keep_image:
        if digest:
            m.put("image.digest", digest)
        elif tag:
            m.put("image.tag", tag)
        m.a.outcome(key, MAPPED, "image", f"{ref} kept (--keep-image)")
        return
    kept = f"; repository {repository} kept (a mirror stays a mirror)" if repository != PUBLIC_IMAGE else ""
    m.a.outcome(
        key,
        MAPPED,
        "image.repository" if kept else "image",
        f"{ref} -> the chart's pinned tag (its appVersion, the SDK the chart is tested with){kept}; --keep-image keeps {ref}",
    )


def split_image(ref: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _pull_policy(m: _Mapper, key: str) -> None:
    if m.user_set(key):
        m.put("image.pullPolicy", m.get(key))
        m.a.outcome(key, MAPPED, "image.pullPolicy")
    else:
        m.a.outcome(
            key,
            DEFAULT,
            "image.pullPolicy",
            "the old default Always gives way to IfNotPresent: the chart pins a released tag",
        )


def _resources(m: _Mapper, key: str) -> None:
    if not m.user_set(key):
        m.a.outcome(
            key, DEFAULT, "resources", "the old default (limits only) gives way to the chart's requests and limits"
        )
        return
    resources = dict(m.get(key) or {})
    if resources.get("limits") and not resources.get("requests"):
        # What the API server did to the old pod: requests default to the limits.
        resources["requests"] = dict(resources["limits"])
        note = "requests = limits, as the API server set them on the old pod"
    else:
        note = ""
    m.put("resources", resources)
    m.a.outcome(key, MAPPED, "resources", note)


def _pod_labels(m: _Mapper, key: str) -> None:
    labels = dict(m.get(key) or {})
    owned = sorted(k for k in labels if k.startswith("app.kubernetes.io/"))
    for k in owned:
        labels.pop(k)
    if labels:
        m.put("podLabels", labels)
    m.a.outcome(
        key, MAPPED, "podLabels", f"dropped {', '.join(owned)}: the chart owns app.kubernetes.io/*" if owned else ""
    )


def _plain(ours: str) -> Callable[[_Mapper, str], None]:
    def carry(m: _Mapper, key: str) -> None:
        value = m.get(key)
        if value not in (None, {}, [], ""):
            m.put(ours, value)
        m.a.outcome(key, MAPPED, ours, "" if value not in (None, {}, [], "") else "empty")

    return carry


def _start_timeout(m: _Mapper, key: str) -> None:
    value = m.get(key)
    if value is None or int(value) == SDK_START_TIMEOUT:
        m.a.outcome(key, DEFAULT, "", f"{SDK_START_TIMEOUT} s is the SDK's own default")
        return
    m.out.setdefault("extraEnv", []).append({"name": "WANDB_LAUNCH_START_TIMEOUT", "value": str(value)})
    m.a.outcome(key, MAPPED, "extraEnv WANDB_LAUNCH_START_TIMEOUT")


def _min_available(m: _Mapper, key: str) -> None:
    m.a.outcome(
        key,
        REFUSED,
        "podDisruptionBudget.enabled",
        f"minAvailable {m.get(key)} with one replica blocks every node drain (and the old PDB sits in the release "
        "namespace); the chart's opt-in PodDisruptionBudget allows one disruption",
    )


def _env(m: _Mapper, key: str) -> None:
    items = m.get(key) or []
    if isinstance(items, Mapping):  # the old chart's default is {}
        items = [{"name": k, "value": v} for k, v in items.items()]
    env = [{"name": str(e["name"]), "value": str(e.get("value", ""))} for e in items]
    if env:
        m.out.setdefault("extraEnv", []).extend(env)
    m.a.outcome(key, MAPPED, "extraEnv", "" if env else "empty")


def _secret_env(m: _Mapper, key: str) -> None:
    items = m.get(key) or []
    if isinstance(items, Mapping):
        items = [{"name": k} for k in items]
    names = [str(e["name"]) for e in items]
    if not names:
        m.a.outcome(key, MAPPED, "extraEnv", "empty")
        return
    # The old chart writes this secret into namespace wandb, whatever its `namespace`.
    source = ObjectRef("Secret", "launch-agent-secret-env-vars", "wandb")
    target = ObjectRef("Secret", copy_name(m.target, "env"), m.ns)
    m.copy_secret(source, target, tuple((n, n) for n in names), missing=f"{key} is set but secret {source} is missing")
    for n in names:
        m.out.setdefault("extraEnv", []).append(
            {"name": n, "valueFrom": {"secretKeyRef": {"name": target.name, "key": n}}}
        )
    m.a.outcome(
        key, MAPPED, "extraEnv (secretKeyRef)", f"values copied into secret {target.name}, never into the values"
    )


def _git_creds(m: _Mapper, key: str) -> None:
    if not (m.get(key) or "").strip():
        m.a.outcome(key, MAPPED, "git", "empty")
        return
    source = ObjectRef("Secret", "git-creds", m.ns)
    target = ObjectRef("Secret", copy_name(m.target, "git-credentials"), m.ns)
    m.copy_secret(
        source,
        target,
        ((".git-credentials", ".git-credentials"),),
        missing=f"gitCreds is set but secret {source} is missing",
    )
    m.put("git.existingSecret", target.name)
    m.a.outcome(key, MAPPED, "git.existingSecret", f"copied into secret {target.name} (never written to a file)")


def _ssh(m: _Mapper, key: str) -> None:
    keys = [{"name": str(s["name"]), "host": str(s["host"])} for s in (m.get(key) or [])]
    if keys:
        m.put("git.sshAuthSecrets", keys)
    m.a.outcome(
        key,
        ADDED if keys else MAPPED,
        "git.sshAuthSecrets",
        "your ssh-auth secrets (kept), mounted read-only; host keys stay unchecked until you set git.sshKnownHosts"
        if keys
        else "empty",
    )


def _sa_annotations(m: _Mapper, key: str) -> None:
    # Helm drops null values (the old chart's own values.yaml leaves them empty).
    annotations = {k: str(v) for k, v in (m.get(key) or {}).items() if v is not None}
    if annotations:
        m.put("serviceAccount.annotations", annotations)
    identity = {k: v for k, v in annotations.items() if k in IDENTITY_ANNOTATIONS}
    if identity:
        m.a.identity_warning = ", ".join(f"{k}={v}" for k, v in identity.items())
    m.a.outcome(key, MAPPED, "serviceAccount.annotations", "" if annotations else "empty")


def _azure_key(m: _Mapper, key: str) -> None:
    if not m.get(key):
        m.a.outcome(key, MAPPED, "", "empty")
        return
    # Name and namespace are the SDK's (hard-coded): the same secret is made again, at once,
    # when the old release has deleted its own.
    ref = ObjectRef("Secret", "azure-storage-access-key", "wandb")
    m.copy_secret(
        ref,
        ref,
        (("password", "password"),),
        missing=f"{key} is set but secret {ref} is missing",
        why="its name is fixed by the SDK",
        after_removal=True,
    )
    m.a.outcome(
        key,
        MAPPED,
        "",
        f"secret {ref} is made again (yours) right after the old release is gone: the SDK fixes its name",
    )


def _ca_bundle(m: _Mapper, key: str) -> None:
    name, ca_key = m.get("customCABundle.configMap.name"), m.get("customCABundle.configMap.key")
    if key.endswith(".key"):
        m.a.outcome(key, MAPPED, "caBundle.key", "" if ca_key else "empty")
        return
    if name and ca_key:
        m.put("caBundle.configMapName", name)
        m.put("caBundle.key", ca_key)
        m.a.outcome(key, MAPPED, "caBundle.configMapName", "your ConfigMap (kept)")
    elif name:
        m.a.outcome(key, REFUSED, "caBundle", "the old chart ignores the name without customCABundle.configMap.key")
    else:
        m.a.outcome(key, MAPPED, "caBundle", "empty")


def _kaniko_pvc(m: _Mapper, key: str) -> None:
    if m.get(key):
        m.put("kaniko.pvc.existingClaim", m.get(key))
        m.a.outcome(
            key,
            MAPPED,
            "kaniko.pvc.existingClaim",
            "your PVC (kept); mounted at kaniko.pvc.mountPath, with no root init container (the old chart chowns it as root)",
        )
    else:
        m.a.outcome(key, MAPPED, "kaniko.pvc", "empty")


def _kaniko_docker(m: _Mapper, key: str) -> None:
    if m.get(key):
        m.put("kaniko.dockerConfig.existingSecret", m.get(key))
    m.a.outcome(key, MAPPED, "kaniko.dockerConfig.existingSecret", "your secret (kept)" if m.get(key) else "empty")


def _volcano(m: _Mapper, key: str) -> None:
    m.a.outcome(
        key,
        REFUSED,
        "",
        "not a value of launch-agent 0.13.12: its templates never read it (its ClusterRole grants Volcano jobs always; see rbac)",
    )


def _volcano_rights(m: _Mapper) -> None:
    if VOLCANO_GROUP in m.live.served_groups:
        m.out.setdefault("rbac", {}).setdefault("extraRules", []).append(dict(VOLCANO_RULE))
        m.a.outcome(
            "(ClusterRole) batch.volcano.sh jobs",
            MAPPED,
            "rbac.extraRules",
            "the old chart always grants Volcano jobs; this cluster serves them: create/get/list/watch/delete kept",
        )
    else:
        m.a.outcome(
            "(ClusterRole) batch.volcano.sh jobs",
            REFUSED,
            "rbac.extraRules",
            "the old chart always grants Volcano jobs, but this cluster does not serve batch.volcano.sh",
        )


KEYS: dict[str, Callable[[_Mapper, str], None]] = {
    "namespace": _namespace,
    "baseUrl": _base_url,
    "additionalTargetNamespaces": _targets,
    "launchConfig": _launch_config,
    "agent.useExternalWandbSecret": _external_secret,
    "agent.apiKey": _api_key,
    "agent.image": _image,
    "agent.imagePullPolicy": _pull_policy,
    "agent.resources": _resources,
    "agent.labels": _pod_labels,
    "agent.podAnnotations": _plain("podAnnotations"),
    "agent.nodeSelector": _plain("nodeSelector"),
    "agent.tolerations": _plain("tolerations"),
    "agent.affinity": _plain("affinity"),
    "agent.startTimeout": _start_timeout,
    "agent.minAvailable": _min_available,
    "additionalEnvVars": _env,
    "additionalSecretEnvVars": _secret_env,
    "gitCreds": _git_creds,
    "sshAuthSecrets": _ssh,
    "serviceAccount.annotations": _sa_annotations,
    "azureStorageAccessKey": _azure_key,
    "customCABundle.configMap.name": _ca_bundle,
    "customCABundle.configMap.key": _ca_bundle,
    "kanikoPvcName": _kaniko_pvc,
    "kanikoDockerConfigSecret": _kaniko_docker,
    "volcano": _volcano,
}
# Maps whose own keys are free-form (labels, resources, ...): one entry for the whole map.
_LEAF_MAPS = {
    "agent.resources",
    "agent.labels",
    "agent.podAnnotations",
    "agent.nodeSelector",
    "agent.affinity",
    "serviceAccount.annotations",
}


def value_keys(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of a values tree, down to KEYS' keys (or leaves KEYS does not know)."""
    keys = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and dotted not in KEYS and dotted not in _LEAF_MAPS:
            keys += value_keys(value, f"{dotted}.")
        else:
            keys.append(dotted)
    return keys


def map_values(
    values: Mapping[str, Any], user: Mapping[str, Any], *, release: str, source: str, target: Target, live: Live
) -> Adoption:
    """Our values for a release of the old chart: `values` all of them (`helm get values
    --all`), `user` those the user supplied (what was chosen, not defaulted)."""
    namespace = str(values.get("namespace") or "")
    if not namespace:
        raise InputError("--from-release", f"release {source} has no namespace value", "is it a launch-agent release?")
    adoption = Adoption(
        kind="official-chart",
        source=source,
        agent_namespace=namespace,
        deployment=ObjectRef("Deployment", f"launch-agent-{release}", namespace),
        values={},
    )
    mapper = _Mapper(values, user, release, target, live, adoption)
    seen = value_keys(values)
    for key in KEYS:
        if key in seen or key in ("agent.apiKey", "agent.useExternalWandbSecret"):
            KEYS[key](mapper, key)
    for key in seen:
        if key not in KEYS:
            adoption.outcome(key, REFUSED, "", "not a value of launch-agent 0.13.12 (its templates never read it)")
    _volcano_rights(mapper)
    if "apiKey" not in adoption.values:
        raise InputError(
            "--from-release", f"release {source} names no API key", "set agent.apiKey or agent.useExternalWandbSecret"
        )
    adoption.old_objects = [OldObject(ref, True, "the old release's (helm uninstall)") for ref in live.manifest]
    return adoption


def chart_name(chart_ref: str) -> str:
    """`launch-agent` of `launch-agent-0.13.12` (helm's NAME-VERSION)."""
    import re

    match = re.match(r"^(.*?)-v?\d+\.\d+\.\d+.*$", chart_ref or "")
    return match.group(1) if match else chart_ref


# Secrets of the old chart that adopting may copy: (namespace or None for the agent's, name template).
_SECRETS = (
    (None, "wandb-api-key-{release}"),
    (None, "git-creds"),
    ("wandb", "launch-agent-secret-env-vars"),
    ("wandb", "azure-storage-access-key"),
)
_CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
}


def read_release(api: Any, ref: Any, target: Target) -> Adoption:
    """Our values for a release of the old chart (`ref`: a ClusterRef naming it)."""
    from wandb_launch import helmclient, kube

    helm = helmclient.client(ref)
    try:
        status = helmclient.release_status(helm, ref)
        values = helmclient.release_values(helm, ref)
        user = helmclient.run(helm._command.get_values(ref.release, computed=False, namespace=ref.namespace)) or {}
        docs = helmclient.release_manifest(helm, ref)
    except InputError as e:
        raise InputError(
            "--from-release",
            e.problem,
            "name a release of W&B's launch-agent chart (--from-release NAME --from-namespace NS)",
        ) from None
    chart = str(status.get("chartRef") or "")
    if chart_name(chart) != CHART_NAME:
        raise InputError(
            "--from-release",
            f"release {ref.namespace}/{ref.release} is chart {chart}, not W&B's {CHART_NAME}",
            "name a release of the launch-agent chart, or --from-deployment for an agent applied by hand",
        )
    namespace = str(values.get("namespace") or ref.namespace)
    secrets: dict[tuple[str, str], frozenset[str]] = {}
    for ns, template in _SECRETS:
        where, name = ns or namespace, template.format(release=ref.release)
        code, body, _ = kube.request(api, "GET", f"/api/v1/namespaces/{where}/secrets/{name}")
        if code == 200:
            secrets[(where, name)] = frozenset((body.get("data") or {}).keys())
    code, groups, _ = kube.request(api, "GET", "/apis")
    served = frozenset(g["name"] for g in (groups or {}).get("groups", [])) if code == 200 else frozenset()
    manifest = tuple(
        ObjectRef(
            doc["kind"],
            doc["metadata"]["name"],
            "" if doc["kind"] in _CLUSTER_SCOPED else doc["metadata"].get("namespace") or ref.namespace,
        )
        for doc in docs
        if doc.get("kind") and doc.get("metadata")
    )
    source = f"release {ref.namespace}/{ref.release} ({chart})"
    adoption = map_values(
        values, user, release=ref.release, source=source, target=target, live=Live(served, secrets, manifest)
    )
    adoption.old_release = (ref.namespace, ref.release)
    return adoption
