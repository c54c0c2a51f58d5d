"""`install` / `upgrade`: the chart with checked values; the API key only ever travels on helm's stdin."""

from __future__ import annotations

import argparse
import sys

from wandb_launch.clouds import CLOUDS
from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument, cluster_ref

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
    for cloud in CLOUDS.values():
        if cloud.install_secret:
            parser.add_argument(cloud.install_secret.flag, metavar="VAR", help=cloud.install_secret.help)
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until the agent is ready, showing progress (helm's --atomic / --rollback-on-failure: "
        "a release that never gets ready is rolled back); without it a failure the cluster reports is rolled back too",
    )
    parser.add_argument("--timeout", default="5m", help="how long helm waits (default: 5m)")
    parser.add_argument("--chart", help="chart directory (default: the chart this wandb-launch carries, of its own version)")
    add_cluster_arguments(parser)
    add_output_argument(parser)


def _flag_value(args: argparse.Namespace, flag: str) -> str | None:
    return getattr(args, flag.lstrip("-").replace("-", "_"), None)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import installer, output, release
    from wandb_launch.chartvalues import find_chart

    upgrade = args.command == "upgrade"
    secret_flags = [c.install_secret.flag for c in CLOUDS.values() if c.install_secret]
    request = installer.InstallRequest(
        chart=find_chart(args.chart),
        value_files=tuple(args.values),
        api_key_env=args.api_key_env,
        existing_secret=args.existing_secret,
        existing_secret_key=args.existing_secret_key,
        secret_envs={flag: value for flag in secret_flags if (value := _flag_value(args, flag))},
        wait=args.wait,
        timeout=args.timeout,
        upgrade=upgrade,
    )
    ref = cluster_ref(args)
    progress = output.Progress(quiet=args.output != "table")
    try:
        revision, api, helm = installer.install(
            ref, request, progress, warn=lambda text: print(f"wandb-launch {args.command}: warning: {text}", file=sys.stderr)
        )
    except installer.HelmFailed as e:
        progress.done()
        print(f"wandb-launch {args.command}: helm failed: {e}", file=sys.stderr)
        return 1
    progress.done(
        f"{'upgraded' if upgrade else 'installed'} {ref.release}: revision {revision.revision}, {revision.status.value}"
    )
    status = release.collect_status(ref, api, helm)
    print(release.format_status(status) if args.output == "table" else output.dump(status, args.output))
    return 0
