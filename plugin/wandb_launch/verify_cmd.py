"""`verify`: check a live install with the checks the chart's `helm test` pod runs (selfcheck.py).

Here the admin asks the API server on the agent's behalf (SubjectAccessReview for the
agent's service account); the test pod asks for itself (SelfSubjectAccessReview).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from wandb_launch import selfcheck
from wandb_launch.clusterargs import add_cluster_arguments, add_output_argument
from wandb_launch.errors import EXIT_FAILED_CHECKS, InputError

HELP = "check a live install: RBAC (and rights beyond needs), API-key secrets, Pod Security, launch config"
# Concurrent access reviews; the API server answers each in about a millisecond.
REVIEW_WORKERS = 16
LAUNCH_CONFIG_KEY = "launch-config.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="list passing checks too (default: problems and a summary)")
    add_cluster_arguments(parser)
    add_output_argument(parser)


def subject_access_reviewer(api: Any, namespace: str, service_account: str) -> selfcheck.AccessReviewer:
    """Ask the API server's authorizer about a service account (as its own token would)."""
    from wandb_launch import kube

    user = f"system:serviceaccount:{namespace}:{service_account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]

    def one(probe: selfcheck.Probe) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": selfcheck.resource_attributes(probe)},
        }
        status, answer, _ = kube.request(api, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
        if status != 201:
            raise InputError(
                "verify",
                f"the API server refused a SubjectAccessReview (HTTP {status})",
                "run verify as a cluster admin",
            )
        return bool(answer["status"].get("allowed"))

    def review(probes: Sequence[selfcheck.Probe]) -> list[bool]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=REVIEW_WORKERS) as pool:
            return list(pool.map(one, probes))

    return review


def admin_readers(api: Any) -> tuple[Any, Any]:
    """Namespace labels and secrets, read with the caller's (admin) rights."""
    from kubernetes import client

    core = client.CoreV1Api(api)

    def namespace_labels(namespace: str) -> Mapping[str, str] | str | None:
        try:
            return core.read_namespace(namespace).metadata.labels or {}
        except client.ApiException as e:
            return selfcheck.NAMESPACE_MISSING if e.status == 404 else None

    def read_secret(namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            secret = core.read_namespaced_secret(name, namespace)
        except client.ApiException as e:
            if e.status == 404:
                return None
            if e.status == 403:
                raise selfcheck.Forbidden(name) from None
            raise
        return {"data": dict(secret.data or {}), "labels": dict(secret.metadata.labels or {})}

    return namespace_labels, read_secret


def check_install(api: Any, *, agent_namespace: str, service_account: str, **check_args: Any) -> list[selfcheck.Result]:
    """selfcheck.run_checks with the admin's backends; `check_args` as run_checks takes them."""
    namespace_labels, read_secret = admin_readers(api)
    return selfcheck.run_checks(
        review=subject_access_reviewer(api, agent_namespace, service_account),
        namespace_labels=namespace_labels,
        read_secret=read_secret,
        agent_namespace=agent_namespace,
        **check_args,
    )


def _agent_deployment(api: Any, namespace: str, release: str) -> Any:
    from kubernetes import client

    from wandb_launch.status_cmd import instance_selector

    items = client.AppsV1Api(api).list_namespaced_deployment(namespace, label_selector=instance_selector(release)).items
    return items[0] if items else None


def _mounted_launch_config(api: Any, namespace: str, deployment: Any) -> Any:
    """The launch-config.yaml the agent really reads, from its mounted ConfigMap."""
    import yaml
    from kubernetes import client

    for volume in deployment.spec.template.spec.volumes or []:
        if volume.config_map is None:
            continue
        try:
            data = client.CoreV1Api(api).read_namespaced_config_map(volume.config_map.name, namespace).data or {}
        except client.ApiException:
            continue
        if LAUNCH_CONFIG_KEY in data:
            return yaml.safe_load(data[LAUNCH_CONFIG_KEY])
    return None


def verify_release(args: argparse.Namespace, api: Any = None, helm: Any = None) -> list[selfcheck.Result]:
    from wandb_launch import chartvalues, helmclient, kube

    api = api or kube.connect(args)
    helm = helm or helmclient.client(args)
    values = helmclient.release_values(helm, args)
    agent_ns = chartvalues.agent_namespace(values, args.namespace)
    deployment = _agent_deployment(api, agent_ns, args.release)
    if deployment is None:
        raise InputError(
            "--release",
            f"no agent Deployment of release {args.release!r} in namespace {agent_ns}",
            "check `wandb-launch status`, or upgrade the release",
        )
    pod_spec = deployment.spec.template.spec
    env = {e.name: e.value for c in pod_spec.containers[:1] for e in (c.env or []) if e.value is not None}
    launch = _mounted_launch_config(api, agent_ns, deployment)
    if launch is None:
        launch = chartvalues.launch_config(values, args.release)
    api_key = values.get("apiKey") or {}
    return check_install(
        api,
        agent_namespace=agent_ns,
        target_namespaces=list(values.get("targetNamespaces") or []),
        service_account=pod_spec.service_account_name or "default",
        release=env.get("WANDB_RELEASE_NAME", args.release),
        launch_config=launch,
        env=env,
        additional_services=bool((values.get("rbac") or {}).get("additionalServices")),
        existing_secret=api_key.get("existingSecret") or "",
        existing_key=api_key.get("existingSecretKey") or "password",
    )


def render(results: Sequence[selfcheck.Result], show_all: bool) -> str:
    from wandb_launch import output

    shown = [r for r in results if show_all or r.status != selfcheck.OK]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    verdict = "FAILED" if selfcheck.failed(results) else "passed"
    lines = []
    if shown:
        lines.append(
            output.table(
                ("STATUS", "CHECK", "NAMESPACE", "DETAIL", "FIX"),
                [(r.status, r.check, r.namespace, r.detail, r.fix) for r in shown],
            )
        )
    lines.append(f"verify {verdict}: {summary}" + ("" if show_all else " (--all lists the passing checks)"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from wandb_launch import kube, output

    api = kube.connect(args)
    progress = output.Progress(quiet=args.output != "table")
    progress.step("asking the API server about the agent's rights")
    try:
        results = verify_release(args, api=api)
    finally:
        progress.done()
    if args.output == "table":
        print(render(results, args.all))
    else:
        print(output.dump([r.as_dict() for r in results], args.output))
    return EXIT_FAILED_CHECKS if selfcheck.failed(results) else 0
