"""The SDK's own rules for registry and bucket URIs (wandb/sdk/launch/utils.py, agent/config.py).

Imports wandb: only commands that validate with the SDK use this module.
"""

from __future__ import annotations

from wandb_launch.errors import InputError

CLOUD_NAMES = {"gke": "Artifact Registry", "eks": "ECR", "aks": "ACR"}
STORE_FORMS = {
    "gke": "gs://<bucket>/<prefix>",
    "eks": "s3://<bucket>/<prefix>",
    "aks": "https://<account>.blob.core.windows.net/<container>/<prefix>",
}


def _registry_patterns() -> dict:
    from wandb.sdk.launch import utils

    return {
        "gke": utils.GCP_ARTIFACT_REGISTRY_URI_REGEX,
        "eks": utils.ELASTIC_CONTAINER_REGISTRY_URI_REGEX,
        "aks": utils.AZURE_CONTAINER_REGISTRY_URI_REGEX,
    }


def _store_patterns() -> dict:
    from wandb.sdk.launch import utils

    return {"gke": utils.GCS_URI_RE, "eks": utils.S3_URI_RE, "aks": utils.AZURE_BLOB_REGEX}


def check_destination(uri: str, cloud: str, where: str) -> None:
    """The destination is a registry URI of this cloud and passes `validate_registry_uri`."""
    from wandb.sdk.launch.agent.config import validate_registry_uri

    patterns = _registry_patterns()
    bare = uri[8:] if uri.startswith("https://") else uri
    if not patterns[cloud].match(bare):
        other = [CLOUD_NAMES[c] for c, p in patterns.items() if c != cloud and p.match(bare)]
        what = f"an {other[0]} URI" if other else "not a registry URI the SDK recognises"
        raise InputError(
            where,
            f"{uri!r} is {what}, not {CLOUD_NAMES[cloud]}",
            f"give the {CLOUD_NAMES[cloud]} repository of cloud {cloud}",
        )
    try:
        validate_registry_uri(uri)
    except ValueError as e:
        raise InputError(
            where, f"{uri!r}: {str(e).split('. ')[0]}", "fix the URI (no tag; Artifact Registry needs an image name)"
        ) from None


def check_build_context_store(uri: str, cloud: str, where: str) -> None:
    """The store is this cloud's bucket URI, in the form the SDK's regexes accept."""
    patterns = _store_patterns()
    if not patterns[cloud].match(uri):
        other = [c for c, p in patterns.items() if c != cloud and p.match(uri)]
        what = f"a {other[0]} bucket URI" if other else "not a bucket URI the SDK accepts"
        raise InputError(where, f"{uri!r} is {what}", f"use {STORE_FORMS[cloud]} on cloud {cloud}")
