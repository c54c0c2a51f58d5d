"""Helpers of the offline chart tests: render the chart once per values file with the real helm binary.

Every values file under values/ and every chart/ci/*-values.yaml is a scenario. helm,
ct and checkov must be on PATH (the Makefile puts ~/.cache/wandb-launch/bin there);
a missing tool fails the tests instead of skipping them.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from wandb_launch.clusterref import DEFAULT_RELEASE

from ..paths import CHART, REPO
# The README's --set values, defined apart so the mutation run renders with them too; re-exported.
from .command_line import API_KEY_PLACEHOLDER, AZURE_STORAGE_KEY_PLACEHOLDER, command_line_values, value_args

# The README's `helm install wandb-launch ./chart`: the CLI's default release.
RELEASE = DEFAULT_RELEASE
RELEASE_NAMESPACE = "default"
# Kubernetes versions the chart supports (Chart.yaml kubeVersion >=1.29): rendered output is
# validated against the oldest and the newest schemas kubernetes-validate ships.
OLDEST_KUBERNETES = "1.29"
# Capabilities for `helm template`: the control plane the install tests run (hack/versions.env).
RENDER_KUBE_VERSION = "v1.36.3"

CLOUD_VALUES = sorted((REPO / "values").glob("*.yaml"))
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
ALL_VALUES = CLOUD_VALUES + CI_VALUES


def values_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def tool(name: str) -> str:
    """Absolute path of a required command-line tool; fails the test when it is missing."""
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not on PATH: run `make tools` and put ~/.cache/wandb-launch/bin on PATH")
    return found


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, check=False)


def helm_template(
    *args: str, release: str = RELEASE, namespace: str = RELEASE_NAMESPACE
) -> subprocess.CompletedProcess[str]:
    return run_helm(
        "template", release, str(CHART), "--namespace", namespace, "--kube-version", RENDER_KUBE_VERSION, *args
    )


@cache
def rendered_text(values_file: Path) -> str:
    result = helm_template(*value_args(values_file))
    if result.returncode != 0:
        raise AssertionError(f"helm template failed for {values_id(values_file)}: {result.stderr.strip()}")
    return result.stdout


@cache
def _rendered_docs(values_file: Path) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(rendered_text(values_file)) if doc)


def rendered(values_file: Path) -> list[dict[str, Any]]:
    """The objects `helm template` renders for a scenario (test hooks included)."""
    return list(_rendered_docs(values_file))


def objects_of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = objects_of(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def launch_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rendered launch-config.yaml, parsed."""
    for cm in objects_of(docs, "ConfigMap"):
        if "launch-config.yaml" in cm.get("data", {}):
            return yaml.safe_load(cm["data"]["launch-config.yaml"])
    raise AssertionError("no ConfigMap with launch-config.yaml")


def scenario_values(values_file: Path) -> dict[str, Any]:
    """The chart's values.yaml with the scenario file laid over it (as helm does, for maps)."""
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    _deep_merge(merged, yaml.safe_load(values_file.read_text()) or {})
    return merged


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> None:
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
