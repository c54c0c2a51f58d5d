"""Helm through pyhelm3, with the binary from --helm-bin / $HELM_BIN."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from wandb_launch.errors import InputError

T = TypeVar("T")


def client(args: argparse.Namespace) -> Any:
    from pyhelm3 import Client

    # pyhelm3 logs every failed helm call as a warning, including the expected ones
    # (`helm status` of a release not installed yet); failures reach us as exceptions.
    logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
    if not shutil.which(args.helm_bin):
        raise InputError("--helm-bin", f"{args.helm_bin!r} is not an executable", "install helm or set HELM_BIN")
    command = _command_class()(
        executable=args.helm_bin,
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
        kubecontext=args.kube_context,
    )
    return Client(command, executable=args.helm_bin)


def _command_class() -> type:
    from pyhelm3 import Command

    class Helm(Command):  # type: ignore[misc, valid-type]
        """pyhelm3's Command, reading versions like `v3.22` too.

        A helm built with `go install` (no release ldflags) reports its version as
        `v3.22`, which pyhelm3 cannot parse as SemVer; pad it to `3.22.0`.
        """

        def client_version(self) -> Any:
            import subprocess

            import semver

            out = subprocess.run(
                [self._executable, "version", "--template", "{{ .Version }}"],
                capture_output=True,
                text=True,
                check=True,
            )
            core, _, rest = out.stdout.strip().removeprefix("v").partition("-")
            parts = (core.split(".") + ["0", "0"])[:3]
            return semver.Version.parse(".".join(parts) + (f"-{rest}" if rest else ""))

    return Helm


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _not_found(args: argparse.Namespace) -> InputError:
    return InputError(
        "--release",
        f"release {args.release!r} not found in namespace {args.namespace}",
        "install it, or pass -n/--namespace and --release of the right one",
    )


def release_values(helm: Any, args: argparse.Namespace) -> dict[str, Any]:
    """All values of the installed release (chart defaults included)."""
    from pyhelm3 import errors

    try:
        return run(helm._command.get_values(args.release, computed=True, namespace=args.namespace)) or {}
    except errors.ReleaseNotFoundError:
        raise _not_found(args) from None


def release_status(helm: Any, args: argparse.Namespace) -> dict[str, Any]:
    """`helm status`, with the chart and app version of the last revision (`helm history`),
    which `helm status -o json` leaves out."""
    from pyhelm3 import errors

    try:
        status = run(helm._command.status(args.release, namespace=args.namespace))
        last = list(run(helm._command.history(args.release, max_revisions=1, namespace=args.namespace)))[-1:]
        status["chartRef"] = last[0].get("chart") if last else None
        status["appVersion"] = last[0].get("app_version") if last else None
        return status
    except errors.ReleaseNotFoundError:
        raise _not_found(args) from None
