"""Issue 9, offline: `cleanup`'s flags and help, `install`'s refusal of a bad
stoppedRuns.deletePods, the decision on the stop policy, and how a run's state is read from
Kubernetes objects (the kubernetes client's own models, built as the API server returns them).
On a real API server with the SDK's agent: tests/agent and tests/cluster/test_stopped_runs.py."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from kubernetes import client

from wandb_launch import preflight, runs
from wandb_launch.errors import InputError

from ..clirun import one_line_error


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["cleanup", "--yes=please"], "--yes: ignored explicit argument 'please'"),
        (["cleanup", "-o", "xml"], "argument -o/--output: invalid choice: 'xml'"),
        (["cleanup", "--all"], "unrecognized arguments: --all"),
    ],
)
def test_cleanup_bad_flags(cli, argv: list[str], expected: str) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert expected in one_line_error(result)


def test_cleanup_without_a_cluster_is_exit_2(cli, tmp_path: Path) -> None:
    result = cli("cleanup", "--yes", "--kubeconfig", str(tmp_path / "none"))
    assert result.code == 2 and "--kubeconfig: no cluster configured" in one_line_error(result)


def test_cleanup_help_states_the_rights_it_uses(cli) -> None:
    text = " ".join(cli("cleanup", "--help").out.split())
    assert "dry run" in text
    for right in runs.CLEANUP_RIGHTS:
        assert " ".join(right.split()) in text, right


@pytest.mark.parametrize("bad", ['"yes"', '"on"', "1", "[auto]"])
def test_install_refuses_a_bad_delete_pods_mode_before_any_cluster(cli, tmp_path: Path, bad: str) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(f"launchConfig: {{queues: [q]}}\nstoppedRuns: {{deletePods: {bad}}}\n")
    result = cli("install", "-f", str(values), "--api-key-env", "K", "--kubeconfig", str(tmp_path / "none"))
    assert result.code == 2
    line = one_line_error(result)
    assert "the chart refuses them: values schema: at '/stoppedRuns/deletePods'" in line, line


@pytest.mark.parametrize(
    ("mode", "served", "allowed", "rendered", "note"),
    [
        ("auto", True, True, True, False),
        ("auto", False, True, False, True),  # a cluster before 1.36: the note on what it costs
        (True, True, True, True, False),
        (False, True, False, False, False),  # off: no right needed
        (False, False, False, False, False),
    ],
)
def test_policy_outcome(mode, served: bool, allowed: bool, rendered: bool, note: bool) -> None:
    got_rendered, got_note = preflight.policy_outcome(mode, served, allowed)
    assert got_rendered is rendered and bool(got_note) is note
    if note:
        assert "wandb-launch cleanup --yes" in got_note


def test_policy_forced_on_a_cluster_without_the_api_is_refused() -> None:
    with pytest.raises(InputError) as refused:
        preflight.policy_outcome(True, served=False, allowed=True)
    assert str(refused.value).startswith("stoppedRuns.deletePods: is true but this cluster does not serve")
    assert str(refused.value).endswith("set it to auto (the chart then leaves the policy out) or false")


@pytest.mark.parametrize("mode", ["auto", True])
def test_policy_the_caller_may_not_create_is_refused(mode) -> None:
    with pytest.raises(InputError) as refused:
        preflight.policy_outcome(mode, served=True, allowed=False)
    assert "set stoppedRuns.deletePods=false" in str(refused.value)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ('pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true', "pod-security"),
        ('pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0', "quota"),
        ('pods "x" is forbidden: status unknown for quota: q, resource: pods', "quota"),
        ('pods "x" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found', "forbidden"),
        ("something else", "other"),
    ],
)
def test_denials_are_named(message: str, kind: str) -> None:
    assert runs.classify(message) == kind


# --- a run's state from the objects (client models, as deserialized from the API server) ---

NOW = datetime.now(timezone.utc)


def job(*, conditions: list[client.V1JobCondition] | None = None, run_id: str = "r1") -> client.V1Job:
    container = client.V1Container(name="launch0", image="img", env=[
        client.V1EnvVar(name="WANDB_API_KEY", value_from=client.V1EnvVarSource(
            secret_key_ref=client.V1SecretKeySelector(name="wandb-api-key-rel", key="password"))),
        client.V1EnvVar(name="WANDB_LAUNCH_QUEUE_NAME", value="gpu-queue"),
    ])
    return client.V1Job(
        metadata=client.V1ObjectMeta(name="launch-e-p-abcde", namespace="runs", creation_timestamp=NOW,
                                     labels={"wandb.ai/run-id": run_id, "wandb.ai/monitor": "true"}),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(containers=[container]))),
        status=client.V1JobStatus(conditions=conditions),
    )


def pod(phase: str, *, node: str = "", conditions=None, waiting: tuple[str, str] | None = None) -> client.V1Pod:
    statuses = None
    if waiting:
        statuses = [client.V1ContainerStatus(
            name="launch0", image="img", image_id="", ready=False, restart_count=0,
            state=client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason=waiting[0], message=waiting[1])))]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="launch-e-p-abcde-x1", namespace="runs", creation_timestamp=NOW),
        spec=client.V1PodSpec(containers=[], node_name=node or None),
        status=client.V1PodStatus(phase=phase, conditions=conditions, container_statuses=statuses),
    )


def test_a_running_run_on_a_simulated_node() -> None:
    row = runs.describe_job(None, job(), [pod("Running", node="kwok-node-0")], {"kwok-node-0"})
    assert (row["runId"], row["queue"], row["kind"], row["stuck"]) == ("r1", "gpu-queue", "run", None)
    assert row["pods"] == [{"name": "launch-e-p-abcde-x1", "phase": "Running", "node": "kwok-node-0",
                            "simulatedNode": True}]
    assert "simulated node" in runs.format_runs([row])


def test_an_unschedulable_pod_is_stuck_with_the_scheduler_s_message() -> None:
    condition = client.V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable",
                                      message="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    row = runs.describe_job(None, job(), [pod("Pending", conditions=[condition])], set())
    assert row["stuck"]["kind"] == "unschedulable" and "Insufficient nvidia.com/gpu" in row["stuck"]["message"]
    assert row["pods"][0]["node"] == "(unscheduled)"


def test_an_image_that_cannot_be_pulled_is_stuck() -> None:
    row = runs.describe_job(None, job(), [pod("Pending", node="n1", waiting=("ImagePullBackOff", "Back-off pulling"))],
                            set())
    assert row["stuck"] == {"kind": "image", "reason": "launch-e-p-abcde-x1", "message": "ImagePullBackOff: Back-off pulling"}


def test_finished_and_failed_runs() -> None:
    done = client.V1JobCondition(type="Complete", status="True")
    assert runs.describe_job(None, job(conditions=[done]), [pod("Succeeded", node="n1")], set())["state"] == "finished"
    failed = client.V1JobCondition(type="Failed", status="True", reason="BackoffLimitExceeded",
                                   message="Job has reached the specified backoff limit")
    row = runs.describe_job(None, job(conditions=[failed]), [pod("Failed", node="n1")], set())
    assert row["state"] == "failed" and row["stuck"]["reason"] == "BackoffLimitExceeded"


def test_orphans_are_pods_no_job_owns() -> None:
    owned = pod("Running", node="n1")
    owned.metadata.owner_references = [client.V1OwnerReference(api_version="batch/v1", kind="Job", name="j", uid="u")]
    orphan = pod("Running", node="n1")
    going = pod("Running", node="n1")
    going.metadata.deletion_timestamp = NOW
    assert runs.orphans([owned, orphan, going]) == [orphan]
