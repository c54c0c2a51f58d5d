"""`wandb-launch verify` of a release with N target namespaces, against the same RBAC
questions asked as a loop of `kubectl auth can-i`, on the same cluster in the same run.

The cluster is $KUBECONFIG when set, else a local control plane started here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from benchmarks.common import CLI, REPO, cluster, tool

RELEASE = "bench"
AGENT_NAMESPACE = "bench-agent"
# Ten times faster than the kubectl loop: the target of the issue.
TARGET_RATIO = 10.0


def install_release(kubeconfig: Path, targets: list[str]) -> str:
    """The chart with N targets, as `wandb-launch install` does it; returns the service account."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    for ns in targets:
        with contextlib.suppress(client.ApiException):
            core.create_namespace(
                {"metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
            )
    values = REPO / "benchmarks" / ".bench-values.yaml"
    values.write_text(
        "targetNamespaces: [" + ", ".join(targets) + f"]\nnamespace: {{create: true, name: {AGENT_NAMESPACE}}}\n"
    )
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "BENCH_API_KEY": "bench-api-key-0000000000000000000000000000000000000000"}
    subprocess.run(
        [
            CLI,
            "install",
            "--release",
            RELEASE,
            "-f",
            str(REPO / "values/local.yaml"),
            "-f",
            str(values),
            "--api-key-env",
            "BENCH_API_KEY",
            "--helm-bin",
            tool("helm"),
            "-o",
            "json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    values.unlink()
    deployments = (
        client.AppsV1Api(api)
        .list_namespaced_deployment(AGENT_NAMESPACE, label_selector=f"app.kubernetes.io/instance={RELEASE}")
        .items
    )
    return deployments[0].spec.template.spec.service_account_name


def kubectl_loop(
    kubeconfig: Path, service_account: str, targets: list[str], limit: int, agent_namespace: str = AGENT_NAMESPACE
) -> tuple[float, int, int]:
    """The same probes verify sends, one `kubectl auth can-i` process each."""
    from wandb_launch.chartfiles import agent_needs, helm_test_check

    needed, excess = helm_test_check().rbac_probes(agent_namespace, targets, agent_needs(), additional_services=False)
    probes = needed + [p for p, _ in excess]
    chosen = probes if limit <= 0 else probes[:limit]
    kubectl = tool("kubectl")
    user = f"system:serviceaccount:{agent_namespace}:{service_account}"
    start = time.perf_counter()
    for p in chosen:
        resource = p.resource.split("/")[0] + (f".{p.group}" if p.group and p.group != "*" else "")
        argv = [kubectl, "--kubeconfig", str(kubeconfig), "auth", "can-i", p.verb, resource, "--as", user]
        if "/" in p.resource:
            argv += ["--subresource", p.resource.split("/", 1)[1]]
        argv += ["-n", p.namespace] if p.namespace else ["--all-namespaces"]
        subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - start, len(chosen), len(probes)


def main(namespaces: int = 100, kubectl_calls: int = 0) -> None:
    targets = [f"bench-runs-{i:03d}" for i in range(namespaces)]
    with cluster() as kubeconfig:
        service_account = install_release(kubeconfig, targets)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        start = time.perf_counter()
        verify = subprocess.run(
            [CLI, "verify", "--release", RELEASE, "--helm-bin", tool("helm"), "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        verify_seconds = time.perf_counter() - start
        if verify.returncode not in (0, 1):
            raise SystemExit(f"verify failed to run: {verify.stderr.strip()}")
        loop_seconds, timed, total = kubectl_loop(kubeconfig, service_account, targets, kubectl_calls)
        full_loop = loop_seconds * total / timed
        print(f"verify of a release with {namespaces} target namespaces ({total} access questions)")
        print(f"{'wandb-launch verify (whole process)':44} {verify_seconds:8.2f} s  (exit {verify.returncode})")
        label = f"kubectl auth can-i loop ({timed} calls{'' if timed == total else ', scaled to ' + str(total)})"
        print(f"{label:44} {full_loop:8.2f} s")
        ratio = full_loop / verify_seconds
        print(
            f"verify is {ratio:.1f}x faster (target >= {TARGET_RATIO:.0f}x): {'ok' if ratio >= TARGET_RATIO else 'BELOW TARGET'}"
        )
