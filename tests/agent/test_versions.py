"""One wandb version everywhere: the chart's appVersion, the agent image tag the chart
renders by default, the wandb the project's tests validate with, and the wandb the
agent-in-the-loop tests run as the agent."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from .conftest import BASE_VALUES, CHART, app_version


def rendered_agent_image() -> str:
    helm = shutil.which("helm")
    if helm is None:
        pytest.fail("helm is not on PATH: run `make tools` and put ~/.cache/wandb-launch/bin on PATH")
    rendered = subprocess.run([helm, "template", "v", str(CHART), "-f", str(BASE_VALUES), "--set", "apiKey.value=version-test-api-key-0000000000000000000000000000000"],
                              capture_output=True, text=True, check=True).stdout
    (deployment,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container["image"]


def test_app_version_image_tag_and_installed_wandb_agree(agent_venv: Path) -> None:
    expected = app_version()
    assert rendered_agent_image() == f"wandb/launch-agent:{expected}"
    assert version("wandb") == expected, "the project venv's wandb (pyproject.toml pin) differs from appVersion"
    in_agent_venv = subprocess.run(
        [str(agent_venv / "bin" / "python"), "-c", "import wandb; print(wandb.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert in_agent_venv == expected, f"{agent_venv} runs wandb {in_agent_venv}"
