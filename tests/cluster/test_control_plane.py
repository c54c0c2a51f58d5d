"""The local control plane itself: the release it runs, TokenRequest, the controllers the
agent's installs and runs rely on, a clean stop, and a clear error when it is not built."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import kubernetes.client
import pytest
from wandb_launch.controlplane import ControlPlaneError, LocalControlPlane

from ..paths import REPO
from .kube import can_i, eventually, get_json, service_account_client


def pinned_kubernetes_version() -> str:
    for line in (REPO / "hack" / "versions.env").read_text().splitlines():
        if line.startswith("KUBERNETES_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("KUBERNETES_VERSION missing from hack/versions.env")


@pytest.mark.cluster
def test_local_control_plane_runs_the_pinned_release(cluster, admin) -> None:
    if cluster.source != "local control plane":
        pytest.skip(f"the pinned release is what the local control plane runs; this is a {cluster.source}")
    assert get_json(admin, "/version")["gitVersion"].startswith(pinned_kubernetes_version())


@pytest.mark.cluster
def test_token_request_gives_a_working_service_account_identity(admin, make_namespace) -> None:
    namespace = make_namespace("tokenreq")
    core = kubernetes.client.CoreV1Api(admin)
    # The serviceaccount controller makes `default` in every new namespace.
    eventually(lambda: [sa for sa in core.list_namespaced_service_account(namespace).items if sa.metadata.name == "default"],
               "the default service account")
    with service_account_client(admin, namespace, "default") as client:
        review = kubernetes.client.AuthenticationV1Api(client).create_self_subject_review(
            kubernetes.client.V1SelfSubjectReview()
        )
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:default"
        # RBAC: a fresh service account may do nothing with pods.
        assert not can_i(client, "list", "", "pods", namespace)


@pytest.mark.cluster
def test_job_and_ttl_controllers_finish_and_remove_a_job(cluster, admin, make_namespace) -> None:
    """Job -> Pod (job controller); the pod's success, reported here in place of a kubelet,
    completes the Job; ttlSecondsAfterFinished removes it (ttl-after-finished controller),
    and the garbage collector removes its pod."""
    namespace = make_namespace("jobs", "baseline")
    batch, core = kubernetes.client.BatchV1Api(admin), kubernetes.client.CoreV1Api(admin)
    job = batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "finishes"},
        "spec": {
            "backoffLimit": 0, "ttlSecondsAfterFinished": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}},
        },
    })
    selector = f"controller-uid={job.metadata.uid}"
    pod = eventually(lambda: core.list_namespaced_pod(namespace, label_selector=selector).items, "the job's pod")[0]
    if not cluster.has_kubelet:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {
            "phase": "Succeeded",
            "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}],
            "containerStatuses": [{
                "name": "main", "image": "busybox:1.36", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}},
            }],
        }})

    def job_gone() -> bool:
        return not [j for j in batch.list_namespaced_job(namespace).items if j.metadata.name == "finishes"]

    eventually(job_gone, "the finished job to be removed by its TTL", timeout=90)
    eventually(lambda: not core.list_namespaced_pod(namespace, label_selector=selector).items,
               "the garbage collector to remove the job's pod", timeout=90)


@pytest.mark.cluster
def test_stop_ends_every_process_and_removes_the_workdir(cluster) -> None:
    if cluster.source != "local control plane":
        pytest.skip("tests the local control plane launcher")
    control_plane = LocalControlPlane()
    with control_plane:
        pids = control_plane.process_ids()
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert control_plane.kubeconfig.is_file()
        workdir = control_plane.workdir
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()


def test_missing_binaries_name_the_make_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_LAUNCH_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with pytest.raises(ControlPlaneError, match=r"etcd not found in .*empty-cache/bin or on PATH: run `make control-plane`"):
        LocalControlPlane().start()
    assert not list(temp.iterdir()), "a failed start left a working directory behind"


@pytest.mark.cluster
def test_start_survives_a_port_taken_between_choice_and_bind(cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ports come from the OS; another process may bind one before the API server does."""
    if cluster.source != "local control plane":
        pytest.skip("tests the local control plane launcher")
    from wandb_launch.controlplane import launcher, ports

    taken: list[socket.socket] = []

    def free_ports_with_a_thief(count: int) -> list[int]:
        chosen = ports.free_ports(count)
        if not taken:
            thief = socket.socket()
            thief.bind(("127.0.0.1", chosen[2]))  # the API server's port
            thief.listen()
            taken.append(thief)
        return chosen

    monkeypatch.setattr(launcher, "free_ports", free_ports_with_a_thief)
    try:
        with LocalControlPlane() as control_plane:
            assert control_plane.running
            assert control_plane.server != f"https://127.0.0.1:{taken[0].getsockname()[1]}"
    finally:
        taken[0].close()
