"""`verify`: check a live install with the checks the chart's `helm test` pod runs."""

from __future__ import annotations

import argparse

from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument, cluster_ref
from wandb_launch.errors import EXIT_FAILED_CHECKS

HELP = "check a live install: RBAC (and rights beyond needs), API-key secrets, Pod Security, launch config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="list passing checks too (default: problems and a summary)")
    parser.add_argument("--chart", help="chart whose checks and RBAC needs are used (default: the repository's chart/)")
    add_cluster_arguments(parser)
    add_output_argument(parser)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import helmclient, kube, output, verifier
    from wandb_launch.chartvalues import find_chart

    chart = find_chart(args.chart)
    ref = cluster_ref(args)
    api = kube.connect(ref)
    progress = output.Progress(quiet=args.output != "table")
    progress.step("asking the API server about the agent's rights")
    try:
        results = verifier.verify_release(ref, api, helmclient.client(ref), chart)
    finally:
        progress.done()
    if args.output == "table":
        print(verifier.format_results(results, args.all, chart))
    else:
        print(output.dump([r.as_dict() for r in results], args.output))
    return EXIT_FAILED_CHECKS if verifier.failed(results, chart) else 0
