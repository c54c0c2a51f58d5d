"""Flags shared by the commands that talk to a cluster, with Helm's plugin env as defaults.

As a Helm plugin, Helm passes its own flags to us as HELM_NAMESPACE, HELM_KUBECONTEXT,
KUBECONFIG and HELM_BIN; the wrapper script maps nothing, we read them here, once.
"""

from __future__ import annotations

import argparse
import os

from wandb_launch.clusterref import DEFAULT_RELEASE, ClusterRef


def add_helm_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--helm-bin", default=os.environ.get("HELM_BIN") or "helm", help="helm binary (default: $HELM_BIN or helm)"
    )


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG") or None,
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    group.add_argument(
        "--kube-context",
        default=os.environ.get("HELM_KUBECONTEXT") or None,
        help="kube context (default: $HELM_KUBECONTEXT, the current one)",
    )
    group.add_argument(
        "-n",
        "--namespace",
        default=os.environ.get("HELM_NAMESPACE") or "default",
        help="namespace of the Helm release (default: $HELM_NAMESPACE or default)",
    )
    group.add_argument("--release", default=DEFAULT_RELEASE, help=f"Helm release name (default: {DEFAULT_RELEASE})")
    add_helm_argument(group)


def cluster_ref(args: argparse.Namespace) -> ClusterRef:
    """The release the flags name (after add_cluster_arguments)."""
    return ClusterRef(
        kubeconfig=args.kubeconfig,
        context=args.kube_context,
        namespace=args.namespace,
        release=args.release,
        helm=args.helm_bin,
    )


def add_output_argument(parser: argparse.ArgumentParser, default: str = "table") -> None:
    parser.add_argument(
        "-o", "--output", choices=("table", "json", "yaml"), default=default, help=f"output format (default: {default})"
    )
