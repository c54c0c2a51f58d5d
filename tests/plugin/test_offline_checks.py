"""The SDK's checks `values` runs before writing anything (wandb_launch.offlinecheck): a
registry destination and a build-context store of the right cloud, and the rendered launch
config judged by the resolver of the chart being checked. Each refusal is read whole, as
the user reads it."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..clirun import one_line_error
from ..paths import CHART
from .test_bad_input import AKS, EKS, GKE

GAR = "us-central1-docker.pkg.dev/my-project/repo/img"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo"
ACR = "myacr01.azurecr.io/repo"


@pytest.mark.parametrize(("base", "destination"), [(GKE, GAR), (EKS, ECR), (AKS, ACR)], ids=["gke", "eks", "aks"])
def test_a_destination_given_with_https_is_the_same_registry(cli, tmp_path: Path, base: list[str], destination: str) -> None:
    """The SDK accepts `https://` before a registry URI (validate_registry_uri strips it); so do we."""
    out = tmp_path / "values.yaml"
    result = cli("values", *base, "--destination", f"https://{destination}", "-o", str(out))
    assert result.code == 0, result.err
    assert f"destination: https://{destination}\n" in out.read_text()


REFUSALS = [
    (
        "registry of another cloud",
        GKE + ["--destination", ECR],
        f"--destination: '{ECR}' is an ECR URI, not Artifact Registry; give the Artifact Registry repository of cloud gke",
    ),
    (
        "registry the SDK does not know",
        EKS + ["--destination", "quay.io/team/img"],
        "--destination: 'quay.io/team/img' is not an ECR URI the SDK recognises; give the ECR repository of cloud eks",
    ),
    (
        "registry with a tag",
        GKE + ["--destination", f"https://{GAR}:v1"],
        f"--destination: 'https://{GAR}:v1': Destination for built images may not include a tag, but the URI "
        "provided includes the suffix ':v1'; fix the URI (no tag; Artifact Registry needs an image name)",
    ),
    (
        "store of another cloud",
        AKS + ["--build-context-store", "gs://bkt/ctx"],
        "--build-context-store: 'gs://bkt/ctx' is a bucket URI of cloud gke; "
        "use https://<account>.blob.core.windows.net/<container>/<prefix> on cloud aks",
    ),
    (
        "store the SDK does not read",
        GKE + ["--build-context-store", "ftp://bkt/ctx"],
        "--build-context-store: 'ftp://bkt/ctx' is not a bucket URI the SDK accepts; use gs://<bucket>/<prefix> on cloud gke",
    ),
]


@pytest.mark.parametrize(("argv", "line"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusals_read_whole(cli, tmp_path: Path, argv: list[str], line: str) -> None:
    out = tmp_path / "values.yaml"
    result = cli("values", *argv, "-o", str(out))
    assert result.code == 2
    assert one_line_error(result) == f"wandb-launch values: error: {line}"
    assert not out.exists()


@pytest.fixture
def chart_with_stricter_resolver(tmp_path: Path) -> Iterator[Path]:
    """A copy of the chart whose files/helm_test_check.py refuses every launch config: a chart
    other than the packaged one, told apart by its verdict."""
    name = "wandb_launch_chart_helm_test_check"
    loaded = sys.modules.get(name)
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    with (chart / "files" / "helm_test_check.py").open("a") as check:
        check.write(
            "\n\n_agent_config_problems = agent_config_problems\n\n\n"
            "def agent_config_problems(config):\n"
            "    return [*_agent_config_problems(config), 'max_jobs: this copy of the chart refuses every config']\n"
        )
    yield chart
    # Loading the copy registered it under the module name the packaged chart's file uses.
    if loaded is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = loaded


def test_the_launch_config_is_judged_by_the_chart_given(cli, chart_with_stricter_resolver: Path) -> None:
    result = cli("values", "--cloud", "local", "--queue", "q", "--chart", str(chart_with_stricter_resolver))
    assert result.code == 2
    assert one_line_error(result) == (
        "wandb-launch values: error: launch config: max_jobs: this copy of the chart refuses every config; "
        "fix the inputs that feed this key"
    )
