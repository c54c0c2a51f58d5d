"""`preview-job`: the Job the agent will submit for a queue config, and optionally the API server's verdict."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from wandb_launch.clusterargs import add_cluster_arguments, cluster_ref
from wandb_launch.errors import EXIT_FAILED_CHECKS, InputError

IMAGE_PLACEHOLDER = "<image of the run>"
HELP = "print the Job the agent submits for a queue config (--server-dry-run: ask the API server)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue_config", nargs="?", default="-", help="queue config file, JSON or YAML (default: stdin)")
    parser.add_argument("--entity", default="my-entity", help="entity of the run (for names and env)")
    parser.add_argument("--project", default="my-project", help="project of the run (for names and env)")
    parser.add_argument("--image", default=IMAGE_PLACEHOLDER, help="the run's image")
    parser.add_argument("--base-url", default="https://api.wandb.ai", help="WANDB_BASE_URL of the agent")
    parser.add_argument(
        "--context-namespace",
        default=None,
        help="namespace used when the queue config names none (default: `default`, as in-cluster; with --server-dry-run the context's)",
    )
    parser.add_argument(
        "--server-dry-run", action="store_true", help="send the Job (and its pod) to the API server with dryRun=All"
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "yaml", "json"),
        default="table",
        help="table: notes then the Job as YAML (default)",
    )
    parser.add_argument(
        "--chart", help="chart whose API-key secret name the Job uses (default: the repository's chart/)"
    )
    add_cluster_arguments(parser)


def read_queue_config(path: str) -> dict[str, Any]:
    """JSON or YAML, from a file or stdin; one clear line if it is neither or not a mapping."""
    import yaml

    where = "queue config" if path == "-" else f"queue config {path}"
    try:
        text = sys.stdin.read() if path == "-" else open(path).read()
    except OSError as e:
        raise InputError(where, f"cannot read it: {e.strerror}", "check the path") from None
    if not text.strip():
        raise InputError(where, "is empty", "give a file or pipe the queue config's JSON/YAML on stdin")
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(where, f"is neither JSON nor YAML{at}", "fix the syntax") from None
    if not isinstance(data, dict):
        raise InputError(
            where,
            f"is a {type(data).__name__}, not a mapping",
            "give the Job spec as a mapping (apiVersion, spec, ...)",
        )
    return data


def run(args: argparse.Namespace) -> int:
    from wandb_launch import chartoutput, jobpreview
    from wandb_launch.chartvalues import find_chart

    queue_config = read_queue_config(args.queue_config)
    ref = cluster_ref(args)
    api = None
    context_namespace, context_source = (
        args.context_namespace or "default",
        ("--context-namespace" if args.context_namespace else "in-cluster the agent has no kube context: `default`"),
    )
    if args.server_dry_run:
        from wandb_launch import kube

        api = kube.connect(ref)
        if not args.context_namespace:
            context_namespace, context_source = kube.current_namespace(ref), "the kube context's namespace"
    names = chartoutput.release_names(
        find_chart(args.chart), helm=ref.helm, release=ref.release, namespace=ref.namespace
    )
    run_inputs = jobpreview.RunInputs(
        entity=args.entity,
        project=args.project,
        image=args.image,
        base_url=args.base_url,
        api_key_secret=names.api_key_secret,
        context_namespace=context_namespace,
        context_namespace_source=context_source,
        env=dict(os.environ),
    )
    if args.server_dry_run:
        # The API server validates label values and names: placeholders it accepts.
        run_inputs.run_id, run_inputs.run_name, run_inputs.agent_name = "preview0run0id", "preview-run", "preview-agent"
        if args.image == IMAGE_PLACEHOLDER:
            run_inputs.image = "registry.invalid/wandb-launch/preview:latest"
    from wandb.sdk.launch.errors import LaunchError

    try:
        preview = jobpreview.assemble(queue_config, run_inputs)
    except LaunchError as e:
        raise InputError(
            "queue config", f"the agent refuses it: {e}", "remove that key (the agent sets security itself)"
        ) from None
    verdict = dry_run(api, preview) if api is not None else None
    report = {
        "namespace": preview.namespace,
        "namespaceSource": preview.namespace_source,
        "customObject": preview.custom_object,
        "defaultsApplied": preview.defaults_applied,
        "forcedSecurityContext": preview.forced_security_context,
        "injectedEnv": preview.env_names,
        "apiKeySecretKeyRef": preview.api_key_ref,
        "job": preview.job,
    }
    if verdict is not None:
        report["serverDryRun"] = verdict
    print_report(report, args.output)
    return EXIT_FAILED_CHECKS if verdict and not verdict["accepted"] else 0


def print_report(report: dict[str, Any], fmt: str) -> None:
    from wandb_launch import output

    if fmt != "table":
        print(output.dump(report, fmt))
        return
    rows = [
        ("namespace", f"{report['namespace']} ({report['namespaceSource']})"),
        ("defaults", "; ".join(report["defaultsApplied"]) or "none (the queue config sets them)"),
        (
            "securityContext",
            "forced on every container: " + json.dumps(report["forcedSecurityContext"], sort_keys=True),
        ),
        ("env", ", ".join(report["injectedEnv"])),
        (
            "api key",
            f"secretKeyRef {report['apiKeySecretKeyRef']['name']}/{report['apiKeySecretKeyRef']['key']} in {report['namespace']}"
            if report["apiKeySecretKeyRef"]
            else "plain value (custom object)",
        ),
    ]
    verdict = report.get("serverDryRun")
    if verdict:
        rows.append(("server dry run", verdict["summary"]))
        rows += [("  warning", w) for w in verdict["warnings"]]
        if verdict.get("note"):
            rows.append(("  W&B", verdict["note"]))
    print(output.table(("WHAT", "DETAIL"), rows))
    print("---")
    print(output.dump(report["job"], "yaml"))


def dry_run(api: Any, preview: Any) -> dict[str, Any]:
    """Create the Job (and the pod its controller would make) with dryRun=All.

    Pod Security enforce applies to pods, not to Jobs (for a Job it only warns), so the
    pod template is sent as a Pod too: that answer is the one the Job controller will get.
    """
    from wandb_launch import jobpreview

    namespace = preview.namespace
    if preview.custom_object:
        return _send(api, _custom_path(preview.job, namespace), preview.job, "object")
    job_verdict = _send(api, f"/apis/batch/v1/namespaces/{namespace}/jobs", preview.job, "Job")
    pod = jobpreview.pod_template(preview.job)
    if pod is None or not job_verdict["accepted"]:
        return job_verdict
    pod_verdict = _send(api, f"/api/v1/namespaces/{namespace}/pods", pod, "its pod")
    warnings = list(dict.fromkeys(job_verdict["warnings"] + pod_verdict["warnings"]))
    verdict = {
        "accepted": pod_verdict["accepted"],
        "summary": f"{job_verdict['summary']}; {pod_verdict['summary']}",
        "warnings": warnings,
    }
    if not pod_verdict["accepted"]:
        verdict["agentReportsToWandb"] = False
        verdict["note"] = AGENT_SILENT_NOTE
    return verdict


# What the agent does with a Job whose pods are denied (tests/agent: the restricted scenario).
AGENT_SILENT_NOTE = (
    "the agent would create this Job and not report the pods' denial to W&B (wandb 0.31.0): "
    "the run stays queued as unknown until someone stops it; `wandb-launch status` shows the denial"
)


def _custom_path(obj: dict[str, Any], namespace: str) -> str:
    group_version = obj.get("apiVersion", "")
    plural = f"{str(obj.get('kind', '')).lower()}s"  # kubernetes_runner.py l. 907
    return f"/apis/{group_version}/namespaces/{namespace}/{plural}"


def _send(api: Any, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    from wandb_launch import kube

    status, answer, headers = kube.request(api, "POST", path, body, query=[("dryRun", "All")])
    warnings = _warnings(headers)
    if 200 <= status < 300:
        return {"accepted": True, "summary": f"{what} accepted", "warnings": warnings}
    message = (answer or {}).get("message", "") if isinstance(answer, dict) else ""
    return {"accepted": False, "summary": f"{what} DENIED (HTTP {status}): {message}", "warnings": warnings}


def _warnings(headers: Any) -> list[str]:
    """`Warning: 299 - "text"` headers (RFC 7234), as the API server sends them."""
    import re

    if hasattr(headers, "getlist"):
        raw = headers.getlist("Warning")
    else:
        value = headers.get("Warning") if headers else None
        raw = [value] if value else []
    out = []
    for item in raw:
        quoted = [m.group(1) for m in re.finditer(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"', item)]
        out += [re.sub(r"\\(.)", r"\1", text) for text in quoted] or [item]
    return out
