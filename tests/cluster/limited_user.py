"""A user with exactly the rights a command states (e.g. `wandb-launch cleanup`): a service
account bound to Roles of those rules only, and a kubeconfig with its token, so the command
runs (helm included) as that user and the API server's authorizer judges every request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml


@contextlib.contextmanager
def limited_user(
    admin: kubernetes.client.ApiClient, kubeconfig: Path, workdir: Path, *, name: str, home: str,
    rules: Mapping[str, Sequence[dict[str, Any]]],
) -> Iterator[tuple[Path, str]]:
    """(kubeconfig path, user name) of service account `name` in namespace `home`, granted
    `rules[namespace]` in each namespace by a Role and RoleBinding; removed afterwards."""
    core, rbac = kubernetes.client.CoreV1Api(admin), kubernetes.client.RbacAuthorizationV1Api(admin)
    core.create_namespaced_service_account(home, {"metadata": {"name": name}})
    try:
        for namespace, namespace_rules in rules.items():
            rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": list(namespace_rules)})
            rbac.create_namespaced_role_binding(namespace, {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": home}],
            })
        token = core.create_namespaced_service_account_token(
            name, home, {"spec": {"audiences": [], "expirationSeconds": 600}}).status.token
        config = yaml.safe_load(kubeconfig.read_text())
        config["users"] = [{"name": name, "user": {"token": token}}]
        for context in config["contexts"]:
            context["context"]["user"] = name
        path = workdir / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        yield path, f"system:serviceaccount:{home}:{name}"
    finally:
        for namespace in rules:
            with contextlib.suppress(kubernetes.client.ApiException):
                rbac.delete_namespaced_role_binding(name, namespace)
            with contextlib.suppress(kubernetes.client.ApiException):
                rbac.delete_namespaced_role(name, namespace)
        with contextlib.suppress(kubernetes.client.ApiException):
            core.delete_namespaced_service_account(name, home)
