"""The rendered launch-config.yaml is what the SDK's own AgentConfig accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from wandb.sdk.launch.agent.config import AgentConfig
from wandb_launch.chartfiles import helm_test_check

from .chartlib import API_KEY_PLACEHOLDER, CHART, helm_template, launch_config, scenario_values


def resolve_like_the_agent(file_config: dict[str, Any]) -> dict[str, Any]:
    """The agent's order (defaults, file, env, entity), shared with `verify` and `helm test`."""
    resolved, _notes = helm_test_check(CHART).resolve_launch_config(file_config, env={})
    return resolved


def test_agent_config_accepts(docs: list[dict[str, Any]]) -> None:
    AgentConfig(**resolve_like_the_agent(launch_config(docs)))


def test_structured_values_reach_the_config(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)["launchConfig"]
    cfg = launch_config(docs)
    assert cfg["queues"] == values["queues"]
    assert cfg["max_jobs"] == values["maxJobs"]
    assert cfg["builder"]["type"] == values["builder"]["type"]
    if values["entity"]:
        assert cfg["entity"] == values["entity"]
    else:
        assert "entity" not in cfg
    if values["environment"]["type"]:
        assert cfg["environment"] == values["environment"]


def test_sdk_key_spelling_and_extra_config_last() -> None:
    result = helm_template(
        "--set",
        f"apiKey.value={API_KEY_PLACEHOLDER}",
        "--set",
        "launchConfig.queues={q}",
        "--set",
        "launchConfig.environment.type=aws",
        "--set",
        "launchConfig.environment.region=us-east-1",
        "--set",
        "launchConfig.builder.type=kaniko",
        "--set",
        "launchConfig.builder.destination=123456789012.dkr.ecr.us-east-1.amazonaws.com/runs",
        "--set",
        "launchConfig.builder.buildContextStore=s3://bucket/ctx",
        "--set",
        "launchConfig.builder.secretName=aws-creds",
        "--set",
        "launchConfig.builder.secretKey=credentials",
        "--set",
        "launchConfig.builder.kanikoImage=mirror/kaniko:v1",
        "--set",
        "launchConfig.builder.buildJobName=build",
        "--set",
        "launchConfig.stoppedRunTimeout=30",
        "--set",
        "launchConfig.extraConfig.max_jobs=7",
        "--set",
        "launchConfig.extraConfig.builder.platform=linux/arm64",
    )
    assert result.returncode == 0, result.stderr
    cfg = launch_config([d for d in yaml.safe_load_all(result.stdout) if d])
    assert cfg["builder"] == {
        "type": "kaniko",
        "destination": "123456789012.dkr.ecr.us-east-1.amazonaws.com/runs",
        "build-context-store": "s3://bucket/ctx",
        "secret-name": "aws-creds",
        "secret-key": "credentials",
        "kaniko-image": "mirror/kaniko:v1",
        "build-job-name": "build",
        "platform": "linux/arm64",
    }
    assert cfg["max_jobs"] == 7
    assert cfg["stopped_run_timeout"] == 30
    assert set(cfg) == {
        "queues",
        "max_jobs",
        "max_schedulers",
        "secure_mode",
        "verbosity",
        "stopped_run_timeout",
        "environment",
        "builder",
    }
    AgentConfig(**resolve_like_the_agent(cfg))


# Every launchConfig key at once, with extraConfig over some of them.
EVERY_KEY = {
    "apiKey": {"value": API_KEY_PLACEHOLDER},
    "launchConfig": {
        "queues": ["a", "b"],
        "entity": "team",
        "maxJobs": -1,
        "maxSchedulers": 2,
        "secureMode": True,
        "verbosity": 2,
        "stoppedRunTimeout": 120,
        "environment": {"type": "aws", "region": "eu-west-1"},
        "builder": {
            "type": "kaniko",
            "destination": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/runs",
            "buildContextStore": "s3://bucket/ctx",
            "buildJobName": "build",
            "kanikoImage": "gcr.io/kaniko-project/executor:v1.23.2",
            "secretName": "aws-creds",
            "secretKey": "credentials",
            "kanikoConfig": {"spec": {"activeDeadlineSeconds": 600}},
        },
        "extraConfig": {"max_jobs": 5, "builder": {"build-job-name": "from-extra-config"}},
    },
}


def test_every_launch_config_key(tmp_path: Path) -> None:
    values = tmp_path / "every.yaml"
    values.write_text(yaml.safe_dump(EVERY_KEY))
    result = helm_template("-f", str(values))
    assert result.returncode == 0, result.stderr
    cfg = launch_config([d for d in yaml.safe_load_all(result.stdout) if d])
    assert cfg == {
        "queues": ["a", "b"],
        "entity": "team",
        "max_jobs": 5,
        "max_schedulers": 2,
        "secure_mode": True,
        "verbosity": 2,
        "stopped_run_timeout": 120,
        "environment": {"type": "aws", "region": "eu-west-1"},
        "builder": {
            "type": "kaniko",
            "destination": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/runs",
            "build-context-store": "s3://bucket/ctx",
            "build-job-name": "from-extra-config",
            "kaniko-image": "gcr.io/kaniko-project/executor:v1.23.2",
            "secret-name": "aws-creds",
            "secret-key": "credentials",
            "kaniko-config": {"spec": {"activeDeadlineSeconds": 600}},
        },
    }
    AgentConfig(**resolve_like_the_agent(cfg))


def test_extra_config_lets_through_exactly_the_agent_config_keys() -> None:
    """The chart refuses an extraConfig key the SDK's AgentConfig would refuse, and names the
    keys it accepts: exactly AgentConfig's fields, so no key the agent reads is refused."""
    result = helm_template("--set", f"apiKey.value={API_KEY_PLACEHOLDER}", "--set", "launchConfig.queues={q}",
                           "--set-json", 'launchConfig.extraConfig={"runner": {}}')
    assert result.returncode != 0
    (line,) = [line for line in result.stderr.splitlines() if "extraConfig has key" in line]
    accepted = line.split("use one of ", 1)[1].split(", ")
    fields = {field.alias or name for name, field in AgentConfig.model_fields.items()}
    assert sorted(accepted) == sorted(fields)
