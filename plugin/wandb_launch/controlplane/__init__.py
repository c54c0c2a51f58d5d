"""A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) for the
tests and the demo: real validation, RBAC, admission and controllers; no kubelet."""

from .binaries import cache_dir, find_binary, find_control_plane_binaries
from .errors import ControlPlaneError
from .launcher import CONTROLLERS, LocalControlPlane

__all__ = [
    "CONTROLLERS",
    "ControlPlaneError",
    "LocalControlPlane",
    "cache_dir",
    "find_binary",
    "find_control_plane_binaries",
]
