"""The SDK's own launch agent in the loop: the chart installed on a control plane with
simulated nodes, the agent process run as the chart's agent pod (agent_pod.py), W&B replaced
by a fake server (fake_wandb.py), every Kubernetes request of the agent read back from the
API server's audit log.

Phases of pods here come from KWOK's simulated nodes: no container runs, so no run trains,
no image is pulled or built. Each test says which of its outcomes are simulated.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from wandb_launch.controlplane.audit import AuditedRequest, read_requests
from wandb_launch.toolcache import cache_dir

from ..cluster.conftest import admin  # noqa: F401 - the admin client of this directory's `cluster`
from ..cluster.kube import create_namespace, delete_namespace, unique_name
from ..cluster.release import Release, install_args
from ..paths import CHART, VALUES_DIR

from .agent_pod import AgentPodProcess, find_agent_pod
from .fake_wandb import FakeWandb, QueueItem

# The SDK's API-key check wants 40+ characters after an optional `prefix-`.
API_KEY = "wlfake-" + "0123456789abcdef" * 2 + "01234567"
QUEUE = "wl-queue"
# A value file of the chart: the values every agent-in-the-loop install starts from.
BASE_VALUES = VALUES_DIR / "local.yaml"


def app_version() -> str:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


@pytest.fixture(scope="session")
def cluster(nodes_cluster):
    if nodes_cluster.audit_log is None:
        pytest.skip("the agent-in-the-loop tests need the local control plane (its audit log and 127.0.0.1 API server)")
    return nodes_cluster


@pytest.fixture(scope="session")
def agent_venv() -> Path:
    """The agent's own environment (wandb[launch] at the chart's appVersion), made by
    hack/build-agent-venv.sh (`make test` runs it)."""
    venv = cache_dir() / f"agent-venv-wandb-{app_version()}"
    if not (venv / ".complete").exists():
        pytest.fail(f"{venv} is missing: run hack/build-agent-venv.sh (make test does)", pytrace=False)
    return venv


@dataclass
class AgentInTheLoop:
    """One chart release, its fake W&B, and the SDK's agent running as its pod."""

    release: Release
    fake: FakeWandb
    agent: AgentPodProcess
    service_account_user: str
    audit_log: Path
    namespaces: dict[str, str] = field(default_factory=dict)  # scenario -> namespace
    items: dict[str, QueueItem] = field(default_factory=dict)  # scenario -> its queue item
    started_at: float = 0.0

    def requests(self) -> list[AuditedRequest]:
        """Every Kubernetes request the agent made, as the API server recorded it."""
        return read_requests(self.audit_log, self.service_account_user)

    def role(self, namespace: str) -> str:
        if namespace == self.release.agent_namespace:
            return "agent"
        if namespace in self.release.target_namespaces:
            return "target"
        return "other" if namespace else "cluster"


