"""Bad input: one line naming the flag or key and the fix, exit code 2, nothing written or applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..clirun import one_line_error

GKE = [
    "--cloud",
    "gke",
    "--queue",
    "q",
    "--project",
    "my-project",
    "--region",
    "us-central1",
    "--repository",
    "repo",
    "--image",
    "img",
    "--bucket",
    "bkt-1",
    "--gcp-service-account",
    "wandb-launch@my-project.iam.gserviceaccount.com",
]
EKS = [
    "--cloud",
    "eks",
    "--queue",
    "q",
    "--account-id",
    "123456789012",
    "--region",
    "us-east-1",
    "--repository",
    "repo",
    "--bucket",
    "bkt-1",
    "--role-arn",
    "arn:aws:iam::123456789012:role/agent",
]
AKS = [
    "--cloud",
    "aks",
    "--queue",
    "q",
    "--acr-name",
    "myacr01",
    "--repository",
    "repo",
    "--storage-account",
    "acct01",
    "--storage-container",
    "ctx",
    "--client-id",
    "00000000-0000-0000-0000-000000000000",
    "--region",
    "eastus",
]


def _replace(base: list[str], flag: str, value: str) -> list[str]:
    args = list(base)
    args[args.index(flag) + 1] = value
    return args


def _drop(base: list[str], flag: str) -> list[str]:
    args = list(base)
    i = args.index(flag)
    del args[i : i + 2]
    return args


# (case id, argv after `values`, text the error line must contain)
VALUES_CASES = [
    ("unknown cloud", ["--cloud", "gcp", "--queue", "q"], "--cloud: unknown cloud 'gcp'"),
    ("no cloud", ["--queue", "q"], "--cloud: no cloud given"),
    ("missing project", _drop(GKE, "--project"), "--project: is required for cloud gke"),
    ("malformed project", _replace(GKE, "--project", "My_Project"), "--project: 'My_Project' is not a GCP project id"),
    ("malformed gcp region", _replace(GKE, "--region", "us-central"), "--region: 'us-central' is not a GCP region"),
    ("bucket given as a URI", _replace(GKE, "--bucket", "gs://bkt-1"), "--bucket: 'gs://bkt-1' is a URI"),
    (
        "malformed google sa",
        _replace(GKE, "--gcp-service-account", "wandb-launch"),
        "--gcp-service-account: 'wandb-launch' is not a Google service account",
    ),
    (
        "gke destination of another cloud",
        GKE + ["--destination", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo"],
        "--destination: '123456789012.dkr.ecr.us-east-1.amazonaws.com/repo' is an ECR URI, not Artifact Registry",
    ),
    (
        "gke destination with a tag",
        GKE + ["--destination", "us-central1-docker.pkg.dev/p/r/img:v1"],
        "may not include a tag",
    ),
    (
        "gke destination without image",
        GKE + ["--destination", "us-central1-docker.pkg.dev/my-project/repo"],
        "An image name must be specified",
    ),
    (
        "gke store of another cloud",
        GKE + ["--build-context-store", "s3://bkt/ctx"],
        "--build-context-store: 's3://bkt/ctx' is a bucket URI of cloud eks; use gs://",
    ),
    ("malformed account id", _replace(EKS, "--account-id", "12345"), "--account-id: '12345' is not an AWS account id"),
    ("malformed aws region", _replace(EKS, "--region", "us-east"), "--region: 'us-east' is not an AWS region"),
    (
        "malformed role arn",
        _replace(EKS, "--role-arn", "arn:aws:iam::123456789012:user/bob"),
        "--role-arn: 'arn:aws:iam::123456789012:user/bob' is not an IAM role ARN",
    ),
    ("missing role arn", _drop(EKS, "--role-arn"), "--role-arn: is required for cloud eks"),
    ("malformed s3 bucket", _replace(EKS, "--bucket", "My_Bucket"), "--bucket: 'My_Bucket' is not an S3 bucket name"),
    ("malformed client id", _replace(AKS, "--client-id", "not-a-uuid"), "--client-id: 'not-a-uuid' is not a client id"),
    (
        "nested acr repository",
        _replace(AKS, "--repository", "team/img"),
        "--repository: 'team/img' is not an ACR repository without slashes",
    ),
    (
        "acr name with domain",
        _replace(AKS, "--acr-name", "myacr01.azurecr.io"),
        "--acr-name: 'myacr01.azurecr.io' is not an ACR registry name",
    ),
    ("malformed azure region", _replace(AKS, "--region", "East US"), "--region: 'East US' is not an Azure region"),
    (
        "aks agent outside wandb",
        AKS + ["--agent-namespace", "launch"],
        # The rule is the chart's (_validate.tpl); `values` names the input that fed the value.
        '--agent-namespace: the chart refuses it: namespace.name is "launch" but an azure kaniko agent must run in namespace wandb',
    ),
    (
        "aks destination of gke",
        AKS + ["--destination", "us-central1-docker.pkg.dev/p-roject/r/i"],
        "is an Artifact Registry URI, not ACR",
    ),
    (
        "key of another cloud",
        ["--cloud", "local", "--queue", "q", "--project", "my-project"],
        "--project: is not used for cloud local",
    ),
    ("no queue", ["--cloud", "local"], "--queue: at least one queue is required"),
    ("bad max jobs", ["--cloud", "local", "--queue", "q", "--max-jobs", "0"], "--max-jobs: '0' is out of range"),
    (
        "bad namespace",
        ["--cloud", "local", "--queue", "q", "--target-namespace", "Runs_NS"],
        "--target-namespace: 'Runs_NS' is not a Kubernetes namespace",
    ),
    (
        "bad base url",
        ["--cloud", "local", "--queue", "q", "--base-url", "api.wandb.ai"],
        "--base-url: 'api.wandb.ai' is not an http(s) URL",
    ),
    ("unknown flag", ["--cloud", "local", "--queue", "q", "--bukket", "x"], "unrecognized arguments: --bukket"),
]


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in VALUES_CASES], ids=[c[0] for c in VALUES_CASES])
def test_values_bad_input(cli, tmp_path: Path, argv: list[str], expected: str) -> None:
    out = tmp_path / "values.yaml"
    result = cli("values", *argv, "-o", str(out))
    assert result.code == 2
    assert expected in one_line_error(result)
    assert not out.exists(), "nothing may be written on bad input"


SPEC_CASES = [
    ("unknown spec key", "cloud: local\nqueues: [q]\nqueue: q\n", "spec.yaml: key 'queue': unknown input"),
    ("spec not a mapping", "- cloud: gke\n", "--spec: "),
    ("spec not yaml", "cloud: [gke\n", "is not valid YAML at line"),
    (
        "spec list where a value belongs",
        "cloud: gke\nqueues: [q]\nproject: [a, b]\n",
        "key 'project': expects a single value",
    ),
    ("spec unknown cloud", "cloud: azure\nqueues: [q]\n", "key 'cloud': unknown cloud 'azure'"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_values_bad_spec(cli, tmp_path: Path, text: str, expected: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = tmp_path / "values.yaml"
    result = cli("values", "--spec", str(spec), "-o", str(out))
    assert result.code == 2
    assert expected in one_line_error(result)
    assert not out.exists()


def test_unreadable_spec(cli, tmp_path: Path) -> None:
    result = cli("values", "--spec", str(tmp_path / "missing.yaml"))
    assert result.code == 2
    assert "--spec: cannot read" in one_line_error(result)


PREVIEW_CASES = [
    (
        "securityContext refused",
        {"spec": {"template": {"spec": {"containers": [{"securityContext": {"privileged": True}}]}}}},
        "option 'securityContext' is not allowed",
    ),
    (
        "hostPath refused",
        {"spec": {"template": {"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}}},
        "option 'hostPath' is not allowed",
    ),
    (
        "service account refused",
        {"spec": {"template": {"spec": {"serviceAccountName": "admin"}}}},
        "option 'serviceAccountName' is not allowed",
    ),
    (
        "hostNetwork refused",
        {"spec": {"template": {"spec": {"hostNetwork": "true"}}}},
        "option 'hostNetwork' is not allowed",
    ),
    (
        "unconfined seccomp refused",
        {"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}},
        "unconfined apparmor/seccomp",
    ),
]


@pytest.mark.parametrize(("config", "expected"), [c[1:] for c in PREVIEW_CASES], ids=[c[0] for c in PREVIEW_CASES])
def test_preview_job_refusals(cli, tmp_path: Path, config: dict, expected: str) -> None:
    path = tmp_path / "queue.json"
    path.write_text(json.dumps(config))
    result = cli("preview-job", str(path))
    assert result.code == 2
    line = one_line_error(result)
    assert line.startswith("wandb-launch preview-job: error: queue config: the agent refuses it:")
    assert expected in line
    assert result.out == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{not json", "is neither JSON nor YAML at line"), ("- a\n- b\n", "is a list, not a mapping"), ("", "is empty")],
    ids=["malformed", "a list", "empty"],
)
def test_preview_job_invalid_queue_config(cli, tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    result = cli("preview-job", str(path))
    assert result.code == 2
    assert expected in one_line_error(result)


def test_preview_job_unreadable_queue_config(cli, tmp_path: Path) -> None:
    result = cli("preview-job", str(tmp_path / "nope.json"))
    assert result.code == 2
    assert "cannot read it" in one_line_error(result)
