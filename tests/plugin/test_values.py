"""`values`: the committed values/*.yaml are its output for the committed specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from wandb_launch.chartoutput import render, with_placeholder_key
from wandb_launch.offlinecheck import launch_config_problems

from ..paths import CHART, REPO

CLOUDS = ("gke", "eks", "aks", "local")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_committed_values_are_regenerated_byte_for_byte(cli, tmp_path: Path, cloud: str) -> None:
    out = tmp_path / f"{cloud}.yaml"
    result = cli("values", "--spec", f"values/specs/{cloud}.yaml", "-o", str(out))
    assert result.code == 0, result.err
    assert out.read_text() == (REPO / "values" / f"{cloud}.yaml").read_text(), (
        f"values/{cloud}.yaml is stale: run wandb-launch values --spec values/specs/{cloud}.yaml -o values/{cloud}.yaml"
    )


@pytest.mark.parametrize("cloud", CLOUDS)
def test_committed_values_pass_the_sdk(cloud: str) -> None:
    """The launch config the chart renders from each committed file, judged by `AgentConfig`."""
    values = [REPO / "values" / f"{cloud}.yaml"]
    rendered = render(CHART, helm="helm", value_files=values, values=with_placeholder_key({}))
    problems, _ = launch_config_problems(rendered.launch_config, chart=CHART)
    assert problems == []


def test_flags_give_the_same_file_as_the_spec_less_its_origin(cli) -> None:
    from_spec = cli("values", "--spec", "values/specs/gke.yaml")
    from_flags = cli(
        "values",
        "--cloud",
        "gke",
        "--project",
        "my-gcp-project",
        "--region",
        "us-central1",
        "--repository",
        "launch-images",
        "--image",
        "runs",
        "--bucket",
        "my-launch-bucket",
        "--gcp-service-account",
        "wandb-launch@my-gcp-project.iam.gserviceaccount.com",
        "--queue",
        "gke-queue",
        "--entity",
        "my-team",
        "--max-jobs",
        "4",
        "--target-namespace",
        "default",
    )
    assert from_spec.code == from_flags.code == 0
    assert yaml.safe_load(from_spec.out) == yaml.safe_load(from_flags.out)
    assert "from flags" in from_flags.out


@pytest.mark.parametrize(
    ("cloud", "args", "path", "expected"),
    [
        (
            "gke",
            [
                "--project",
                "p-roject1",
                "--region",
                "europe-west4",
                "--repository",
                "r",
                "--image",
                "i",
                "--bucket",
                "b-1",
                "--gcp-service-account",
                "sa-name@p-roject1.iam.gserviceaccount.com",
            ],
            ("launchConfig", "builder", "destination"),
            "europe-west4-docker.pkg.dev/p-roject1/r/i",
        ),
        (
            "eks",
            [
                "--account-id",
                "111122223333",
                "--region",
                "eu-west-1",
                "--repository",
                "team/runs",
                "--bucket",
                "bkt",
                "--prefix",
                "/ctx/",
                "--role-arn",
                "arn:aws:iam::111122223333:role/x",
            ],
            ("launchConfig", "builder", "buildContextStore"),
            "s3://bkt/ctx",
        ),
        (
            "aks",
            [
                "--acr-name",
                "MyACR01",
                "--repository",
                "runs",
                "--storage-account",
                "acct1",
                "--storage-container",
                "ctx",
                "--client-id",
                "12345678-1234-1234-1234-123456789ABC",
                "--region",
                "westeurope",
            ],
            ("launchConfig", "builder", "destination"),
            "myacr01.azurecr.io/runs",
        ),
        (
            "aks",
            [
                "--acr-name",
                "myacr01",
                "--repository",
                "runs",
                "--storage-account",
                "acct1",
                "--storage-container",
                "ctx",
                "--client-id",
                "12345678-1234-1234-1234-123456789abc",
                "--region",
                "westeurope",
            ],
            ("serviceAccount", "annotations", "azure.workload.identity/client-id"),
            "12345678-1234-1234-1234-123456789abc",
        ),
        (
            "aks",
            [
                "--destination",
                "myacr01.azurecr.io/other",
                "--build-context-store",
                "https://a1b.blob.core.windows.net/c/p",
                "--client-id",
                "12345678-1234-1234-1234-123456789abc",
                "--region",
                "eastus",
            ],
            ("launchConfig", "builder", "buildContextStore"),
            "https://a1b.blob.core.windows.net/c/p",
        ),
        ("local", ["--base-url", "https://wandb.example.com"], ("baseUrl",), "https://wandb.example.com"),
        ("local", [], ("targetNamespaces",), ["default"]),
        (
            "gke",
            [
                "--project",
                "p-roject1",
                "--region",
                "us-east4",
                "--repository",
                "r",
                "--image",
                "i",
                "--bucket",
                "b-1",
                "--gcp-service-account",
                "sa-name@p-roject1.iam.gserviceaccount.com",
                "--kaniko-image",
                "gcr.io/kaniko-project/executor:v1.23.2",
            ],
            ("launchConfig", "builder", "kanikoImage"),
            "gcr.io/kaniko-project/executor:v1.23.2",
        ),
    ],
)
def test_inputs_resolve_to_the_cloud_forms(
    cli, cloud: str, args: list[str], path: tuple[str, ...], expected: object
) -> None:
    result = cli("values", "--cloud", cloud, "--queue", "q", *args)
    assert result.code == 0, result.err
    node = yaml.safe_load(result.out)
    for key in path:
        node = node[key]
    assert node == expected


def test_aks_labels_pods_for_workload_identity(cli) -> None:
    values = yaml.safe_load(cli("values", "--spec", "values/specs/aks.yaml").out)
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}
    assert values["namespace"]["name"] == "wandb"


def test_no_entity_is_validated_with_a_placeholder_and_said_so(cli) -> None:
    result = cli("values", "--cloud", "local", "--queue", "q")
    assert result.code == 0
    assert "entity not set" in result.err
    assert "entity" not in yaml.safe_load(result.out)["launchConfig"]


def test_values_never_contain_an_api_key(cli) -> None:
    for cloud in CLOUDS:
        assert "apiKey" not in yaml.safe_load(cli("values", "--spec", f"values/specs/{cloud}.yaml").out)
