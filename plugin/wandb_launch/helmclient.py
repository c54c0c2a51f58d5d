"""Helm through pyhelm3, with the binary from --helm-bin / $HELM_BIN."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from wandb_launch.errors import InputError

T = TypeVar("T")


def client(args: argparse.Namespace) -> Any:
    from pyhelm3 import Client

    if not shutil.which(args.helm_bin):
        raise InputError("--helm-bin", f"{args.helm_bin!r} is not an executable", "install helm or set HELM_BIN")
    return Client(
        executable=args.helm_bin,
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
        kubecontext=args.kube_context,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def release_values(helm: Any, args: argparse.Namespace) -> dict[str, Any]:
    """All values of the installed release (chart defaults included)."""
    from pyhelm3 import errors

    try:
        return run(helm._command.get_values(args.release, computed=True, namespace=args.namespace)) or {}
    except errors.ReleaseNotFoundError:
        raise InputError(
            "--release",
            f"release {args.release!r} not found in namespace {args.namespace}",
            "install it, or pass -n/--namespace and --release of the right one",
        ) from None


def release_status(helm: Any, args: argparse.Namespace) -> dict[str, Any]:
    from pyhelm3 import errors

    try:
        return run(helm._command.status(args.release, namespace=args.namespace))
    except errors.ReleaseNotFoundError:
        raise InputError(
            "--release",
            f"release {args.release!r} not found in namespace {args.namespace}",
            "install it, or pass -n/--namespace and --release of the right one",
        ) from None
