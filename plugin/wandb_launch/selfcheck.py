"""What the launch agent needs from the Kubernetes API, and the checks of a live install.

This one file is also shipped inside the chart (`chart/files/selfcheck.py`) and run by
the `helm test` pod, so it imports only the standard library at module level.
"""

from __future__ import annotations

from typing import NamedTuple


class Need(NamedTuple):
    """One API permission the agent uses: API group, resource (with subresource), verbs."""

    group: str
    resource: str
    verbs: tuple[str, ...]


# API calls the agent makes in every namespace it launches runs into
# (wandb SDK 0.31.0: runner/kubernetes_runner.py, runner/kubernetes_monitor.py).
TARGET_NAMESPACE_NEEDS: tuple[Need, ...] = (
    Need("batch", "jobs", ("create", "get", "list", "watch", "delete")),
    Need("batch", "jobs/status", ("get",)),
    Need("", "pods", ("get", "list", "watch")),
    Need("", "pods/log", ("get",)),
    Need("", "secrets", ("create", "get", "delete")),
)

# In its own namespace it also runs kaniko build Jobs (covered above) and keeps the
# build context in configmaps (builder/kaniko_builder.py).
AGENT_NAMESPACE_NEEDS: tuple[Need, ...] = TARGET_NAMESPACE_NEEDS + (
    Need("", "configmaps", ("create", "delete")),
)

# The SDK's optional "additional services" (rbac.additionalServices in the chart): it
# creates them, waits for deployments / endpoints / pods, and deletes them by label
# (runner/kubernetes_runner.py: _prepare_resource, _delete_auxiliary_resources_by_label).
ADDITIONAL_SERVICES_NEEDS: tuple[Need, ...] = (
    Need("", "services", ("create", "list", "delete")),
    Need("apps", "deployments", ("create", "get", "list", "delete")),
    Need("networking.k8s.io", "networkpolicies", ("create", "list", "delete")),
    Need("", "endpoints", ("get",)),
    Need("", "pods", ("delete",)),
    Need("", "secrets", ("list",)),
)
