"""`cleanup`: delete the pods of the agent's runs (and builds) whose Job is gone.

The agent deletes a stopped run's Job with no propagation policy, and batch/v1 then keeps the
pods running without an owner. The chart prevents that where the API server serves
MutatingAdmissionPolicy (stoppedRuns.deletePods); elsewhere, or for pods orphaned before the
policy existed, this command removes them: a dry run unless --yes.
"""

from __future__ import annotations

import argparse
import sys

from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument, cluster_ref
from wandb_launch.errors import EXIT_FAILED_CHECKS

HELP = "list the orphaned pods of the agent's runs (their Job is gone); --yes deletes them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wandb_launch.runs import CLEANUP_RIGHTS

    parser.add_argument("--yes", action="store_true", help="delete them (without it: a dry run that deletes nothing)")
    parser.epilog = "Rights it uses: " + "; ".join(CLEANUP_RIGHTS) + "."
    add_cluster_arguments(parser)
    add_output_argument(parser)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import helmclient, kube, output, release, runs

    ref = cluster_ref(args)
    api = kube.connect(ref)
    helm = helmclient.client(ref)
    names = release.rendered(helm, ref).names
    targets = list(helmclient.release_values(helm, ref).get("targetNamespaces") or [])
    scope = runs.Scope.of(names, targets)
    try:
        found = runs.collect(api, scope, jobs=False)["orphanedPods"]
        deleted = runs.delete_orphans(api, found) if args.yes and found else []
    except runs.NotAllowed as e:
        print(f"wandb-launch cleanup: {e}; it needs to: {'; '.join(runs.CLEANUP_RIGHTS)}", file=sys.stderr)
        return EXIT_FAILED_CHECKS
    report = {
        "dryRun": not args.yes,
        "namespaces": scope.namespaces,
        "orphanedPods": found,
        "deleted": [f"{d['namespace']}/{d['pod']}" for d in deleted],
        "rights": list(runs.CLEANUP_RIGHTS),
    }
    if args.output != "table":
        print(output.dump(report, args.output))
        return 0
    if not found:
        print(f"no orphaned pods of release {ref.release} in {', '.join(scope.namespaces)}")
        return 0
    print(runs.format_orphans(found))
    if args.yes:
        print(f"deleted {len(deleted)} of {len(found)} orphaned pods")
    else:
        print(f"dry run: {len(found)} orphaned pods would be deleted; run again with --yes to delete them")
    return 0
