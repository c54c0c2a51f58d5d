"""Where the control-plane binaries are: the project's build cache first, then PATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..toolcache import cache_dir
from .errors import ControlPlaneError

CONTROL_PLANE_BINARIES: tuple[str, ...] = ("etcd", "kube-apiserver", "kube-controller-manager")


def find_binary(name: str) -> Path:
    """The pinned build in the cache wins over PATH, so a system kube-apiserver of another release is not picked."""
    cached = cache_dir() / "bin" / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise ControlPlaneError(
        f"{name} not found in {cache_dir() / 'bin'} or on PATH: run `make control-plane` "
        "(builds etcd, kube-apiserver and kube-controller-manager once into that cache)"
    )


def find_control_plane_binaries() -> dict[str, Path]:
    return {name: find_binary(name) for name in CONTROL_PLANE_BINARIES}
