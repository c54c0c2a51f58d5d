"""`wandb-launch demo` (`make demo`): install the agent with values/local.yaml, verify it,
and show its status, on the configured kube context or, when there is none, on a local
control plane started for the occasion (etcd, kube-apiserver, kube-controller-manager;
no kubelet, so the agent pod is admitted and stays Pending).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from wandb_launch.clusterref import DEFAULT_RELEASE, ClusterRef

PLACEHOLDER_KEY_ENV = "WANDB_LAUNCH_DEMO_API_KEY"
# Stored only in the demo's own cluster; the agent never gets to use it there.
PLACEHOLDER_KEY = "demo-placeholder-api-key-0000000000000000000000000000"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wandb-launch demo",
        description="Install the agent with values/local.yaml, run verify, print status: on the current kube "
        "context, or on a local control plane when none is configured.",
    )
    parser.add_argument(
        "--kubeconfig", default=None, help="use this kubeconfig's cluster (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--kube-context", default=None, help="use this context of the kubeconfig")
    parser.add_argument(
        "--local", action="store_true", help="use a local control plane even when a kube context is configured"
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="keep the local control plane until Ctrl-C and print its KUBECONFIG"
    )
    parser.add_argument(
        "--values", type=Path, default=None, help="values file (default: the checkout's values/local.yaml)"
    )
    parser.add_argument("--release", default=DEFAULT_RELEASE, help=f"Helm release name (default: {DEFAULT_RELEASE})")
    return parser


def configured_kubeconfig(explicit: str | None) -> Path | None:
    """The kubeconfig file with a current context, the way kubectl finds it; None on a fresh machine."""
    if explicit:
        return Path(explicit).expanduser()
    candidates = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    candidates.append(str(Path.home() / ".kube" / "config"))
    for candidate in candidates:
        path = Path(candidate).expanduser()
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(config, dict) and config.get("current-context"):
            return path
    return None


def local_values(explicit: Path | None) -> Path:
    from wandb_launch.chartvalues import find_chart
    from wandb_launch.errors import InputError

    values = explicit or find_chart().resolve().parent / "values" / "local.yaml"
    if not values.is_file():
        raise InputError(
            "--values", f"{values} not found", "run the demo from a checkout of the repository, or give --values FILE"
        )
    return values


def release_exists(ref: ClusterRef) -> bool:
    command = [ref.helm, "status", ref.release, "-n", ref.namespace, "--kubeconfig", str(ref.kubeconfig)]
    if ref.context:
        command += ["--kube-context", ref.context]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _step(title: str, step: Callable[[], int]) -> int:
    """One step as its command would run it: bad input is one line, and the demo goes on."""
    from wandb_launch.errors import EXIT_INPUT, InputError

    print(f"\n== wandb-launch {title} ==", flush=True)
    try:
        return step()
    except InputError as error:
        print(f"wandb-launch {title}: error: {error}", file=sys.stderr)
        return EXIT_INPUT


def run_steps(kubeconfig: Path, context: str | None, values: Path, release: str) -> int:
    """install (or upgrade) values/local.yaml, verify, status: the library calls the commands make."""
    from wandb_launch import installer, output, verifier
    from wandb_launch import release as releases
    from wandb_launch.chartvalues import find_chart
    from wandb_launch.errors import EXIT_FAILED_CHECKS

    helm = os.environ.get("HELM_BIN") or shutil.which("helm") or "helm"
    ref = ClusterRef(kubeconfig=str(kubeconfig), context=context, namespace="default", release=release, helm=helm)
    if os.environ.get("WANDB_API_KEY", "").strip():
        key_env = "WANDB_API_KEY"
    else:
        os.environ[PLACEHOLDER_KEY_ENV] = PLACEHOLDER_KEY
        key_env = PLACEHOLDER_KEY_ENV
        print("demo: WANDB_API_KEY is not set: storing a placeholder key (an agent that runs will fail to log in)")
    upgrade = release_exists(ref)
    clients: list[Any] = []

    def install() -> int:
        request = installer.InstallRequest(
            chart=find_chart(), value_files=(str(values),), api_key_env=key_env, upgrade=upgrade
        )
        progress = output.Progress()
        try:
            revision, api, helm_client = installer.install(ref, request, progress)
        except installer.HelmFailed as e:
            progress.done()
            print(f"wandb-launch {'upgrade' if upgrade else 'install'}: helm failed: {e}", file=sys.stderr)
            return 1
        clients[:] = [api, helm_client]
        progress.done(
            f"{'upgraded' if upgrade else 'installed'} {release}: revision {revision.revision}, {revision.status.value}"
        )
        print(releases.format_status(releases.collect_status(ref, api, helm_client)))
        return 0

    def verify() -> int:
        progress = output.Progress()
        progress.step("asking the API server about the agent's rights")
        try:
            results = verifier.verify_release(ref, *clients)
        finally:
            progress.done()
        print(verifier.format_results(results, show_all=False))
        return EXIT_FAILED_CHECKS if verifier.failed(results) else 0

    def status() -> int:
        print(releases.format_status(releases.collect_status(ref, *clients)))
        return 0

    code = _step("upgrade" if upgrade else "install", install)
    if code != 0:
        return code
    return max(_step("verify", verify), _step("status", status))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from wandb_launch.errors import EXIT_INPUT, InputError

    # A SIGTERM (CI timeout, `kill`) unwinds like Ctrl-C, so the control plane is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        values = local_values(args.values)
        kubeconfig = None if args.local else configured_kubeconfig(args.kubeconfig)
        if kubeconfig is not None:
            print(
                f"demo: using the configured cluster ({kubeconfig}{', context ' + args.kube_context if args.kube_context else ''})"
            )
            return run_steps(kubeconfig, args.kube_context, values, args.release)
        return run_on_local_control_plane(args, values)
    except InputError as error:
        print(f"wandb-launch demo: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("wandb-launch demo: interrupted", file=sys.stderr)
        return 130


def run_on_local_control_plane(args: argparse.Namespace, values: Path) -> int:
    from wandb_launch.controlplane import ControlPlaneError, LocalControlPlane

    print(
        "demo: no kube context configured: starting a local control plane "
        "(etcd, kube-apiserver, kube-controller-manager on 127.0.0.1)",
        flush=True,
    )
    try:
        control_plane = LocalControlPlane()
        control_plane.start()
    except ControlPlaneError as error:
        print(f"wandb-launch demo: error: {error}", file=sys.stderr)
        return 1
    try:
        print(f"demo: control plane ready in {control_plane.startup_seconds:.1f} s at {control_plane.server}")
        print(
            "demo: no kubelet runs here: the API server validates, authorizes and admits the agent's pod, "
            "but nothing runs it, so it stays Pending.",
            flush=True,
        )
        code = run_steps(control_plane.kubeconfig, None, values, args.release)
        print(
            "\ndemo: no kubelet runs here, so the agent pod above stays Pending; "
            "install on a real cluster (or kind) to run it."
        )
        if args.keep_running:
            print(
                f"demo: the control plane keeps running; in another shell:\n  export KUBECONFIG={control_plane.kubeconfig}\n"
                "Ctrl-C stops it.",
                flush=True,
            )
            threading.Event().wait()
        return code
    finally:
        control_plane.stop()
        print("demo: local control plane stopped and removed")
