"""Pod Security, judged by the API server's own PodSecurity admission plugin."""

from __future__ import annotations

import json

import kubernetes.client
import pytest
from kubernetes.client.rest import ApiException

from ..paths import VALUES_DIR
from .kaniko import kaniko_build_job, kaniko_build_pod
from .kube import POD_SECURITY_ENFORCE, events_for, eventually

pytestmark = pytest.mark.cluster

ECR_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/launch-images"


def agent_pods(admin, release) -> list[kubernetes.client.V1Pod]:
    """Pods the ReplicaSet controller made for the release's Deployment."""
    core, apps = kubernetes.client.CoreV1Api(admin), kubernetes.client.AppsV1Api(admin)
    deployment = apps.read_namespaced_deployment(release.deployment, release.agent_namespace)
    selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
    return [
        pod for pod in core.list_namespaced_pod(release.agent_namespace, label_selector=selector).items
        if any(owner.kind == "ReplicaSet" for owner in pod.metadata.owner_references or [])
    ]


def test_agent_pods_are_admitted_in_a_namespace_enforcing_restricted(admin, install_release) -> None:
    release = install_release(VALUES_DIR / "local.yaml")
    namespace = kubernetes.client.CoreV1Api(admin).read_namespace(release.agent_namespace)
    assert namespace.metadata.labels.get(POD_SECURITY_ENFORCE) == "restricted"
    pods = eventually(lambda: agent_pods(admin, release), "the ReplicaSet controller to create the agent pod")
    assert len(pods) == 1
    denials = [e for e in events_for(admin, release.agent_namespace, "ReplicaSet") if "PodSecurity" in e]
    assert not denials


def test_a_weakened_agent_pod_is_denied_by_the_same_admission(admin, install_release) -> None:
    """The control for the test above: the same install with privilege escalation allowed."""
    release = install_release(VALUES_DIR / "local.yaml", "securityContext.allowPrivilegeEscalation=true")
    denial = eventually(
        lambda: [e for e in events_for(admin, release.agent_namespace, "ReplicaSet") if 'violates PodSecurity "restricted' in e],
        "a FailedCreate event with the Pod Security denial",
    )
    assert "allowPrivilegeEscalation" in denial[0]
    assert not agent_pods(admin, release)


@pytest.mark.parametrize(("level", "admitted"), [("baseline", True), ("restricted", False)])
def test_kaniko_build_pod_as_the_sdk_builds_it(admin, make_namespace, level: str, admitted: bool) -> None:
    namespace = make_namespace(f"kaniko-{level}", level)
    job = kaniko_build_job(
        namespace=namespace, run_id="r0n1d", repository=ECR_REPOSITORY, image_tag=f"{ECR_REPOSITORY}:abc123",
        build_context_store="s3://my-launch-bucket/build-contexts", env=[{"name": "AWS_REGION", "value": "us-east-1"}],
    )
    core = kubernetes.client.CoreV1Api(admin)
    eventually(lambda: [sa for sa in core.list_namespaced_service_account(namespace).items if sa.metadata.name == "default"],
               "the default service account")

    # The pod on its own, server-side dry run: the admission verdict, nothing stored.
    pod = kaniko_build_pod(job)
    if admitted:
        core.create_namespaced_pod(namespace, pod, dry_run="All")
    else:
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod(namespace, pod, dry_run="All")
        assert denied.value.status == 403
        message = json.loads(denied.value.body)["message"]
        assert f'violates PodSecurity "{level}' in message and "runAsNonRoot" in message

    # The Job, as the agent submits it: the job controller's pod meets the same admission.
    kubernetes.client.BatchV1Api(admin).create_namespaced_job(namespace, job)
    selector = f"job-name={job['metadata']['name']}"
    if admitted:
        eventually(lambda: core.list_namespaced_pod(namespace, label_selector=selector).items, "the build pod")
    else:
        eventually(
            lambda: [e for e in events_for(admin, namespace, "Job") if "violates PodSecurity" in e],
            "a FailedCreate event on the build Job",
        )
        assert not core.list_namespaced_pod(namespace, label_selector=selector).items
