"""Ours and W&B's launch-agent chart (0.13.12, the reference copy) side by side with 10, 100
and 1,000 target namespaces, in one run, on one cluster: `helm template` (time, objects,
bytes), `helm install`, `helm upgrade` (no change, and one value changed), `helm
uninstall`; wall time, helm's CPU time and peak memory (of the helm process, from wait4).
Then, at the largest size, `wandb-launch verify` and `status` next to the same answers
asked with kubectl, one call per question.

The cluster is $KUBECONFIG when set, else a local control plane started here with
simulated nodes (KWOK: pods are scheduled and become Ready, no container runs), so both
charts' installs and upgrades run with --wait: they return once the agent's Deployment is
Available (ours with RollingUpdate, theirs with Recreate). The machine's load average is
printed with each size: wall times on a shared machine move with it, CPU times less.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.common import CLI, REPO, cluster, tool
from benchmarks.verify_rbac import kubectl_loop
from tests.paths import OFFICIAL_CHART

SIZES = (10, 100, 1000)
OURS_NAMESPACE = "bench-ours"
THEIRS_NAMESPACE = "bench-theirs"
OURS, THEIRS = "ours", "theirs"
API_KEY = "bench-api-key-0000000000000000000000000000000000000000"
TEMPLATE_RUNS = 9
# install and upgrade wait for the agent's rollout on both sides.
WAIT = ("--wait", "--timeout", "15m")
# Simulated nodes of the benchmark's own control plane (the agent pods of both charts fit on one).
NODES = 2
STEPS = ("template", "install --wait", "upgrade --wait, no change", "upgrade --wait, one value changed", "uninstall")


@dataclass
class Measure:
    seconds: float
    cpu: float  # helm's user + system CPU seconds
    peak_mib: float  # helm's peak resident memory
    out: str = ""

    @staticmethod
    def median(runs: Sequence[Measure]) -> Measure:
        return Measure(
            statistics.median(r.seconds for r in runs),
            statistics.median(r.cpu for r in runs),
            max(r.peak_mib for r in runs),
            runs[-1].out,
        )


# GNU time reports the peak RSS of the process it runs; a child forked from this Python
# process would count the parent's pages as its own until it execs.
GNU_TIME = "/usr/bin/time"


def measure(argv: list[str], env: dict[str, str] | None = None) -> Measure:
    """Run a process to its end: wall time, its CPU time and peak RSS (GNU time's, else wait4's)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as usage_file,
    ):
        gnu_time = os.access(GNU_TIME, os.X_OK)
        command = [GNU_TIME, "-f", "%M %U %S", "-o", usage_file.name, *argv] if gnu_time else argv
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if process.returncode != 0:
            raise SystemExit(f"benchmarks: {' '.join(argv[:3])} ... failed: {err.read().decode().strip()[-500:]}")
        if gnu_time:
            peak_kib, user, system = usage_file.read().split()[-3:]
            return Measure(seconds, float(user) + float(system), int(peak_kib) / 1024, text)
    return Measure(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text)


def targets(n: int) -> list[str]:
    return [f"bench-t-{i:04d}" for i in range(n)]


def values_files(workdir: Path, n: int) -> dict[str, tuple[list[str], list[str]]]:
    """chart -> (helm args of the values, the same with one value changed)."""
    ours = workdir / f"ours-{n}.yaml"
    ours.write_text(
        yaml.safe_dump(
            {
                "namespace": {"create": False, "name": OURS_NAMESPACE},
                "targetNamespaces": targets(n),
                "apiKey": {"value": API_KEY},
            }
        )
    )
    config = {"queues": ["bench-queue"], "max_jobs": 1, "builder": {"type": "noop"}}
    theirs = workdir / f"theirs-{n}.yaml"
    theirs.write_text(
        yaml.safe_dump(
            {
                "namespace": THEIRS_NAMESPACE,
                "additionalTargetNamespaces": targets(n),
                "agent": {"apiKey": API_KEY},
                "launchConfig": yaml.safe_dump(config),
            }
        )
    )
    changed = workdir / f"theirs-{n}-changed.yaml"
    changed.write_text(yaml.safe_dump({"launchConfig": yaml.safe_dump({**config, "max_jobs": 2})}))
    local = str(REPO / "values" / "local.yaml")
    return {
        OURS: (["-f", local, "-f", str(ours)], ["-f", local, "-f", str(ours), "--set", "launchConfig.maxJobs=2"]),
        THEIRS: (["-f", str(theirs)], ["-f", str(theirs), "-f", str(changed)]),
    }


