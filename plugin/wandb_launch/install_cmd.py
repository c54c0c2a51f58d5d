"""`install` / `upgrade`: the chart with checked values; the API key only ever travels on helm's stdin."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument
from wandb_launch.errors import InputError

HELP = "install the chart with checked values, optionally wait (with progress), then show status"
UPGRADE_HELP = "upgrade the release with checked values, optionally wait (with progress), then show status"


def add_arguments(parser: argparse.ArgumentParser, upgrade: bool = False) -> None:
    parser.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="values file (repeatable), e.g. values/gke.yaml",
    )
    key = parser.add_argument_group("API key (never printed, never written to disk)")
    key.add_argument(
        "--api-key-env", metavar="VAR", help="environment variable holding the W&B API key, e.g. WANDB_API_KEY"
    )
    key.add_argument("--existing-secret", metavar="NAME", help="use this secret in the agent namespace instead")
    key.add_argument(
        "--existing-secret-key",
        metavar="KEY",
        default="password",
        help="key of the API key in --existing-secret (default: password)",
    )
    parser.add_argument(
        "--azure-storage-key-env", metavar="VAR", help="environment variable holding the Azure storage key (AKS kaniko)"
    )
    parser.add_argument("--wait", action="store_true", help="wait until the agent is ready, showing progress")
    parser.add_argument("--timeout", default="5m", help="how long helm waits (default: 5m)")
    parser.add_argument("--chart", help="chart directory (default: the chart this wandb-launch carries, of its own version)")
    add_cluster_arguments(parser)
    add_output_argument(parser)


def _secret_from_env(var: str, flag: str) -> str:
    value = os.environ.get(var, "")
    if not value.strip():
        raise InputError(flag, f"environment variable {var} is not set or empty", f"export {var}=... first")
    return value.strip()


def secret_values(args: argparse.Namespace, merged: dict[str, Any]) -> dict[str, Any]:
    """The values that carry secrets: sent to helm on stdin only."""
    layer: dict[str, Any] = {}
    api_key = merged.get("apiKey") or {}
    if args.api_key_env and args.existing_secret:
        raise InputError("--api-key-env", "and --existing-secret both given", "give one of them")
    if args.api_key_env:
        layer["apiKey"] = {"value": _secret_from_env(args.api_key_env, "--api-key-env"), "existingSecret": ""}
    elif args.existing_secret:
        layer["apiKey"] = {
            "value": "",
            "existingSecret": args.existing_secret,
            "existingSecretKey": args.existing_secret_key,
        }
    elif not (api_key.get("value") or api_key.get("existingSecret")):
        raise InputError(
            "--api-key-env", "no API key given", "give --api-key-env WANDB_API_KEY or --existing-secret NAME"
        )
    launch = merged.get("launchConfig") or {}
    azure_kaniko = (launch.get("environment") or {}).get("type") == "azure" and (launch.get("builder") or {}).get(
        "type"
    ) == "kaniko"
    if args.azure_storage_key_env:
        layer["kaniko"] = {
            "azureStorage": {"accessKey": _secret_from_env(args.azure_storage_key_env, "--azure-storage-key-env")}
        }
    elif azure_kaniko and not ((merged.get("kaniko") or {}).get("azureStorage") or {}).get("accessKey"):
        raise InputError(
            "--azure-storage-key-env",
            "kaniko on Azure needs the storage account key (secret azure-storage-access-key)",
            "give --azure-storage-key-env AZURE_STORAGE_KEY",
        )
    return layer


def checked_values(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Chart, the values layers, and their merge over the chart's defaults, launch config checked."""
    from wandb_launch import chartvalues, selfcheck

    chart = chartvalues.find_chart(args.chart)
    layers = []
    for path in args.values:
        layer = chartvalues.load_yaml_file(path, f"--values {path}")
        if layer is not None and not isinstance(layer, dict):
            raise InputError(f"--values {path}", "is not a mapping of chart values", "write it as key: value pairs")
        layers.append(layer or {})
    merged = chartvalues.merged_values(chart, *layers)
    config, _ = selfcheck.resolve_launch_config(chartvalues.launch_config(merged, args.release), {})
    problems = selfcheck.agent_config_problems(config)
    if problems:
        where = "launchConfig" + (f" (from {', '.join(args.values)})" if args.values else "")
        raise InputError(
            where,
            f"the agent would refuse it: {problems[0]}",
            "fix the values, or regenerate them with `wandb-launch values`",
        )
    return chart, layers, merged


