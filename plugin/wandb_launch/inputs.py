"""Format checks of the few inputs `values` takes: one check per kind of input.

Each returns the (normalised) value or raises `ValueError` with what is wrong and the
expected form; the caller adds which flag or spec key it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[str], str]


@dataclass(frozen=True)
class _Pattern:
    """A check by regex: the stripped value (lowercased if `lower`) must match it whole.

    An object, not a closure, so that the check's code runs when a value is checked, not
    when this module builds the checks below (mutmut's mutants switch on at call time).
    """

    regex: str
    expected: str
    lower: bool = False

    def __call__(self, value: str) -> str:
        text = str(value).strip()
        if self.lower:
            text = text.lower()
        if not re.fullmatch(self.regex, text):
            raise ValueError(f"{value!r} is not {self.expected}")
        return text


@dataclass(frozen=True)
class _NotAUri:
    """A name check that gives a full URI, where a bare name belongs, a precise message."""

    check: Check
    what: str

    def __call__(self, value: str) -> str:
        text = str(value).strip()
        if "://" in text:
            raise ValueError(f"{value!r} is a URI; give only the {self.what} name, the URI is built from it")
        return self.check(text)


gcp_project = _Pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
    "a GCP project id (6-30 lowercase letters, digits or hyphens, starting with a letter), e.g. my-gcp-project",
)
gcp_region = _Pattern(r"[a-z]+-[a-z]+[0-9]+", "a GCP region, e.g. us-central1 or europe-west4")
aws_region = _Pattern(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "an AWS region, e.g. us-east-1")
azure_region = _Pattern(r"[a-z][a-z0-9]+", "an Azure region name, e.g. eastus or westeurope", lower=True)
artifact_repository = _Pattern(
    r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    "an Artifact Registry repository id (lowercase letters, digits, hyphens), e.g. launch-images",
)
# The SDK's GAR pattern reads the image name as [\w-]+: no dots, no nested paths.
image_name = _Pattern(r"[a-z0-9]+([_-][a-z0-9]+)*", "an image name (lowercase letters, digits, - or _), e.g. runs")
gcs_bucket = _NotAUri(
    _Pattern(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", "a GCS bucket name (3-63 lowercase letters, digits, . _ -)"),
    "bucket",
)
s3_bucket = _NotAUri(
    _Pattern(r"(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3-63 lowercase letters, digits, . -)"),
    "bucket",
)
google_service_account = _Pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com"
    r"|[0-9]+-compute@developer\.gserviceaccount\.com",
    "a Google service account email, e.g. wandb-launch@my-gcp-project.iam.gserviceaccount.com",
)
aws_account_id = _Pattern(r"[0-9]{12}", "an AWS account id (12 digits), e.g. 123456789012")
ecr_repository = _Pattern(
    r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
    "an ECR repository name (lowercase letters, digits, . _ - and /), e.g. launch-images",
)
iam_role_arn = _Pattern(
    r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}",
    "an IAM role ARN, e.g. arn:aws:iam::123456789012:role/wandb-launch-agent",
)
acr_name = _NotAUri(
    _Pattern(r"[a-z0-9]{5,50}", "an ACR registry name (5-50 letters or digits, no .azurecr.io)", lower=True),
    "registry",
)
# The SDK's ACR pattern reads the repository as [\w\-]+: a nested path would be taken for a tag.
acr_repository = _Pattern(
    r"[a-z0-9]+([_-][a-z0-9]+)*",
    "an ACR repository without slashes (lowercase letters, digits, - _), e.g. launch-images",
)
storage_account = _NotAUri(
    _Pattern(r"[a-z0-9]{3,24}", "an Azure storage account name (3-24 lowercase letters or digits)"),
    "storage account",
)
storage_container = _Pattern(
    r"[a-z0-9](-?[a-z0-9]){2,62}", "a blob container name (3-63 lowercase letters, digits, single hyphens)"
)
azure_client_id = _Pattern(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "a client id (a UUID like 00000000-0000-0000-0000-000000000000)",
    lower=True,
)
namespace = _Pattern(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a Kubernetes namespace name (DNS label)")
queue = _Pattern(r"[^\s/]{1,128}", "a queue name (no spaces or slashes)")
entity = _Pattern(r"[A-Za-z0-9_-]{1,64}", "a W&B entity (letters, digits, _ or -)")
base_url = _Pattern(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?", "an http(s) URL, e.g. https://api.wandb.ai")
image = _Pattern(r"[a-z0-9][\w./:-]*(@sha256:[0-9a-f]{64})?", "a container image reference")


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