def chart_of(which: str) -> str:
    return str(REPO / "chart") if which == OURS else str(OFFICIAL_CHART)


def namespace_of(which: str) -> str:
    return OURS_NAMESPACE if which == OURS else THEIRS_NAMESPACE


def objects(text: str) -> int:
    return len(re.findall(r"^kind: ", text, re.M))


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes)."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@contextlib.contextmanager
def namespaces(kubeconfig: Path, names: list[str]) -> Iterator[None]:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    for ns in names:
        with contextlib.suppress(client.ApiException):
            core.create_namespace(
                {"metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
            )
    try:
        yield
    finally:
        for ns in names:
            with contextlib.suppress(client.ApiException):
                core.delete_namespace(ns)


def status_kubectl_loop(
    kubeconfig: Path, agent_namespace: str, target_namespaces: list[str], limit: int
) -> tuple[float, int, int]:
    """`status`'s answers from kubectl: the Deployment, its pods, the launch ConfigMap, and
    Warning events in the agent namespace and every target (one call each, as status asks)."""
    kubectl = tool("kubectl")
    base = [kubectl, "--kubeconfig", str(kubeconfig)]
    calls = [
        [*base, "get", "deployment", "-n", agent_namespace, "-o", "json"],
        [*base, "get", "pods", "-n", agent_namespace, "-o", "json"],
        [*base, "get", "configmap", "-n", agent_namespace, "-o", "json"],
        *(
            [*base, "get", "events", "-n", ns, "--field-selector", "type=Warning", "-o", "json"]
            for ns in [agent_namespace, *target_namespaces]
        ),
    ]
    chosen = calls if limit <= 0 else calls[:limit]
    start = time.perf_counter()
    for argv in chosen:
        subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - start, len(chosen), len(calls)


def print_rows(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    print(title)
    print(f"  {'figure':44} {'ours':>10} {'theirs':>10} {'ours/theirs':>12}")
    for label, ours, theirs, unit in rows:
        ratio = ours / theirs if theirs else float("nan")
        fmt = "{:10.0f}" if unit in ("objects", "KiB") else "{:10.2f}"
        print(f"  {label + ' (' + unit + ')':44} {fmt.format(ours)} {fmt.format(theirs)} {ratio:11.2f}x")


def main(sizes: Sequence[int] = SIZES, kubectl_calls: int = 200, rounds: int = 1) -> None:
    if not (OFFICIAL_CHART / "Chart.yaml").is_file():
        raise SystemExit(f"benchmarks: the official chart is not at {OFFICIAL_CHART}; set WANDB_LAUNCH_REFERENCE")
    helm = tool("helm")
    largest = max(sizes)
    print(f"Scale: ours vs W&B's launch-agent 0.13.12, {', '.join(map(str, sizes))} target namespaces (helm {helm})")
    print(f"install and upgrade with {' '.join(WAIT)} on both sides; cluster steps: median of {rounds} round(s); "
          f"CPUs: {os.cpu_count()}, load average: {load()}")
    with tempfile.TemporaryDirectory() as tmp, cluster(nodes=NODES) as kubeconfig:
        workdir = Path(tmp)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        tool_lines: list[str] = []
        with namespaces(kubeconfig, [OURS_NAMESPACE, THEIRS_NAMESPACE, *targets(largest)]):
            for n in sizes:
                args = values_files(workdir, n)
                counts: dict[str, tuple[int, int]] = {}
                argv: dict[str, dict[str, list[str]]] = {}
                for which in (OURS, THEIRS):
                    chart, ns = chart_of(which), namespace_of(which)
                    base, changed = args[which]
                    release = f"bench-{which}"
                    argv[which] = {
                        "template": [helm, "template", release, chart, "-n", ns, *base],
                        "install --wait": [helm, "install", release, chart, "-n", ns, *base, *WAIT],
                        "upgrade --wait, no change": [helm, "upgrade", release, chart, "-n", ns, *base, *WAIT],
                        "upgrade --wait, one value changed": [helm, "upgrade", release, chart, "-n", ns, *changed, *WAIT],
                        "uninstall": [helm, "uninstall", release, "-n", ns],
                    }
                # Step by step, both charts each time, the first of the two alternating from step
                # to step and from round to round: a busy moment of the shared machine, or the
                # cluster's own work after the previous step, falls on both sides alike.
                measured: dict[str, dict[str, list[Measure]]] = {OURS: {}, THEIRS: {}}
                for round_ in range(rounds):
                    for index, step in enumerate(STEPS):
                        order = (OURS, THEIRS) if (index + round_) % 2 == 0 else (THEIRS, OURS)
                        if step == "template":
                            # Run by run, alternating: at a few tenths of a second each, a busy
                            # moment of the machine would otherwise fall on one chart's runs only.
                            for run in range(TEMPLATE_RUNS):
                                for which in order if run % 2 == 0 else order[::-1]:
                                    measured[which].setdefault(step, []).append(measure(argv[which][step]))
                                    out = measured[which][step][-1].out
                                    counts[which] = (objects(out), len(out.encode()))
                            continue
                        for which in order:
                            measured[which].setdefault(step, []).append(measure(argv[which][step], env))
                        if step == "upgrade --wait, one value changed" and n == largest and round_ == 0:
                            tool_lines = tools_at_scale(kubeconfig, env, n, kubectl_calls)
                figures = {which: {step: Measure.median(runs) for step, runs in steps.items()}
                           for which, steps in measured.items()}
                rows = [
                    ("objects rendered", counts[OURS][0], counts[THEIRS][0], "objects"),
                    ("bytes rendered", counts[OURS][1] / 1024, counts[THEIRS][1] / 1024, "KiB"),
                ]
                for step in STEPS:
                    o, t = figures[OURS][step], figures[THEIRS][step]
                    label = f"helm {step}" + (f" (median of {TEMPLATE_RUNS * rounds})" if step == "template" else "")
                    rows += [
                        (label, o.seconds, t.seconds, "s"),
                        ("  helm CPU", o.cpu, t.cpu, "s"),
                        ("  helm peak memory", o.peak_mib, t.peak_mib, "MiB"),
                    ]
                print()
                print_rows(f"{n} target namespaces (load average after: {load()})", rows)
        print()
        print("\n".join(tool_lines))


def tools_at_scale(kubeconfig: Path, env: dict[str, str], n: int, kubectl_calls: int) -> list[str]:
    """verify and status of our release, next to kubectl doing the same, one call per question."""
    from kubernetes import client, config

    release = "bench-ours"
    cli = [CLI, "--release", release, "-n", OURS_NAMESPACE, "--helm-bin", tool("helm"), "-o", "json"]
    verify = _cli(["verify", *cli[1:]], env)
    status = _cli(["status", *cli[1:]], env)
    api = config.new_client_from_config(config_file=str(kubeconfig))
    (deployment,) = (
        client.AppsV1Api(api)
        .list_namespaced_deployment(OURS_NAMESPACE, label_selector=f"app.kubernetes.io/instance={release}")
        .items
    )
    service_account = deployment.spec.template.spec.service_account_name
    loop, timed, total = kubectl_loop(
        kubeconfig, service_account, targets(n), kubectl_calls, agent_namespace=OURS_NAMESPACE
    )
    verify_loop = loop * total / timed
    sloop, stimed, stotal = status_kubectl_loop(kubeconfig, OURS_NAMESPACE, targets(n), kubectl_calls)
    status_loop = sloop * stotal / stimed
    return [
        f"verify and status of our release with {n} target namespaces (kubectl: the first calls timed, scaled to all)",
        f"  {'wandb-launch verify (whole process)':52} {verify:8.2f} s",
        f"  {f'kubectl auth can-i loop ({total} questions, {timed} timed)':52} {verify_loop:8.2f} s"
        f"  -> verify {verify_loop / verify:.1f}x faster (target >= 10x)",
        f"  {'wandb-launch status (whole process)':52} {status:8.2f} s",
        f"  {f'kubectl get loop ({stotal} calls, {stimed} timed)':52} {status_loop:8.2f} s"
        f"  -> status {status_loop / status:.1f}x faster",
    ]


def _cli(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([CLI, *argv], env=env, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"benchmarks: wandb-launch {argv[0]} failed: {result.stderr.strip()}")
    return time.perf_counter() - start
