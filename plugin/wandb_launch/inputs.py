"""Format checks of the few inputs `values` takes: one function per kind of input.

Each returns the (normalised) value or raises `ValueError` with what is wrong and the
expected form; the caller adds which flag or spec key it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Check = Callable[[str], str]


def _pattern(regex: str, expected: str, *, lower: bool = False) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        text = str(value).strip()
        if lower:
            text = text.lower()
        if not compiled.fullmatch(text):
            raise ValueError(f"{value!r} is not {expected}")
        return text

    return check


def _not_a_uri(check: Check, what: str) -> Check:
    """Wrap a name check so a full URI given where a bare name belongs gets a precise message."""

    def wrapped(value: str) -> str:
        text = str(value).strip()
        if "://" in text:
            raise ValueError(f"{value!r} is a URI; give only the {what} name, the URI is built from it")
        return check(text)

    return wrapped


gcp_project = _pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
    "a GCP project id (6-30 lowercase letters, digits or hyphens, starting with a letter), e.g. my-gcp-project",
)
gcp_region = _pattern(r"[a-z]+-[a-z]+[0-9]+", "a GCP region, e.g. us-central1 or europe-west4")
aws_region = _pattern(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "an AWS region, e.g. us-east-1")
azure_region = _pattern(r"[a-z][a-z0-9]+", "an Azure region name, e.g. eastus or westeurope", lower=True)
artifact_repository = _pattern(
    r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    "an Artifact Registry repository id (lowercase letters, digits, hyphens), e.g. launch-images",
)
# The SDK's GAR pattern reads the image name as [\w-]+: no dots, no nested paths.
image_name = _pattern(r"[a-z0-9]+([_-][a-z0-9]+)*", "an image name (lowercase letters, digits, - or _), e.g. runs")
gcs_bucket = _not_a_uri(
    _pattern(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", "a GCS bucket name (3-63 lowercase letters, digits, . _ -)"),
    "bucket",
)
s3_bucket = _not_a_uri(
    _pattern(r"(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3-63 lowercase letters, digits, . -)"),
    "bucket",
)
google_service_account = _pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com"
    r"|[0-9]+-compute@developer\.gserviceaccount\.com",
    "a Google service account email, e.g. wandb-launch@my-gcp-project.iam.gserviceaccount.com",
)
aws_account_id = _pattern(r"[0-9]{12}", "an AWS account id (12 digits), e.g. 123456789012")
ecr_repository = _pattern(
    r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
    "an ECR repository name (lowercase letters, digits, . _ - and /), e.g. launch-images",
)
iam_role_arn = _pattern(
    r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}",
    "an IAM role ARN, e.g. arn:aws:iam::123456789012:role/wandb-launch-agent",
)
acr_name = _not_a_uri(
    _pattern(r"[a-z0-9]{5,50}", "an ACR registry name (5-50 letters or digits, no .azurecr.io)", lower=True),
    "registry",
)
# The SDK's ACR pattern reads the repository as [\w\-]+: a nested path would be taken for a tag.
acr_repository = _pattern(
    r"[a-z0-9]+([_-][a-z0-9]+)*",
    "an ACR repository without slashes (lowercase letters, digits, - _), e.g. launch-images",
)
storage_account = _not_a_uri(
    _pattern(r"[a-z0-9]{3,24}", "an Azure storage account name (3-24 lowercase letters or digits)"),
    "storage account",
)
storage_container = _pattern(
    r"[a-z0-9](-?[a-z0-9]){2,62}", "a blob container name (3-63 lowercase letters, digits, single hyphens)"
)
azure_client_id = _pattern(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "a client id (a UUID like 00000000-0000-0000-0000-000000000000)",
    lower=True,
)
namespace = _pattern(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a Kubernetes namespace name (DNS label)")
queue = _pattern(r"[^\s/]{1,128}", "a queue name (no spaces or slashes)")
entity = _pattern(r"[A-Za-z0-9_-]{1,64}", "a W&B entity (letters, digits, _ or -)")
base_url = _pattern(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?", "an http(s) URL, e.g. https://api.wandb.ai")
image = _pattern(r"[a-z0-9][\w./:-]*(@sha256:[0-9a-f]{64})?", "a container image reference")


def prefix(value: str) -> str:
    """A bucket prefix: path segments, no scheme; surrounding slashes are dropped."""
    text = str(value).strip().strip("/")
    if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", text):
        raise ValueError(f"{value!r} is not a bucket prefix (path segments of letters, digits, . _ -)")
    return text


def max_jobs(value: str) -> str:
    """Runs at once: a positive integer, or -1 for unlimited (SDK `max_jobs`)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
    if number == 0 or number < -1:
        raise ValueError(f"{value!r} is out of range: use a positive number, or -1 for unlimited")
    return str(number)
