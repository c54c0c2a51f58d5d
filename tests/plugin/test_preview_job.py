"""`preview-job` offline: the Job the agent would submit, assembled with the SDK's helpers."""

from __future__ import annotations

import json

import pytest
import yaml

from ..clirun import run_process

MINIMAL = {"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1"}}}]}}}}


def preview(cli, config: dict, *args: str) -> dict:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
    result = cli("preview-job", f.name, "-o", "json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_defaults_labels_and_forced_security_context(cli) -> None:
    report = preview(cli, MINIMAL, "--entity", "My_Team", "--project", "mnist")
    job = report["job"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["ttlSecondsAfterFinished"] == 60
    pod = job["spec"]["template"]
    assert pod["spec"]["restartPolicy"] == "Never"
    # make_name_dns_safe drops digits and underscores become dashes
    assert job["metadata"]["generateName"] == "launch-my-team-mnist-"
    assert set(job["metadata"]["labels"]) == {"wandb.ai/run-id", "wandb.ai/monitor", "wandb.ai/agent"}
    assert pod["metadata"]["labels"]["wandb.ai/monitor"] == "true"
    container = pod["spec"]["containers"][0]
    assert container["name"] == "launch0"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "runAsNonRoot" not in container["securityContext"], "runs meet baseline, not restricted"


def test_api_key_is_a_secret_ref_named_after_the_release(cli) -> None:
    report = preview(cli, MINIMAL, "--release", "prod")
    env = report["job"]["spec"]["template"]["spec"]["containers"][0]["env"]
    api_key = next(e for e in env if e["name"] == "WANDB_API_KEY")
    assert api_key == {
        "name": "WANDB_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "wandb-api-key-prod", "key": "password"}},
    }
    assert report["apiKeySecretKeyRef"] == {"name": "wandb-api-key-prod", "key": "password"}
    assert {"WANDB_BASE_URL", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID", "WANDB_LAUNCH"} <= set(
        report["injectedEnv"]
    )


@pytest.mark.parametrize(
    ("config", "namespace", "source"),
    [
        ({**MINIMAL, "metadata": {"namespace": "a"}, "namespace": "b"}, "a", "metadata.namespace"),
        ({**MINIMAL, "namespace": "b", "runner": {"namespace": "c"}}, "b", "top-level"),
        ({**MINIMAL, "runner": {"namespace": "c"}}, "c", "runner.namespace"),
        (MINIMAL, "default", "no kube context"),
    ],
)
def test_namespace_resolution_order(cli, config: dict, namespace: str, source: str) -> None:
    report = preview(cli, config)
    assert report["namespace"] == namespace
    assert report["job"]["metadata"]["namespace"] == namespace
    assert source in report["namespaceSource"]


def test_queue_config_wins_over_defaults_and_keeps_names(cli) -> None:
    config = {
        "metadata": {"name": "fixed"},
        "spec": {"backoffLimit": 3, "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}, {}]}}},
    }
    job = preview(cli, config)["job"]
    assert job["spec"]["backoffLimit"] == 3
    assert "generateName" not in job["metadata"] and job["metadata"]["name"] == "fixed"
    containers = job["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "launch1"]
    assert containers[0]["image"] == "busybox" and "image" not in containers[1]
    assert all("securityContext" in c for c in containers)


def test_wrapped_queue_config_and_macros(cli, monkeypatch) -> None:
    monkeypatch.setenv("TEAM_BUCKET", "gs://data")
    config = {
        "kubernetes": {
            "spec": {"template": {"spec": {"containers": [{"args": ["${TEAM_BUCKET}", "${project_name}"]}]}}}
        }
    }
    job = preview(cli, config, "--project", "mnist")["job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["gs://data", "mnist"]


def test_custom_object_keeps_its_kind_and_gets_env_in_plain_text(cli) -> None:
    config = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "spec": {"tasks": [{"template": {"spec": {"containers": [{"name": "w"}]}}}]},
    }
    report = preview(cli, config)
    assert report["customObject"] is True
    container = report["job"]["spec"]["tasks"][0]["template"]["spec"]["containers"][0]
    assert any(e["name"] == "WANDB_API_KEY" and "value" in e for e in container["env"])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_yaml_on_stdin_as_a_user_runs_it() -> None:
    result = run_process("preview-job", "-o", "yaml", stdin=yaml.safe_dump(MINIMAL))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["job"]["kind"] == "Job"


def test_table_output_for_people(cli, tmp_path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    result = cli("preview-job", str(path))
    assert result.code == 0
    head, job = result.out.split("\n---\n")
    assert "secretKeyRef wandb-api-key-wandb-launch/password in default" in head
    assert "\x1b[" not in result.out, "no colour when not on a TTY"
    assert yaml.safe_load(job)["kind"] == "Job"
