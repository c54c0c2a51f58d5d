"""Per-cloud chart values from a few inputs (flags or a small spec file).

Pure data work: no SDK, no cluster. `values_cmd` adds the SDK's checks and writes the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wandb_launch import inputs
from wandb_launch.errors import InputError

CLOUDS = ("gke", "eks", "aks", "local")


@dataclass(frozen=True)
class Field:
    """One input: its spec key, its flag, its format check, its help."""

    key: str
    check: inputs.Check
    help: str
    flag: str = ""
    many: bool = False

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.key)


@dataclass
class Source:
    """Where the inputs came from, to name them in errors: flags or a spec file."""

    spec_path: str = ""
    from_flags: set[str] = field(default_factory=set)

    def name(self, fld: Field) -> str:
        if fld.key in self.from_flags or not self.spec_path:
            return fld.option
        return f"{self.spec_path}: key '{fld.key}'"


GKE_FIELDS = (
    Field("project", inputs.gcp_project, "GCP project id"),
    Field("region", inputs.gcp_region, "GCP region of the registry and the cluster, e.g. us-central1"),
    Field("repository", inputs.artifact_repository, "Artifact Registry repository id"),
    Field("image", inputs.image_name, "image name inside the repository"),
    Field("bucket", inputs.gcs_bucket, "GCS bucket for kaniko build contexts"),
    Field("gcp-service-account", inputs.google_service_account, "Google service account email (Workload Identity)"),
)
EKS_FIELDS = (
    Field("account-id", inputs.aws_account_id, "AWS account id of the ECR registry"),
    Field("region", inputs.aws_region, "AWS region, e.g. us-east-1"),
    Field("repository", inputs.ecr_repository, "ECR repository name"),
    Field("bucket", inputs.s3_bucket, "S3 bucket for kaniko build contexts"),
    Field("role-arn", inputs.iam_role_arn, "IAM role ARN for IRSA"),
)
AKS_FIELDS = (
    Field("acr-name", inputs.acr_name, "Azure Container Registry name (without .azurecr.io)"),
    Field("repository", inputs.acr_repository, "ACR repository name"),
    Field("storage-account", inputs.storage_account, "Azure storage account for build contexts"),
    Field("storage-container", inputs.storage_container, "blob container for build contexts"),
    Field("client-id", inputs.azure_client_id, "client id of the managed identity (Workload Identity)"),
    Field("region", inputs.azure_region, "Azure region, e.g. eastus"),
)
# Full URIs instead of their parts, for layouts the parts do not cover.
URI_FIELDS = (
    Field("destination", str, "registry repository URI instead of its parts (no tag)"),
    Field("build-context-store", str, "build context URI instead of bucket/prefix"),
)
COMMON_FIELDS = (
    Field("queues", inputs.queue, "launch queue (repeat for several)", flag="queue", many=True),
    Field("entity", inputs.entity, "W&B entity owning the queues (default: the API key's entity)"),
    Field("base-url", inputs.base_url, "W&B server URL (default https://api.wandb.ai)"),
    Field(
        "target-namespaces",
        inputs.namespace,
        "namespace runs launch into (repeat for several; default: default)",
        flag="target-namespace",
        many=True,
    ),
    Field("max-jobs", inputs.max_jobs, "runs the agent keeps at once; -1 = unlimited (default 1)"),
    Field("kaniko-image", inputs.image, "kaniko executor image (default: the SDK's)"),
    Field("agent-namespace", inputs.namespace, "namespace of the agent, created by the chart (default: wandb)"),
    Field("prefix", inputs.prefix, "path prefix inside the bucket or container (default: build-contexts)"),
)
CLOUD_FIELDS: dict[str, tuple[Field, ...]] = {
    "gke": GKE_FIELDS + URI_FIELDS,
    "eks": EKS_FIELDS + URI_FIELDS,
    "aks": AKS_FIELDS + URI_FIELDS,
    "local": (),
}
ALL_FIELDS: dict[str, Field] = {f.key: f for f in GKE_FIELDS + EKS_FIELDS + AKS_FIELDS + URI_FIELDS + COMMON_FIELDS}

# What each cloud's inputs are turned into; the SDK's regexes (utils.py) read these forms.
HEADERS = {
    "gke": "GKE: kaniko builds pushed to Artifact Registry, build contexts in GCS,\n"
    "GKE Workload Identity for the agent and its build pods.",
    "eks": "EKS: kaniko builds pushed to ECR, build contexts in S3, IRSA for the agent and its build pods.",
    "aks": "AKS: kaniko builds pushed to ACR, build contexts in Azure Blob Storage,\n"
    "Azure Workload Identity for the agent and its build pods.",
    "local": "A local cluster (kind, minikube, the test control plane): prebuilt images only (noop builder), no cloud.",
}
IDENTITY_NOTES = {
    "gke": "Workload Identity: the Google service account the agent and kaniko act as\n"
    "(needs roles/artifactregistry.writer, and roles/storage.objectAdmin on the bucket).",
    "eks": "IRSA: the IAM role the agent and kaniko assume (ECR push, S3 read/write on the bucket),\n"
    "trusted by the cluster's OIDC provider.",
    "aks": "Workload Identity: the managed identity federated with this service account\n"
    "(AcrPush on the registry, Storage Blob Data Contributor on the container).",
}
ANNOTATION_KEYS = {
    "gke": "iam.gke.io/gcp-service-account",
    "eks": "eks.amazonaws.com/role-arn",
    "aks": "azure.workload.identity/client-id",
}
ENVIRONMENT_TYPES = {"gke": "gcp", "eks": "aws", "aks": "azure"}
DEFAULT_PREFIX = "build-contexts"
# The SDK reads the Azure storage key from secret azure-storage-access-key in namespace
# `wandb` (builder/kaniko_builder.py), so on AKS the agent must live there.
AKS_AGENT_NAMESPACE = "wandb"


@dataclass
class Resolved:
    """The chart values for one cloud, and the comments that explain them."""

    cloud: str
    values: dict[str, Any]
    comments: dict[str, str]


def normalise(cloud: str, raw: Mapping[str, Any], source: Source) -> dict[str, Any]:
    """Check every input's format; return {key: value or [values]}. Unknown keys are errors."""
    allowed = {f.key: f for f in CLOUD_FIELDS[cloud] + COMMON_FIELDS}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ALL_FIELDS:
            where = f"--{key}" if not source.spec_path else f"{source.spec_path}: key '{key}'"
            known = ", ".join(sorted(ALL_FIELDS))
            raise InputError(where, "unknown input", f"use one of: cloud, {known}")
        # Same key, other format per cloud (region): check with this cloud's field.
        fld = allowed.get(key, ALL_FIELDS[key])
        if key not in allowed:
            raise InputError(
                source.name(fld), f"is not used for cloud {cloud}", "remove it or pick the cloud it belongs to"
            )
        if value is None or value == "" or value == []:
            continue
        try:
            if fld.many:
                items = value if isinstance(value, list) else [value]
                out[key] = [fld.check(str(v)) for v in items]
            else:
                if isinstance(value, (list, dict)):
                    raise ValueError("expects a single value, not a list or mapping")
                out[key] = fld.check(str(value)) if fld.check is not str else str(value).strip()
        except ValueError as e:
            raise InputError(
                source.name(fld), str(e), f"fix {fld.option}" if source.name(fld) == fld.option else "fix the spec"
            ) from None
    return out