def _wait(condition, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def agent_as_pod(cluster, admin, namespace: str, deployment: str, workdir: Path, venv: Path) -> AgentPodProcess:
    """The SDK's agent of `venv`, ready to start as the Running, Ready pod of the Deployment
    (`user` is the name the API server gives its requests)."""
    core, apps = kubernetes.client.CoreV1Api(admin), kubernetes.client.AppsV1Api(admin)
    pod = find_agent_pod(core, apps, namespace, deployment)
    host, _, port = cluster.details["server"].removeprefix("https://").partition(":")
    return AgentPodProcess(core, pod, venv=venv, workdir=workdir, api_server=(host, int(port)))


@contextlib.contextmanager
def agent_in_the_loop(
    cluster, admin, workdir: Path, venv: Path, *, targets: dict[str, str | None], others: dict[str, str | None],
    set_args: tuple[str, ...] = (), prefix: str = "wla", storage: bool = False,
) -> Iterator[AgentInTheLoop]:
    """Install the chart (`helm install --wait`: the agent pod Running on a simulated node),
    with `baseUrl` at a fake W&B; make target namespaces (scenario -> Pod Security level) and
    other namespaces; start the SDK's agent as the agent pod; yield; stop and uninstall."""
    fake = FakeWandb(API_KEY, (QUEUE,)).start()
    name = unique_name(prefix)
    namespaces = {scenario: create_namespace(admin, unique_name(f"{prefix}-{scenario}"[:40]), level)
                  for scenario, level in {**targets, **others}.items()}
    target_namespaces = [namespaces[s] for s in targets]
    agent_namespace = f"{name}-agent"
    args = install_args(BASE_VALUES, agent_namespace, target_namespaces, (
        f"apiKey.value={API_KEY}", f"baseUrl={fake.url}", f"launchConfig.queues={{{QUEUE}}}", *set_args,
    ))
    release = Release(name, agent_namespace, target_namespaces, args, cluster)
    agent = None
    volume = f"{name}-kaniko-context" if storage else None
    try:
        if volume:
            # What a cluster's storage gives a claim: here an admin-made volume the claim binds
            # to (persistentvolume-binder-controller). No storage exists behind it: the agent
            # pod's mount of the claim is a directory of the harness (agent_pod.py).
            kubernetes.client.CoreV1Api(admin).create_persistent_volume({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                         "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"/nonexistent/{volume}"}},
            })
        release.helm("install", name, str(CHART), *args, "--wait", "--timeout", "90s")
        agent = agent_as_pod(cluster, admin, agent_namespace, release.deployment, workdir, venv)
        loop = AgentInTheLoop(release, fake, agent, agent.user, cluster.audit_log, namespaces)
        agent.start()
        loop.started_at = time.time()
        agent.wait_for(lambda: "polling on queues" in agent.log(), "the agent to poll its queue", timeout=60)
        yield loop
    finally:
        if agent is not None:
            agent.stop()
            print(f"agent log: {agent.log_path}")
        fake.stop()
        release.helm("uninstall", release.name, check=False)
        for namespace in [*namespaces.values(), agent_namespace]:
            delete_namespace(admin, namespace)
        if volume:
            with contextlib.suppress(kubernetes.client.ApiException):
                kubernetes.client.CoreV1Api(admin).delete_persistent_volume(volume)


def run_spec(namespace: str, run_id: str, *, keep_running: bool = False, project: str = "wl-project",
             image: str = "registry.invalid/wl/train:1") -> dict[str, Any]:
    """A queue item as W&B hands it to the agent: a prebuilt image (no build), the queue
    config's Job fragment with the target namespace (the SDK's own defaults for the rest:
    backoffLimit 0, ttlSecondsAfterFinished 60)."""
    from wandb_launch.controlplane.nodes import KEEP_RUNNING_ANNOTATION

    template: dict[str, Any] = {}
    if keep_running:
        template = {"metadata": {"annotations": {KEEP_RUNNING_ANNOTATION: "true"}}}
    return {
        "entity": "wl-entity", "project": project, "run_id": run_id, "resource": "kubernetes",
        "docker": {"docker_image": image},
        "resource_args": {"kubernetes": {
            "metadata": {"namespace": namespace},
            "spec": {"template": template},
        }},
    }


def describe_requests(loop: AgentInTheLoop, namespaces: set[str] | None = None) -> list[str]:
    """`verb group/resource namespace-role code` lines, for messages and the docs table."""
    rows = sorted({
        f"{r.verb} {r.group + '/' if r.group else ''}{r.resource_path} [{loop.role(r.namespace)}] {r.code}"
        for r in loop.requests() if namespaces is None or r.namespace in namespaces
    })
    return rows


# One release serves every scenario: a kaniko builder with its build contexts on the chart's
# PVC (a run with a prebuilt image skips the build), maxJobs 8 so all runs go at once, a
# stopped run killed at the agent's next round (stoppedRunTimeout 0). One namespace per
# scenario keeps each scenario's requests apart.
RUNS = {"completes": "wlrun0001", "stopped": "wlrun0002", "not-target": "wlrun0003", "restricted": "wlrun0004",
        "built": "wlbuild01", "quota": "wlrun0005", "unschedulable": "wlrun0006"}
# A node label no simulated node carries: the queue config of the unschedulable run selects it.
NO_SUCH_NODE = {"wandb-launch.test/no-such-node": "true"}
DESTINATION = "registry.invalid/wl/runs"


def add_job_artifacts(fake: FakeWandb) -> str:
    """A job logged from code (source_type artifact): the job artifact and its code artifact."""
    job = {
        "_version": "v0", "source_type": "artifact", "runtime": "3.11",
        "source": {"artifact": "wandb-artifact://wl-entity/wl-project/code-train:v0",
                   "entrypoint": ["python", "train.py"], "notebook": False},
        "input_types": {"wb_type": "typedDict", "params": {"type_map": {}}},
        "output_types": {"wb_type": "typedDict", "params": {"type_map": {}}},
    }
    fake.add_artifact("wl-entity", "wl-project", "job-train", "job", {
        "wandb-job.json": json.dumps(job).encode(), "requirements.frozen.txt": b"wandb\n",
    })
    fake.add_artifact("wl-entity", "wl-project", "code-train", "code", {"train.py": b"print('training')\n"})
    return "wl-entity/wl-project/job-train:v0"


@pytest.fixture(scope="session")
def loop(cluster, admin, agent_venv, tmp_path_factory) -> Iterator[AgentInTheLoop]:
    with agent_in_the_loop(
        cluster, admin, tmp_path_factory.mktemp("agent-pod"), agent_venv,
        targets={"completes": "baseline", "stopped": "baseline", "restricted": "restricted", "built": "baseline",
                 "quota": "baseline", "unschedulable": "baseline"},
        others={"not-target": "baseline"}, storage=True,
        set_args=("launchConfig.entity=wl-entity", "launchConfig.maxJobs=8", "launchConfig.stoppedRunTimeout=0",
                  "launchConfig.builder.type=kaniko", f"launchConfig.builder.destination={DESTINATION}",
                  "kaniko.pvc.create=true", "kaniko.pvc.size=1Gi"),
    ) as loop:
        ns, fake = loop.namespaces, loop.fake
        # An admin's quota that admits no pod: the job controller's pod creation is refused.
        kubernetes.client.CoreV1Api(admin).create_namespaced_resource_quota(
            ns["quota"], {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
        unschedulable = run_spec(ns["unschedulable"], RUNS["unschedulable"])
        unschedulable["resource_args"]["kubernetes"]["spec"]["template"]["spec"] = {"nodeSelector": NO_SUCH_NODE}
        job = add_job_artifacts(fake)
        built = run_spec(ns["built"], RUNS["built"])
        del built["docker"]
        built["job"] = job
        loop.items = {
            # The completing run reports to W&B late (see its test); the others' own wandb.init
            # has told W&B they run (set here in their place: no container runs).
            "completes": fake.push(QUEUE, run_spec(ns["completes"], RUNS["completes"])),
            "stopped": fake.push(QUEUE, run_spec(ns["stopped"], RUNS["stopped"], keep_running=True)),
            "not-target": fake.push(QUEUE, run_spec(ns["not-target"], RUNS["not-target"])),
            "restricted": fake.push(QUEUE, run_spec(ns["restricted"], RUNS["restricted"])),
            "built": fake.push(QUEUE, built),
            "quota": fake.push(QUEUE, run_spec(ns["quota"], RUNS["quota"])),
            "unschedulable": fake.push(QUEUE, unschedulable),
        }
        for scenario in ("stopped", "restricted", "built", "quota", "unschedulable"):
            fake.run(RUNS[scenario]).state = "running"
        yield loop
