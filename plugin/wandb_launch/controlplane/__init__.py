"""A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) for the
tests and the demo: real validation, RBAC, admission and controllers; no kubelet.
Optionally kube-scheduler and KWOK with simulated nodes (pods get phases, nothing runs)."""

from .binaries import cache_dir, find_binary, find_control_plane_binaries
from .errors import ControlPlaneError
from .launcher import CONTROLLERS, LocalControlPlane
from .nodes import SIMULATED_NODE_ANNOTATION, SIMULATED_NOTE, is_simulated_node

__all__ = [
    "CONTROLLERS",
    "ControlPlaneError",
    "LocalControlPlane",
    "SIMULATED_NODE_ANNOTATION",
    "SIMULATED_NOTE",
    "cache_dir",
    "find_binary",
    "find_control_plane_binaries",
    "is_simulated_node",
]