def _require(cloud: str, given: Mapping[str, Any], source: Source, *keys: str, unless: str = "") -> None:
    for key in keys:
        if key not in given and not (unless and unless in given):
            fld = ALL_FIELDS[key]
            alt = f" (or --{unless} with the full URI)" if unless else ""
            raise InputError(source.name(fld), f"is required for cloud {cloud}", f"give {fld.option} <{fld.help}>{alt}")


def _cloud_uris(cloud: str, given: Mapping[str, Any], source: Source) -> tuple[str, str]:
    """Registry destination and build-context store: from their parts or given whole."""
    prefix = given.get("prefix", DEFAULT_PREFIX)
    if cloud == "gke":
        _require(cloud, given, source, "project", "repository", "image", unless="destination")
        _require(cloud, given, source, "bucket", unless="build-context-store")
        destination = given.get("destination") or (
            f"{given['region']}-docker.pkg.dev/{given['project']}/{given['repository']}/{given['image']}"
        )
        store = given.get("build-context-store") or f"gs://{given['bucket']}/{prefix}"
    elif cloud == "eks":
        _require(cloud, given, source, "account-id", "repository", unless="destination")
        _require(cloud, given, source, "bucket", unless="build-context-store")
        destination = given.get("destination") or (
            f"{given['account-id']}.dkr.ecr.{given['region']}.amazonaws.com/{given['repository']}"
        )
        store = given.get("build-context-store") or f"s3://{given['bucket']}/{prefix}"
    else:
        _require(cloud, given, source, "acr-name", "repository", unless="destination")
        _require(cloud, given, source, "storage-account", "storage-container", unless="build-context-store")
        destination = given.get("destination") or f"{given['acr-name']}.azurecr.io/{given['repository']}"
        store = given.get("build-context-store") or (
            f"https://{given['storage-account']}.blob.core.windows.net/{given['storage-container']}/{prefix}"
        )
    return destination, store