def _watch_rollout(
    args: argparse.Namespace, api: Any, merged: dict[str, Any], progress: Any, stop: threading.Event
) -> None:
    """Progress while helm waits: the agent Deployment's readiness and its pods' state."""
    from kubernetes import client

    from wandb_launch import chartvalues
    from wandb_launch.status_cmd import instance_selector

    namespace = chartvalues.agent_namespace(merged, args.namespace)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    while not stop.wait(1.0):
        try:
            deployments = apps.list_namespaced_deployment(
                namespace, label_selector=instance_selector(args.release)
            ).items
            if not deployments:
                progress.step(f"helm is applying the chart to {namespace}")
                continue
            d = deployments[0]
            pods = core.list_namespaced_pod(namespace, label_selector=instance_selector(args.release)).items
            states = []
            for p in pods:
                waiting = [
                    s.state.waiting.reason for s in p.status.container_statuses or [] if s.state and s.state.waiting
                ]
                states.append(
                    f"{p.metadata.name[-5:]} {p.status.phase}{' (' + ', '.join(waiting) + ')' if waiting else ''}"
                )
            progress.step(
                f"waiting for the agent: {d.status.ready_replicas or 0}/{d.spec.replicas} ready; pods: {'; '.join(states) or 'none yet'}"
            )
        except Exception:  # progress is best effort; helm's answer decides
            continue


def run(args: argparse.Namespace) -> int:
    from pyhelm3 import errors as helm_errors

    from wandb_launch import chartvalues, helmclient, kube, output, status_cmd

    upgrade = args.command == "upgrade"
    chart, layers, merged = checked_values(args)
    secrets = secret_values(args, merged)
    api = kube.connect(args)
    helm = helmclient.client(args)
    exists = True
    try:
        helmclient.release_status(helm, args)
    except InputError:
        exists = False
    if exists and not upgrade:
        raise InputError(
            "--release",
            f"release {args.release!r} already exists in namespace {args.namespace}",
            "use `upgrade`, or another --release",
        )
    if upgrade and not exists:
        raise InputError(
            "--release", f"release {args.release!r} not found in namespace {args.namespace}", "use `install` first"
        )
    progress = output.Progress(quiet=args.output != "table")
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_rollout, args=(args, api, merged, progress, stop), daemon=True)
    progress.step(f"helm {'upgrade' if upgrade else 'install'} {args.release} ({chart})")
    if args.wait:
        watcher.start()
    try:
        chart_ref = helmclient.run(helm.get_chart(chart.resolve()))
        # One layer merged the way `helm -f a -f b` merges (pyhelm3 would concatenate lists).
        values: dict[str, Any] = {}
        for layer in [*layers, secrets]:
            values = chartvalues.deep_merge(values, layer)
        revision = helmclient.run(
            helm.install_or_upgrade_release(
                args.release,
                chart_ref,
                values,
                namespace=args.namespace,
                create_namespace=False,
                wait=args.wait,
                timeout=args.timeout,
            )
        )
    except helm_errors.Error as e:
        progress.done()
        lines = [line for line in e.stderr.decode(errors="replace").splitlines() if line.strip()]
        print(f"wandb-launch {args.command}: helm failed: {lines[-1] if lines else 'no message'}", file=sys.stderr)
        return 1
    finally:
        stop.set()
    progress.done(
        f"{'upgraded' if upgrade else 'installed'} {args.release}: revision {revision.revision}, {revision.status.value}"
    )
    status = status_cmd.collect(args, api=api, helm=helm)
    print(status_cmd.render(status) if args.output == "table" else output.dump(status, args.output))
    return 0
