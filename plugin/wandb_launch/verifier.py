"""A live install checked by an admin, with the checks the chart's `helm test` pod runs
(the chart's files/helm_test_check.py, through `chartfiles`).

Here the admin asks the API server on the agent's behalf (SubjectAccessReview for the
agent's service account); the test pod asks for itself (SelfSubjectAccessReview).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wandb_launch.clusterref import ClusterRef
from wandb_launch.errors import InputError

# Concurrent access reviews; the API server answers each in about a millisecond.
REVIEW_WORKERS = 16


def subject_access_reviewer(api: Any, namespace: str, service_account: str, chart: Path | None = None) -> Any:
    """Ask the API server's authorizer about a service account (as its own token would)."""
    from wandb_launch import kube
    from wandb_launch.chartfiles import helm_test_check

    check = helm_test_check(chart)
    user = f"system:serviceaccount:{namespace}:{service_account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]

    def one(probe: Any) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": check.resource_attributes(probe)},
        }
        status, answer, _ = kube.request(api, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
        if status != 201:
            raise InputError(
                "verify",
                f"the API server refused a SubjectAccessReview (HTTP {status})",
                "run verify as a cluster admin",
            )
        return bool(answer["status"].get("allowed"))

    def review(probes: Sequence[Any]) -> list[bool]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=REVIEW_WORKERS) as pool:
            return list(pool.map(one, probes))

    return review


def admin_readers(api: Any, chart: Path | None = None) -> tuple[Any, Any]:
    """Namespace labels and secrets, read with the caller's (admin) rights."""
    from kubernetes import client

    from wandb_launch.chartfiles import helm_test_check

    check = helm_test_check(chart)
    core = client.CoreV1Api(api)

    def namespace_labels(namespace: str) -> Mapping[str, str] | str | None:
        try:
            return core.read_namespace(namespace).metadata.labels or {}
        except client.ApiException as e:
            return check.NAMESPACE_MISSING if e.status == 404 else None

    def read_secret(namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            secret = core.read_namespaced_secret(name, namespace)
        except client.ApiException as e:
            if e.status == 404:
                return None
            if e.status == 403:
                raise check.Forbidden(name) from None
            raise
        return {"data": dict(secret.data or {}), "labels": dict(secret.metadata.labels or {})}

    return namespace_labels, read_secret


def check_install(
    api: Any, *, agent_namespace: str, service_account: str, chart: Path | None = None, **check_args: Any
) -> list[Any]:
    """helm_test_check.run_checks with the admin's backends and the chart's RBAC needs;
    `check_args` as run_checks takes them."""
    from wandb_launch.chartfiles import agent_needs, helm_test_check

    namespace_labels, read_secret = admin_readers(api, chart)
    return helm_test_check(chart).run_checks(
        review=subject_access_reviewer(api, agent_namespace, service_account, chart),
        namespace_labels=namespace_labels,
        read_secret=read_secret,
        agent_namespace=agent_namespace,
        agent_needs=agent_needs(chart),
        **check_args,
    )


def mounted_launch_config(api: Any, namespace: str, deployment: Any, key: str) -> Any:
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
        if key in data:
            return yaml.safe_load(data[key])
    return None


def verify_release(ref: ClusterRef, api: Any, helm: Any, chart: Path | None = None) -> list[Any]:
    """Every check of the installed release, as its agent's service account (the chart's checks)."""
    from wandb_launch import chartoutput, helmclient, release

    values = helmclient.release_values(helm, ref)
    output = release.rendered(helm, ref)
    names = output.names
    deployment = release.agent_deployment(api, names)
    if deployment is None:
        raise InputError(
            "--release",
            f"no agent Deployment of release {ref.release!r} in namespace {names.agent_namespace}",
            "check `wandb-launch status`, or upgrade the release",
        )
    pod_spec = deployment.spec.template.spec
    env = {e.name: e.value for c in pod_spec.containers[:1] for e in (c.env or []) if e.value is not None}
    launch = mounted_launch_config(api, names.agent_namespace, deployment, chartoutput.LAUNCH_CONFIG_KEY)
    if launch is None:
        launch = output.launch_config
    return [*check_install(
        api,
        chart=chart,
        agent_namespace=names.agent_namespace,
        target_namespaces=list(values.get("targetNamespaces") or []),
        service_account=pod_spec.service_account_name or "default",
        launch_config=launch,
        env=env,
        api_key_secret=names.api_key_secret,
        agent_api_key_secret=names.agent_api_key_secret,
        agent_api_key_secret_key=names.agent_api_key_secret_key,
        additional_services=bool((values.get("rbac") or {}).get("additionalServices")),
    ), check_stopped_runs(api, names, chart)]


def check_stopped_runs(api: Any, names: Any, chart: Path | None = None) -> Any:
    """Does a deleted agent Job take its pods with it? The chart's MutatingAdmissionPolicy and
    its binding, when the release rendered them, must exist (admin-only: cluster-scoped)."""
    from kubernetes import client

    from wandb_launch.chartfiles import helm_test_check

    check = helm_test_check(chart)
    if names.delete_pods_policy_rendered != "true":
        return check.Result(
            check.WARN, "stopped-runs", "*",
            "a run stopped from W&B keeps its pods running (no MutatingAdmissionPolicy: stoppedRuns.deletePods "
            "is false, or the cluster did not serve the API at install)",
            "`wandb-launch cleanup --yes` deletes orphaned run pods; on Kubernetes 1.36+ upgrade with "
            "stoppedRuns.deletePods=auto",
        )
    admission = client.AdmissionregistrationV1Api(api)
    missing = []
    for what, read, name in (
        ("MutatingAdmissionPolicy", admission.read_mutating_admission_policy, names.delete_pods_policy),
        ("MutatingAdmissionPolicyBinding", admission.read_mutating_admission_policy_binding,
         names.delete_pods_policy_binding),
    ):
        try:
            read(name)
        except client.ApiException as e:
            if e.status == 403:
                return check.Result(check.SKIP, "stopped-runs", "*", f"{what} {name} not readable here",
                                    "run `wandb-launch verify` as a cluster admin")
            if e.status != 404:
                raise
            missing.append(f"{what} {name}")
    if missing:
        return check.Result(check.FAIL, "stopped-runs", "*", f"{' and '.join(missing)} missing: stopped runs keep "
                            "their pods", "upgrade the release (helm puts them back)")
    return check.Result(check.OK, "stopped-runs", "*",
                        f"a stopped run's pods are deleted with its Job (MutatingAdmissionPolicy {names.delete_pods_policy})")


def failed(results: Sequence[Any], chart: Path | None = None) -> bool:
    from wandb_launch.chartfiles import helm_test_check

    return bool(helm_test_check(chart).failed(results))


def format_results(results: Sequence[Any], show_all: bool, chart: Path | None = None) -> str:
    from wandb_launch import output
    from wandb_launch.chartfiles import helm_test_check

    shown = [r for r in results if show_all or r.status != helm_test_check(chart).OK]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    verdict = "FAILED" if failed(results, chart) else "passed"
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
