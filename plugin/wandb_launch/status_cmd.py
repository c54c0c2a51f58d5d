"""`status`: the release, the agent's Deployment and pods, recent warnings, and what the agent is set up to do."""

from __future__ import annotations

import argparse

from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument, cluster_ref

HELP = "release, agent image, readiness, pods, recent warnings (Pod Security, RBAC), queues, builder, namespaces"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_cluster_arguments(parser)
    add_output_argument(parser)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import helmclient, kube, output, release

    ref = cluster_ref(args)
    status = release.collect_status(ref, kube.connect(ref), helmclient.client(ref))
    print(release.format_status(status) if args.output == "table" else output.dump(status, args.output))
    return 0
