"""The format checks of `values`' inputs (wandb_launch.inputs), called directly: what each
accepts, how it normalises, and the sentence it refuses with (the CLI prefixes the flag)."""

from __future__ import annotations

import pytest
from wandb_launch import inputs


def _refusal(check: inputs.Check, value: str) -> str:
    with pytest.raises(ValueError) as refused:
        check(value)
    return str(refused.value)


def test_surrounding_spaces_are_dropped() -> None:
    assert inputs.gcp_project("  my-gcp-project \n") == "my-gcp-project"
    assert inputs.gcs_bucket(" bkt-1 ") == "bkt-1"


def test_only_the_names_that_ignore_case_are_lowercased() -> None:
    # Azure region names and client ids ignore case: given as the portal shows them, written lowercase.
    assert inputs.azure_region("WestEurope") == "westeurope"
    assert inputs.azure_client_id("0A1B2C3D-0000-0000-0000-00000000000F") == "0a1b2c3d-0000-0000-0000-00000000000f"
    assert inputs.acr_name(" MyAcr01 ") == "myacr01"
    # GCP project ids are lowercase by definition: an uppercase one is a typo, not reformatted.
    assert _refusal(inputs.gcp_project, "My-Gcp-Project") == (
        "'My-Gcp-Project' is not a GCP project id (6-30 lowercase letters, digits or hyphens, "
        "starting with a letter), e.g. my-gcp-project"
    )


def test_the_whole_value_must_match() -> None:
    assert _refusal(inputs.aws_region, "us-east-1a") == "'us-east-1a' is not an AWS region, e.g. us-east-1"
    assert inputs.aws_region("us-gov-west-1") == "us-gov-west-1"


@pytest.mark.parametrize(
    ("check", "uri", "what"),
    [
        (inputs.gcs_bucket, "gs://bkt-1", "bucket"),
        (inputs.s3_bucket, " s3://bkt-1/ctx", "bucket"),
        (inputs.acr_name, "https://myacr01.azurecr.io", "registry"),
        (inputs.storage_account, "https://acct01.blob.core.windows.net", "storage account"),
    ],
)
def test_a_uri_where_a_name_belongs(check: inputs.Check, uri: str, what: str) -> None:
    assert _refusal(check, uri) == f"{uri!r} is a URI; give only the {what} name, the URI is built from it"


def test_a_name_check_behind_the_uri_check_still_refuses_bad_names() -> None:
    assert inputs.s3_bucket("bkt-1") == "bkt-1"
    assert _refusal(inputs.s3_bucket, "bkt..1") == "'bkt..1' is not an S3 bucket name (3-63 lowercase letters, digits, . -)"


@pytest.mark.parametrize(("given", "kept"), [("1", "1"), (" 8 ", "8"), ("-1", "-1"), ("1000", "1000")])
def test_max_jobs_accepted(given: str, kept: str) -> None:
    assert inputs.max_jobs(given) == kept


@pytest.mark.parametrize("given", ["0", "-2", "-10"])
def test_max_jobs_out_of_range(given: str) -> None:
    assert _refusal(inputs.max_jobs, given) == f"{given!r} is out of range: use a positive number, or -1 for unlimited"


def test_max_jobs_not_a_number() -> None:
    assert _refusal(inputs.max_jobs, "four") == "'four' is not an integer"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("wandb-launch", "wandb-launch"), ("/Team-A/build_ctx.v2/", "Team-A/build_ctx.v2"), ("X-rays/", "X-rays")],
)
def test_prefix_accepted(given: str, kept: str) -> None:
    assert inputs.prefix(given) == kept


@pytest.mark.parametrize("given", ["a b", "runs//ctx", "gs://bkt/ctx", "/"])
def test_prefix_refused(given: str) -> None:
    assert _refusal(inputs.prefix, given) == (
        f"{given!r} is not a bucket prefix (path segments of letters, digits, . _ -)"
    )
