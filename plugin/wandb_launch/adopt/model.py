"""What adopting an agent produces: our values, the fate of every old key, the old objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What became of one key (or setting) of the old agent.
MAPPED = "mapped"  # carried into our values
ADDED = "added"  # carried into a key our chart gained for it
DEFAULT = "default"  # the old chart's own default: ours applies its own (said how)
REFUSED = "refused"  # not carried over, with the reason
OUTCOMES = (MAPPED, ADDED, DEFAULT, REFUSED)


@dataclass(frozen=True)
class KeyOutcome:
    """One key of the old agent and what became of it."""

    key: str  # the old chart's value key (dotted), or a setting of a hand-applied agent
    outcome: str  # one of OUTCOMES
    to: str = ""  # our key(s) it went to
    note: str = ""  # the reason, or what changed on the way


# API paths of the kinds adopt reads and removes.
_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps/{name}",
    "Secret": "/api/v1/namespaces/{ns}/secrets/{name}",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{name}",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}",
    "Namespace": "/api/v1/namespaces/{name}",
}
KNOWN_KINDS = frozenset(_PATHS)


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object, addressed for a delete or a get."""

    kind: str
    name: str
    namespace: str = ""  # "" for cluster-scoped objects

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    @property
    def path(self) -> str:
        """Its API path (adopt knows the kinds an agent is made of; others raise KeyError)."""
        return _PATHS[self.kind].format(ns=self.namespace, name=self.name)


@dataclass(frozen=True)
class OldObject:
    """An object of the old agent: removed after the switch, or kept (and why)."""

    ref: ObjectRef
    remove: bool
    why: str


@dataclass(frozen=True)
class SecretCopy:
    """A secret the old agent owned that our values refer to: copied, key by key, into a
    secret the user then manages (made before our install, or after the old one is gone
    when its name is fixed)."""

    source: ObjectRef
    target: ObjectRef
    keys: tuple[tuple[str, str], ...]  # (key in source, key in target)
    why: str
    after_removal: bool = False  # the name is fixed (the SDK's): made once the old one is gone


@dataclass
class Adoption:
    """A running agent, read from the cluster and turned into our values."""

    kind: str  # "official-chart" or "hand-applied"
    source: str  # e.g. "release wandb/la (launch-agent-0.13.12)"
    agent_namespace: str
    deployment: ObjectRef  # the old agent's Deployment
    values: dict[str, Any]  # our chart's values: no secret in them
    outcomes: list[KeyOutcome] = field(default_factory=list)
    copies: list[SecretCopy] = field(default_factory=list)
    old_objects: list[OldObject] = field(default_factory=list)
    old_release: tuple[str, str] | None = None  # (namespace, name) of the official chart's release
    # Workload identity keyed by the old service account's name, which our agent does not keep.
    identity_warning: str = ""

    def outcome(self, key: str, outcome: str, to: str = "", note: str = "") -> None:
        self.outcomes.append(KeyOutcome(key, outcome, to, note))


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted key (`git.existingSecret`) in nested values, making the mappings on the way."""
    node = values
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
