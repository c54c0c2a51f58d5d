"""The SDK's own agent launches a run through an adopted release, for both kinds of old agent:
a release of W&B's launch-agent chart (its own ci/ values, with the URL, key and queue a
user sets) and the guide's hand-applied manifests (fixed as GUIDE_FIXES says, TODOs filled).

Each test: the old agent's pod is Running and Ready on a simulated node; `wandb-launch adopt
--apply` installs ours, waits until our agent is Available (its pod Ready on a simulated
node: scheduled by the real scheduler, no container runs), removes the old agent, and
nothing of it is left; then the SDK's agent runs as our release's pod (agent_pod.py) and
launches one queued run. What shows it is the same agent: W&B (the fake) sees the old key,
the old queues and entity at the old base URL; the run's Job lands in the old target
namespace, and its API-key secret there holds the old key; no request of the agent is
denied, so the chart's RBAC alone covers it (the old agent's roles are gone).

Simulated, and said so: the old agent's pod (no process ran for it: the SDK's agent runs only
as ours) and the run pod's phase. Real: adopt, helm, the API server, its authorizer and
admission, the controllers, the scheduler, the agent and its requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..cluster.adoption import GuideAgent, existing, official, owned_pods_and_replica_sets, require_reference, secret_data  # noqa: F401 - fixture
from ..cluster.kube import can_i, create_namespace, eventually, service_account_client, unique_name, until_empty
from ..paths import OFFICIAL_CHART
from .conftest import API_KEY, QUEUE, agent_as_pod, run_spec
from .fake_wandb import ENTITY, FakeWandb

pytestmark = pytest.mark.cluster

RUN_ID = "wladopt01"


def launches_a_run(cluster, admin, venv: Path, workdir: Path, fake: FakeWandb, *, namespace: str, deployment: str,
                   release: str, target: str, queues: list[str]) -> None:
    """Start the SDK's agent as the adopted release's pod, queue one run for `target`, and
    check that the agent is the old one under a new release: key, queues, entity, base URL,
    target namespace."""
    agent = agent_as_pod(cluster, admin, namespace, deployment, workdir, venv)
    try:
        agent.start()
        agent.wait_for(lambda: "polling on queues" in agent.log(), "the adopted agent to poll its queue", timeout=60)
        item = fake.push(QUEUE, run_spec(target, RUN_ID))
        batch = kubernetes.client.BatchV1Api(admin)
        (job,) = agent.wait_for(lambda: batch.list_namespaced_job(target).items, "the run's Job in the old target")
        agent.wait_for(lambda: item.state == "ACKED", "the agent to acknowledge the queue item")
    finally:
        agent.stop()
    assert not item.failures, item.failures
    assert job.metadata.labels["wandb.ai/run-id"] == RUN_ID
    env = {e.name: e for e in job.spec.template.spec.containers[0].env}
    assert env["WANDB_BASE_URL"].value == fake.url
    # The run reads the key from the secret the SDK names after our release, in the target:
    # the agent made it there from its own key, the old one.
    key_ref = env["WANDB_API_KEY"].value_from.secret_key_ref
    assert (key_ref.name, key_ref.key) == (f"wandb-api-key-{release}", "password")
    assert secret_data(admin, target, key_ref.name) == {"password": API_KEY}
    # W&B saw the old key on every request, the agent register for the old queues, and every
    # pop ask for the old entity.
    assert fake.unauthorized == [] and fake.unknown == []
    assert fake.agent["queues"] == [fake.queues[q] for q in queues]
    assert fake.agent["config"]["queues"] == queues
    pops = [r.variables for r in fake.requests if r.operation == "popFromRunQueue"]
    assert pops and {(p["entity"], p["queueName"]) for p in pops} == {(ENTITY, QUEUE)}
    from wandb_launch.controlplane.audit import read_requests

    denied = [f"{r.verb} {r.resource_path} {r.namespace}" for r in read_requests(cluster.audit_log, agent.user)
              if r.code == 403]
    assert denied == [], "the adopted release's RBAC denied the agent"


def test_an_official_chart_release_is_adopted_and_its_queue_runs(cluster, admin, agent_venv, official,
                                                                 tmp_path: Path) -> None:
    fake = FakeWandb(API_KEY, (QUEUE,)).start()
    try:
        release = official()
        target = create_namespace(admin, unique_name("official-runs"), "baseline")
        release.namespaces.append(target)
        # The chart's own ci/ file; what a user sets for their server, key, queue and runs on top.
        mine = tmp_path / "mine.yaml"
        mine.write_text(yaml.safe_dump({
            "baseUrl": fake.url, "agent": {"apiKey": API_KEY}, "additionalTargetNamespaces": [target],
            "launchConfig": yaml.safe_dump({"queues": [QUEUE], "entity": ENTITY, "max_jobs": 2}),
        }))
        release.install("-f", str(OFFICIAL_CHART / "ci" / "basic-values.yaml"), "-f", str(mine),
                        "--wait", "--timeout", "90s")

        report = release.switch(tmp_path / "adopted.yaml")
        values = report["values"]
        assert values["baseUrl"] == fake.url
        assert values["launchConfig"] == {"queues": [QUEUE], "entity": ENTITY, "maxJobs": 2}
        assert sorted(values["targetNamespaces"]) == sorted([target, release.namespace])
        copy = f"{release.ours}-adopted-api-key"
        assert values["apiKey"] == {"existingSecret": copy, "existingSecretKey": "password"}
        assert secret_data(admin, release.namespace, copy) == {"password": API_KEY}
        assert API_KEY not in report["output"] + (tmp_path / "adopted.yaml").read_text()

        launches_a_run(cluster, admin, agent_venv, tmp_path / "agent", fake, namespace=release.namespace,
                       deployment=release.our_deployment().metadata.name, release=release.ours, target=target,
                       queues=[QUEUE])
    finally:
        fake.stop()


@pytest.fixture
def guide_for_the_fake(cluster, admin) -> Any:
    """guide_for_the_fake(fake) -> the fixed guide applied with its TODOs filled for `fake`."""
    require_reference()
    made: list[GuideAgent] = []

    def make(fake: FakeWandb) -> GuideAgent:
        def fill_todos(docs: list[dict[str, Any]]) -> None:
            # The guide's launch-config.yaml with its TODOs filled: base URL, max jobs, queue.
            # Its gcp environment, registry and kaniko builder need a cloud account (the agent
            # checks the credentials when it starts), which this machine has not: prebuilt
            # images instead (noop). base_url stays in the file, as the guide writes it.
            (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
            config_map["data"]["launch-config.yaml"] = yaml.safe_dump(
                {"base_url": fake.url, "max_jobs": -1, "queues": [QUEUE], "builder": {"type": "noop"}}
            )

        made.append(GuideAgent(cluster, admin, True, API_KEY, edit=fill_todos))
        return made[-1]

    yield make
    for agent in made:
        agent.cleanup()


def test_the_guides_agent_is_adopted_and_its_queue_runs(cluster, admin, agent_venv, guide_for_the_fake,
                                                        tmp_path: Path) -> None:
    fake = FakeWandb(API_KEY, (QUEUE,)).start()
    try:
        guide = guide_for_the_fake(fake)
        apps = kubernetes.client.AppsV1Api(admin)
        eventually(lambda: (apps.read_namespaced_deployment("launch-agent", guide.namespace).status.available_replicas
                            or 0) == 1, "the guide's agent to be Available (simulated node)")
        old_pods = owned_pods_and_replica_sets(admin, guide.namespace, "launch-agent")
        values_out = tmp_path / "adopted.yaml"
        applied = guide.adopt("--values-out", str(values_out), "--apply", "--settle", "2", "--timeout", "90s",
                              "-o", "json")
        assert applied.code == 0, applied.err
        assert API_KEY not in applied.out + applied.err + values_out.read_text()
        report = json.loads(applied.out)
        switch = report["switch"]
        assert switch["leftovers"] == []
        assert switch["twoAgentsSeconds"] < 30
        assert report["values"]["baseUrl"] == fake.url
        assert report["values"]["apiKey"] == {"existingSecret": "wandb-api-key", "existingSecretKey": "password"}
        assert sorted(report["values"]["targetNamespaces"]) == sorted([guide.namespace, guide.target])

        # Gone: everything adopt listed as `remove`, and the old agent's ReplicaSet and pod.
        # Kept: what our agent goes on using.
        actions = {o["object"]: o["action"] for o in report["oldObjects"]}
        def named(ref: dict[str, str]) -> str:
            return f"{ref['kind']} {ref['namespace'] + '/' if ref['namespace'] else ''}{ref['name']}"
        removed = [r for r in guide.refs() if actions.get(named(r)) == "remove"]
        assert {r["kind"] for r in removed} == {"Deployment", "ConfigMap", "RoleBinding", "Role", "ClusterRole"}
        until_empty(lambda: existing(admin, removed + old_pods), "objects of the hand-applied agent")
        kept = [
            {"kind": "Secret", "namespace": guide.namespace, "name": "wandb-api-key"},
            {"kind": "ServiceAccount", "namespace": guide.namespace, "name": "wandb-launch-serviceaccount"},
        ]
        assert len(existing(admin, kept)) == 2

        # Our agent runs as the same account, with its rights now only the chart's.
        (ours,) = apps.list_namespaced_deployment(
            guide.namespace, label_selector=f"app.kubernetes.io/instance={guide.release}").items
        assert ours.spec.template.spec.service_account_name == "wandb-launch-serviceaccount"
        with service_account_client(admin, guide.namespace, "wandb-launch-serviceaccount") as sa:
            # The guide's ClusterRole granted update on pods; the chart does not, and it is gone.
            assert not can_i(sa, "update", "", "pods", guide.target)

        launches_a_run(cluster, admin, agent_venv, tmp_path / "agent", fake, namespace=guide.namespace,
                       deployment=ours.metadata.name, release=guide.release, target=guide.target, queues=[QUEUE])
    finally:
        fake.stop()
