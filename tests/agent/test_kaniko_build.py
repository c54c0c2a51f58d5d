"""A kaniko build by the SDK's own agent, with the build context on the chart's PVC
(kaniko.pvc.create: no cloud upload), from a job whose code is a W&B artifact (served by the
fake W&B). The SDK's own kaniko Job is created in the agent namespace under the chart's RBAC
and admitted by Pod Security; its pod "succeeds" on a simulated node: no kaniko ran, no image
was built or pushed (registry.invalid does not exist), and the run's Job that follows names an
image that does not exist."""

from __future__ import annotations

from pathlib import Path

import kubernetes.client
import pytest

from wandb_launch.controlplane import SIMULATED_NOTE

from .conftest import DESTINATION, RUNS
from .requests_record import record_scenario

pytestmark = pytest.mark.cluster

RUN_ID = RUNS["built"]
BUILD_JOB = f"wandb-launch-container-build-{RUN_ID}"


def test_the_sdk_kaniko_job_is_created_and_admitted_in_the_agent_namespace(loop, admin) -> None:
    batch, core = kubernetes.client.BatchV1Api(admin), kubernetes.client.CoreV1Api(admin)
    agent_ns = loop.release.agent_namespace
    creates = loop.agent.wait_for(
        lambda: [r for r in loop.requests() if r.namespace == agent_ns and r.verb == "create" and r.resource == "jobs"],
        "the agent to create the kaniko build Job", timeout=90)
    assert [r.code for r in creates] == [201], creates
    # The build context went onto the claim, through the pod's mount of it.
    context = Path(loop.agent.workdir) / "volumes" / "kaniko-context" / f"{RUN_ID}.tgz"
    assert context.is_file() and context.stat().st_size > 0
    # The job controller made the build pod: admitted by Pod Security in the agent namespace.
    # (Read while it exists: once the agent deletes the Job, the pod goes with it.)
    (pod,) = loop.agent.wait_for(lambda: core.list_namespaced_pod(agent_ns, label_selector=f"job-name={BUILD_JOB}").items,
                                 "the build Job's pod to be admitted", timeout=30)
    (build_job,) = batch.list_namespaced_job(agent_ns, field_selector=f"metadata.name={BUILD_JOB}").items
    assert "foregroundDeletion" in (build_job.metadata.finalizers or []), "the chart's policy did not mark the build Job"
    assert pod.spec.service_account_name == loop.agent.pod.spec.service_account_name
    (container,) = pod.spec.containers
    assert f"--context=tar:///context/{RUN_ID}.tgz" in container.args
    assert any(a.startswith(f"--destination={DESTINATION}:") for a in container.args)
    (claim,) = [v.persistent_volume_claim.claim_name for v in pod.spec.volumes if v.persistent_volume_claim]
    assert claim in {v.persistent_volume_claim.claim_name for v in loop.agent.pod.spec.volumes if v.persistent_volume_claim}
    loop.agent.wait_for(lambda: f"Created kaniko job {BUILD_JOB}" in loop.agent.log(), "the agent to log the build Job")
    loop.agent.wait_for(lambda: [r for r in loop.requests() if r.namespace == agent_ns and r.verb == "delete"
                                 and r.resource == "jobs"], f"the build to end ({SIMULATED_NOTE}) and its Job to be deleted",
                        timeout=60)
    print(f"kaniko build pod {pod.metadata.name}: admitted, ran on a simulated node ({SIMULATED_NOTE}; no image was built)")
    loop.agent.wait_for(lambda: not batch.list_namespaced_job(agent_ns).items, "the build Job to be gone", timeout=30)


def test_the_run_after_the_build_names_the_built_image(loop, admin) -> None:
    namespace = loop.namespaces["built"]
    batch = kubernetes.client.BatchV1Api(admin)
    (job,) = loop.agent.wait_for(lambda: batch.list_namespaced_job(namespace).items, "the run's Job", timeout=90)
    image = job.spec.template.spec.containers[0].image
    assert image.startswith(f"{DESTINATION}:"), image
    loop.agent.wait_for(lambda: f"Job finished with ID: {job.metadata.name}" in loop.agent.log(),
                        f"the run to finish ({SIMULATED_NOTE}: the image {image} does not exist)", timeout=60)
    item = loop.items["built"]
    assert item.state == "ACKED" and not item.failures, item
    record_scenario("a kaniko build with a PVC build context", loop, {namespace})


def test_the_build_leaves_no_pod(loop, admin) -> None:
    """The agent deletes the build Job with no propagation policy too; the chart's policy
    covers the agent namespace, so the build pod goes with its Job."""
    core = kubernetes.client.CoreV1Api(admin)
    loop.agent.wait_for(
        lambda: not core.list_namespaced_pod(loop.release.agent_namespace, label_selector=f"job-name={BUILD_JOB}").items,
        f"the build pod in {loop.release.agent_namespace} to be deleted with its Job", timeout=30)
