"""Helm: the binary's check, and a pyhelm3 client for a release (ClusterRef)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from wandb_launch.clusterref import ClusterRef
from wandb_launch.errors import InputError

T = TypeVar("T")


def require_helm(binary: str) -> str:
    """The helm executable's path, or one line naming --helm-bin."""
    found = shutil.which(binary)
    if not found:
        raise InputError("--helm-bin", f"{binary!r} is not an executable", "install helm or set HELM_BIN")
    return found


def client(ref: ClusterRef) -> Any:
    from pyhelm3 import Client

    # pyhelm3 logs every failed helm call as a warning, including the expected ones
    # (`helm status` of a release not installed yet); failures reach us as exceptions.
    logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
    require_helm(ref.helm)
    command = _command_class()(
        executable=ref.helm,
        kubeconfig=Path(ref.kubeconfig) if ref.kubeconfig else None,
        kubecontext=ref.context,
    )
    return Client(command, executable=ref.helm)


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
    import asyncio

    return asyncio.run(coro)


def _not_found(ref: ClusterRef) -> InputError:
    return InputError(
        "--release",
        f"release {ref.release!r} not found in namespace {ref.namespace}",
        "install it, or pass -n/--namespace and --release of the right one",
    )


def release_values(helm: Any, ref: ClusterRef) -> dict[str, Any]:
    """All values of the installed release (chart defaults included)."""
    from pyhelm3 import errors

    try:
        return run(helm._command.get_values(ref.release, computed=True, namespace=ref.namespace)) or {}
    except errors.ReleaseNotFoundError:
        raise _not_found(ref) from None


def release_manifest(helm: Any, ref: ClusterRef) -> list[dict[str, Any]]:
    """The objects of the installed release (`helm get manifest`), as the chart rendered them."""
    from pyhelm3 import errors

    try:
        return [doc for doc in run(helm._command.get_resources(ref.release, namespace=ref.namespace)) if doc]
    except errors.ReleaseNotFoundError:
        raise _not_found(ref) from None


def release_status(helm: Any, ref: ClusterRef) -> dict[str, Any]:
    """`helm status`, with the chart and app version of the last revision (`helm history`),
    which `helm status -o json` leaves out."""
    from pyhelm3 import errors

    try:
        status = run(helm._command.status(ref.release, namespace=ref.namespace))
        last = list(run(helm._command.history(ref.release, max_revisions=1, namespace=ref.namespace)))[-1:]
        status["chartRef"] = last[0].get("chart") if last else None
        status["appVersion"] = last[0].get("app_version") if last else None
        return status
    except errors.ReleaseNotFoundError:
        raise _not_found(ref) from None


def deployed_revision(helm: Any, ref: ClusterRef) -> int | None:
    """The release's revision in state `deployed` (the one running), if any."""
    from pyhelm3 import errors

    try:
        history = list(run(helm._command.history(ref.release, max_revisions=256, namespace=ref.namespace)))
    except errors.ReleaseNotFoundError:
        return None
    deployed = [entry["revision"] for entry in history if entry.get("status") == "deployed"]
    return int(deployed[-1]) if deployed else None


def helm_error_line(error: Any) -> str:
    """The last non-empty line of a failed helm call's stderr (pyhelm3 `errors.Error`): helm's own
    reason, without the tab and bullet helm puts before each error of a list."""
    lines = [line.strip() for line in error.stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("* ") if lines else "no message"


def apply_release(helm: Any, ref: ClusterRef, chart: Path, values: dict[str, Any], *, wait: bool, timeout: str) -> Any:
    """`helm upgrade --install` of the chart directory into the release's namespace (never
    created here: the chart owns namespaces); returns pyhelm3's revision.

    With `wait`, helm's own roll-back flag is added (`--rollback-on-failure` on Helm 4,
    `--atomic` on Helm 3; both imply the wait). pyhelm3's `errors.Error` passes through:
    `helm_error_line` gives its one line."""
    rollback_flag = {"rollback_on_failure": True} if helm.version.major >= 4 else {"atomic": True}
    chart_ref = run(helm.get_chart(chart.resolve()))
    return run(
        helm.install_or_upgrade_release(
            ref.release,
            chart_ref,
            values,
            namespace=ref.namespace,
            create_namespace=False,
            wait=wait,
            timeout=timeout,
            **(rollback_flag if wait else {}),
        )
    )
