"""`adopt`: turn a running launch agent (a release of W&B's launch-agent chart, or one applied
by hand) into this chart's values, and with --apply replace it by our release."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from wandb_launch.clusterargs import (
    add_cluster_arguments,
    add_output_argument,
    cluster_ref,
)
from wandb_launch.errors import EXIT_FAILED_CHECKS, InputError

HELP = "turn a running agent (W&B's launch-agent chart, or applied by hand) into values; --apply replaces it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    old = parser.add_argument_group("the agent to adopt (default: the one found in the cluster)")
    old.add_argument("--from-release", metavar="NAME", help="a release of W&B's launch-agent chart")
    old.add_argument(
        "--from-namespace", metavar="NS", help="namespace of --from-release (default: found with helm list -A)"
    )
    old.add_argument("--from-deployment", metavar="NS/NAME", help="the Deployment of an agent applied by hand")
    old.add_argument(
        "--target-namespace",
        action="append",
        metavar="NS",
        help="namespaces its runs go to, when its rights cannot tell (repeatable; hand-applied agents only)",
    )
    parser.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="values laid over the adopted ones (repeatable), e.g. a builder destination adopt cannot derive",
    )
    parser.add_argument(
        "--values-out", metavar="FILE", help="write the adopted values here (no secret is ever in them)"
    )
    parser.add_argument(
        "--keep-image", action="store_true", help="keep the old agent's image tag instead of the chart's pinned one"
    )
    switch = parser.add_argument_group("replacing the old agent")
    switch.add_argument(
        "--apply",
        action="store_true",
        help="install ours, wait until it is Available, then remove the old agent (default: a dry run that changes nothing)",
    )
    switch.add_argument(
        "--identity-bound",
        action="store_true",
        help="the cloud identity of the old service account also trusts ours (adopt says what to bind)",
    )
    switch.add_argument("--timeout", default="5m", help="how long to wait for our agent, and for helm (default: 5m)")
    switch.add_argument(
        "--settle",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="our agent must stay ready this long, without a restart, before the old one goes (default: 10)",
    )
    parser.add_argument("--chart", help="chart directory (default: the repository's chart/)")
    add_cluster_arguments(parser)
    add_output_argument(parser)


def seconds(text: str) -> float:
    """Helm's duration form (`300`, `300s`, `5m`, `1m30s`) in seconds."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise InputError("--timeout", f"{text!r} is not a duration", "write it as 300s, 5m or 1m30s")
    h, m, s = (int(g) if g else 0 for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def _check_flags(args: argparse.Namespace) -> None:
    if args.from_release and args.from_deployment:
        raise InputError("--from-release", "and --from-deployment both given", "give one of them")
    if args.from_namespace and not args.from_release:
        raise InputError("--from-namespace", "given without --from-release", "add --from-release NAME, or drop it")
    if args.from_deployment and args.from_deployment.count("/") != 1:
        raise InputError(
            "--from-deployment",
            f"{args.from_deployment!r} is not NAMESPACE/NAME",
            "e.g. --from-deployment wandb/launch-agent",
        )
    if args.target_namespace and args.from_release:
        raise InputError("--target-namespace", "is for agents applied by hand", "the release's values name its targets")
    if args.apply and not args.values_out:
        raise InputError(
            "--values-out",
            "--apply installs from a values file you keep",
            "name it, e.g. --values-out wandb-launch-values.yaml",
        )
    if args.settle < 0:
        raise InputError("--settle", f"{args.settle} is negative", "give seconds, e.g. --settle 10")


def _pick(api: Any, ref: Any, args: argparse.Namespace) -> tuple[str, str, str]:
    """(kind, namespace, name) of the agent to adopt."""
    from wandb_launch.adopt import discover

    if args.from_deployment:
        ns, name = args.from_deployment.split("/")
        return "deployment", ns, name
    if args.from_release:
        if args.from_namespace:
            return "release", args.from_namespace, args.from_release
        found = [f for f in discover.official_releases(ref) if f.name == args.from_release]
        if not found:
            raise InputError(
                "--from-release",
                f"no release of W&B's launch-agent chart named {args.from_release}",
                "check `helm list -A`, and give --from-namespace",
            )
        if len(found) > 1:
            raise InputError(
                "--from-release",
                f"{len(found)} releases named {args.from_release}: {', '.join(map(str, found))}",
                "give --from-namespace",
            )
        return "release", found[0].namespace, found[0].name
    found = discover.agents(api, ref)
    if not found:
        raise InputError(
            "adopt",
            "no launch agent found in the cluster (no release of W&B's launch-agent chart, no Deployment running wandb/launch-agent)",
            "name it with --from-release NAME or --from-deployment NS/NAME",
        )
    if len(found) > 1:
        raise InputError(
            "adopt",
            f"found {len(found)} agents: {'; '.join(map(str, found))}",
            "pick one with --from-release NAME --from-namespace NS or --from-deployment NS/NAME",
        )
    return found[0].kind, found[0].namespace, found[0].name


def _read(api: Any, ref: Any, args: argparse.Namespace) -> Any:
    from wandb_launch import kube
    from wandb_launch.adopt import handapplied, official
    from wandb_launch.clusterref import ClusterRef

    target = official.Target(release=ref.release, keep_image=args.keep_image)
    kind, ns, name = _pick(api, ref, args)
    if kind == "release":
        old = ClusterRef(kubeconfig=ref.kubeconfig, context=ref.context, namespace=ns, release=name, helm=ref.helm)
        return official.read_release(api, old, target)
    status, deployment, _ = kube.request(api, "GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    if status == 404:
        raise InputError("--from-deployment", f"deployment {ns}/{name} not found", "check `kubectl get deployments -A`")
    if handapplied.is_helm_managed(deployment):
        release = deployment["metadata"]["annotations"]["meta.helm.sh/release-name"]
        raise InputError(
            "--from-deployment",
            f"deployment {ns}/{name} belongs to helm release {release}",
            f"adopt the release: --from-release {release}",
        )
    return handapplied.read(api, deployment, target, targets=args.target_namespace)


def _checked(ref: Any, args: argparse.Namespace, adoption: Any) -> tuple[dict[str, Any], Any]:
    """Our values (the adopted ones, -f files over them) and what the chart renders of them;
    refused here, before any change, when the chart or the SDK would refuse them."""
    from wandb_launch import chartoutput, offlinecheck
    from wandb_launch.chartvalues import deep_merge, find_chart, load_yaml_file

    chart = find_chart(args.chart)
    values = adoption.values
    for path in args.values:
        layer = load_yaml_file(path, f"--values {path}")
        if layer is not None and not isinstance(layer, dict):
            raise InputError(f"--values {path}", "is not a mapping of chart values", "write it as key: value pairs")
        values = deep_merge(values, layer or {})
    try:
        rendered = chartoutput.render(chart, helm=ref.helm, release=ref.release, namespace=ref.namespace, values=values)
    except chartoutput.ChartRefused as refused:
        raise InputError(
            f"values adopted from {adoption.source}",
            f"the chart refuses them: {refused}",
            "give the missing or right value with -f FILE",
        ) from None
    problems, _ = offlinecheck.launch_config_problems(rendered.launch_config, chart=chart)
    if problems:
        raise InputError(
            f"launch config adopted from {adoption.source}",
            f"the agent would refuse it: {problems[0]}",
            "fix it with -f FILE",
        )
    return values, rendered


def identity_instructions(annotations: str, namespace: str, service_account: str) -> str:
    """What to bind on the cloud side so the identity trusts our service account too."""
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    if "iam.gke.io/gcp-service-account=" in annotations:
        gsa = annotations.split("iam.gke.io/gcp-service-account=")[1].split(",")[0]
        project = gsa.split("@")[-1].split(".")[0] if "@" in gsa else "<project>"
        return (
            f"gcloud iam service-accounts add-iam-policy-binding {gsa} --role roles/iam.workloadIdentityUser "
            f"--member 'serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]'"
        )
    if "eks.amazonaws.com/role-arn=" in annotations:
        return f"add {subject} to the role's trust policy (condition on the OIDC provider's :sub)"
    return f"add a federated credential with subject {subject} to the Azure identity"


def _values_text(values: dict[str, Any], adoption: Any) -> str:
    import yaml

    header = (
        f"# Adopted from {adoption.source} by `wandb-launch adopt`.\n"
        "# No secret is in this file: the API key (and any credentials) stay in the secrets named here.\n"
    )
    return header + yaml.safe_dump(values, sort_keys=False, default_flow_style=False)


def report(adoption: Any, values: dict[str, Any], rendered: Any, outcome: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": adoption.source,
        "kind": adoption.kind,
        "agentNamespace": adoption.agent_namespace,
        "ours": {"deployment": rendered.names.deployment, "serviceAccount": rendered.names.service_account},
        "keys": [{"key": o.key, "outcome": o.outcome, "to": o.to, "note": o.note} for o in adoption.outcomes],
        "copies": [
            {
                "from": str(c.source),
                "to": str(c.target),
                "when": "after removal" if c.after_removal else "before install",
            }
            for c in adoption.copies
        ],
        "oldObjects": [
            {"object": str(o.ref), "action": "remove" if o.remove else "keep", "why": o.why}
            for o in adoption.old_objects
        ],
        "values": values,
    }
    if outcome is not None:
        data["switch"] = {
            "revision": outcome.revision,
            "availableSeconds": round(outcome.available_seconds, 1),
            "settleSeconds": round(outcome.settle_seconds, 1),
            "twoAgentsSeconds": round(outcome.overlap_seconds, 1),
            "copied": outcome.copied,
            "removed": outcome.removed,
            "remade": outcome.remade,
            "leftovers": outcome.leftovers,
        }
    return data


def format_report(data: dict[str, Any], values_text: str, applied: bool) -> str:
    from wandb_launch import output

    parts = [f"adopting {data['source']}: agent namespace {data['agentNamespace']}"]
    parts.append(
        output.table(
            ("KEY", "OUTCOME", "TO", "NOTE"), [(k["key"], k["outcome"], k["to"], k["note"]) for k in data["keys"]]
        )
    )
    if data["copies"]:
        parts.append(output.table(("COPY", "INTO", "WHEN"), [(c["from"], c["to"], c["when"]) for c in data["copies"]]))
    parts.append(
        output.table(
            ("OLD OBJECT", "ACTION", "WHY"), [(o["object"], o["action"], o["why"]) for o in data["oldObjects"]]
        )
    )
    if not applied:
        parts.append("values:\n" + values_text.rstrip())
        parts.append(
            "dry run: nothing changed. --apply installs ours, waits until it is Available, then removes the objects marked remove."
        )
    else:
        s = data["switch"]
        lines = [
            f"installed {data['ours']['deployment']} (revision {s['revision']}): Available after {s['availableSeconds']} s, then ready for {s['settleSeconds']} s",
            f"two agents polled the queues for {s['twoAgentsSeconds']} s (ours Available until the old pods were gone)",
            "removed: " + ", ".join(s["removed"]),
        ]
        if s["remade"]:
            lines.append("made again (yours now): " + ", ".join(s["remade"]))
        lines.append("left behind: " + (", ".join(s["leftovers"]) if s["leftovers"] else "nothing"))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import helmclient, kube, output
    from wandb_launch.chartvalues import find_chart

    _check_flags(args)
    timeout = seconds(args.timeout)
    ref = cluster_ref(args)
    api = kube.connect(ref)
    try:
        helmclient.release_status(helmclient.client(ref), ref)
        exists = True
    except InputError:
        exists = False
    if exists:
        raise InputError(
            "--release",
            f"release {ref.release!r} already exists in namespace {ref.namespace}",
            "adopt into another --release",
        )
    adoption = _read(api, ref, args)
    values, rendered = _checked(ref, args, adoption)
    names = rendered.names
    if adoption.identity_warning and args.apply and not args.identity_bound:
        how = identity_instructions(adoption.identity_warning, names.agent_namespace, names.service_account)
        raise InputError(
            "--identity-bound",
            f"the old service account has workload identity ({adoption.identity_warning}), trusted by its name; "
            f"our agent runs as {names.agent_namespace}/{names.service_account}",
            f"let the identity trust it too ({how}), then add --identity-bound",
        )
    text = _values_text(values, adoption)
    if args.values_out:
        with open(args.values_out, "w") as f:
            f.write(text)
    outcome = None
    if args.apply:
        from wandb_launch.adopt import switch

        progress = output.Progress(quiet=args.output != "table")
        try:
            outcome = switch.run(
                api,
                ref,
                adoption,
                chart=find_chart(args.chart),
                values=values,
                names=names,
                timeout=timeout,
                settle=args.settle,
                step=progress.step,
            )
        except switch.AdoptFailed as e:
            progress.done()
            print(f"wandb-launch adopt: {e}", file=sys.stderr)
            return EXIT_FAILED_CHECKS
        progress.done()
    data = report(adoption, values, rendered, outcome)
    print(format_report(data, text, args.apply) if args.output == "table" else output.dump(data, args.output))
    return EXIT_FAILED_CHECKS if outcome is not None and outcome.leftovers else 0