def resolve(cloud: str, raw: Mapping[str, Any], source: Source) -> Resolved:
    """Chart values (the `chart/values.yaml` contract) for one cloud."""
    if cloud not in CLOUDS:
        where = "--cloud" if not source.spec_path else f"{source.spec_path}: key 'cloud'"
        raise InputError(where, f"unknown cloud {cloud!r}", f"use one of: {', '.join(CLOUDS)}")
    given = normalise(cloud, raw, source)
    if "queues" not in given:
        raise InputError(source.name(ALL_FIELDS["queues"]), "at least one queue is required", "give --queue <name>")
    agent_namespace = given.get("agent-namespace", AKS_AGENT_NAMESPACE)
    if cloud == "aks" and agent_namespace != AKS_AGENT_NAMESPACE:
        raise InputError(
            source.name(ALL_FIELDS["agent-namespace"]),
            "on AKS the agent must run in namespace wandb (the SDK reads secret azure-storage-access-key there)",
            "drop it or set it to wandb",
        )
    values: dict[str, Any] = {"namespace": {"create": True, "name": agent_namespace}}
    comments = {"namespace": "The agent's namespace, created with the release and labelled for Pod Security."}
    if cloud == "aks":
        comments["namespace"] += (
            "\nThe SDK reads the storage key secret in namespace `wandb`, so the agent lives there."
        )
    launch: dict[str, Any] = {"queues": given["queues"]}
    if "entity" in given:
        launch["entity"] = given["entity"]
    launch["maxJobs"] = int(given.get("max-jobs", "1"))
    if cloud == "local":
        launch["builder"] = {"type": "noop"}
    else:
        _require(cloud, given, source, "region")
        identity_key = {"gke": "gcp-service-account", "eks": "role-arn", "aks": "client-id"}[cloud]
        _require(cloud, given, source, identity_key)
        destination, store = _cloud_uris(cloud, given, source)
        values["serviceAccount"] = {"annotations": {ANNOTATION_KEYS[cloud]: given[identity_key]}}
        comments["serviceAccount"] = IDENTITY_NOTES[cloud]
        if cloud == "aks":
            values["podLabels"] = {"azure.workload.identity/use": "true"}
            comments["podLabels"] = "Lets the Workload Identity webhook inject the federated token into the agent pod."
        launch["environment"] = {"type": ENVIRONMENT_TYPES[cloud], "region": given["region"]}
        launch["builder"] = {"type": "kaniko", "destination": destination, "buildContextStore": store}
        if "kaniko-image" in given:
            launch["builder"]["kanikoImage"] = given["kaniko-image"]
    for unused in ("kaniko-image", "prefix"):
        if cloud == "local" and unused in given:
            raise InputError(
                source.name(ALL_FIELDS[unused]), "is not used with the noop builder of cloud local", "remove it"
            )
    values["targetNamespaces"] = given.get("target-namespaces", ["default"])
    comments["targetNamespaces"] = (
        "Namespaces runs launch into; each must exist and gets the agent's Role and the API-key secret.\n"
        "Add yours (kubectl create namespace NAME first); a queue config without a namespace lands in default."
    )
    if "base-url" in given:
        values["baseUrl"] = given["base-url"]
        comments["baseUrl"] = "The W&B server the agent talks to."
    values["launchConfig"] = launch
    comments["launchConfig"] = "The agent's launch-config.yaml; the chart renders it in the SDK's key spelling."
    return Resolved(cloud, values, comments)


def _dump(data: Any) -> str:
    """Block YAML with sequences indented under their key (yamllint's default style)."""
    import yaml

    class IndentedDumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    return yaml.dump(data, Dumper=IndentedDumper, sort_keys=False, default_flow_style=False)


def render(resolved: Resolved, generated_from: str) -> str:
    """The values file: a header, then each top-level key under its comment."""

    def comment(text: str) -> str:
        return "".join(f"# {line}\n" for line in text.splitlines())

    cloud = resolved.cloud
    install = f"helm launch install -f values/{cloud}.yaml --api-key-env WANDB_API_KEY" + (
        " --azure-storage-key-env AZURE_STORAGE_KEY" if cloud == "aks" else ""
    )
    plain = f"helm install wandb-launch ./chart -f values/{cloud}.yaml --set apiKey.value=$WANDB_API_KEY" + (
        " --set kaniko.azureStorage.accessKey=$AZURE_STORAGE_KEY" if cloud == "aks" else ""
    )
    parts = [
        comment(HEADERS[cloud]),
        comment(
            f"Generated by `wandb-launch values` from {generated_from}: edit that, not this file."
            if generated_from
            else "Generated by `wandb-launch values` from flags."
        ),
        comment(f"Install: {install}\n     or: {plain}"),
    ]
    for key, value in resolved.values.items():
        parts.append("\n" + comment(resolved.comments[key]))
        parts.append(_dump({key: value}))
    return "".join(parts)
