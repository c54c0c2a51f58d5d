"""One record per cloud: its inputs, how its registry destination, build-context URI and
identity annotation are built from them, its `environment.type`, the notes written into
its values file, the SDK regexes that check its URIs, and the secret a kaniko build on it
needs at install time.

`values` (cloudvalues, values_cmd), the SDK checks (offlinecheck) and `install` read these
records and nothing else per cloud: adding a cloud is adding a record here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wandb_launch import inputs


@dataclass(frozen=True)
class Field:
    """One input: its spec key, its flag, its format check, its help, the chart value it feeds."""

    key: str
    check: inputs.Check
    help: str
    flag: str = ""
    many: bool = False
    value: str = ""  # the chart value it ends up in (dotted), to name the input when the chart refuses it

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.key)


@dataclass(frozen=True)
class InstallSecret:
    """A secret value a kaniko build on this cloud needs, given at install time from an env var."""

    flag: str  # the install flag naming the env var
    env_example: str  # the env var suggested in messages and values files
    value_path: tuple[str, ...]  # the chart value it fills
    what: str  # what it is, for the error when it is missing
    help: str  # the install flag's help

    @property
    def set_flag(self) -> str:
        return f"--set {'.'.join(self.value_path)}=${self.env_example}"


@dataclass(frozen=True)
class Cloud:
    name: str
    header: str  # first comment of the values file
    fields: tuple[Field, ...] = ()  # its own inputs (a cloud that builds images also takes URI_FIELDS)
    environment: str = ""  # launchConfig.environment.type; empty: no cloud, prebuilt images (noop builder)
    registry: str = ""  # the registry product, for messages
    registry_regex: str = ""  # name in wandb.sdk.launch.utils of the regex its destination must match
    store_regex: str = ""  # same, for its build-context store
    store_form: str = ""  # the build-context URI form, for messages
    destination_inputs: tuple[str, ...] = ()  # inputs the destination is built from (or --destination)
    store_inputs: tuple[str, ...] = ()  # same for the store (or --build-context-store)
    destination: Callable[[Mapping[str, str]], str] | None = None
    store: Callable[[Mapping[str, str], str], str] | None = None  # (inputs, prefix) -> URI
    identity_input: str = ""  # the input that becomes the service account annotation
    identity_annotation: str = ""
    identity_note: str = ""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_labels_note: str = ""
    namespace_note: str = ""  # added to the agent namespace's comment
    install_secret: InstallSecret | None = None

    @property
    def builds_images(self) -> bool:
        return self.destination is not None

    @property
    def all_fields(self) -> tuple[Field, ...]:
        return self.fields + (URI_FIELDS if self.builds_images else ())

    def field(self, key: str) -> Field:
        return next(f for f in self.all_fields + COMMON_FIELDS if f.key == key)


# Defaults of the inputs that have one.
DEFAULT_AGENT_NAMESPACE = "wandb"
DEFAULT_PREFIX = "build-contexts"

# Chart values several inputs feed.
DESTINATION = "launchConfig.builder.destination"
STORE = "launchConfig.builder.buildContextStore"
REGION = "launchConfig.environment.region"
IDENTITY = "serviceAccount.annotations"

# Full URIs instead of their parts, for layouts the parts do not cover.
URI_FIELDS = (
    Field("destination", str, "registry repository URI instead of its parts (no tag)", value=DESTINATION),
    Field("build-context-store", str, "build context URI instead of bucket/prefix", value=STORE),
)
COMMON_FIELDS = (
    Field(
        "queues",
        inputs.queue,
        "launch queue (repeat for several)",
        flag="queue",
        many=True,
        value="launchConfig.queues",
    ),
    Field(
        "entity",
        inputs.entity,
        "W&B entity owning the queues (default: the API key's entity)",
        value="launchConfig.entity",
    ),
    Field("base-url", inputs.base_url, "W&B server URL (default https://api.wandb.ai)", value="baseUrl"),
    Field(
        "target-namespaces",
        inputs.namespace,
        "namespace runs launch into (repeat for several; default: default)",
        flag="target-namespace",
        many=True,
        value="targetNamespaces",
    ),
    Field(
        "max-jobs",
        inputs.max_jobs,
        "runs the agent keeps at once; -1 = unlimited (default 1)",
        value="launchConfig.maxJobs",
    ),
    Field(
        "kaniko-image",
        inputs.image,
        "kaniko executor image (default: the SDK's)",
        value="launchConfig.builder.kanikoImage",
    ),
    Field(
        "agent-namespace",
        inputs.namespace,
        f"namespace of the agent, created by the chart (default: {DEFAULT_AGENT_NAMESPACE})",
        value="namespace.name",
    ),
    Field(
        "prefix", inputs.prefix, f"path prefix inside the bucket or container (default: {DEFAULT_PREFIX})", value=STORE
    ),
)

GKE = Cloud(
    name="gke",
    header="GKE: kaniko builds pushed to Artifact Registry, build contexts in GCS,\n"
    "GKE Workload Identity for the agent and its build pods.",
    fields=(
        Field("project", inputs.gcp_project, "GCP project id", value=DESTINATION),
        Field(
            "region", inputs.gcp_region, "GCP region of the registry and the cluster, e.g. us-central1", value=REGION
        ),
        Field("repository", inputs.artifact_repository, "Artifact Registry repository id", value=DESTINATION),
        Field("image", inputs.image_name, "image name inside the repository", value=DESTINATION),
        Field("bucket", inputs.gcs_bucket, "GCS bucket for kaniko build contexts", value=STORE),
        Field(
            "gcp-service-account",
            inputs.google_service_account,
            "Google service account email (Workload Identity)",
            value=IDENTITY,
        ),
    ),
    environment="gcp",
    registry="Artifact Registry",
    registry_regex="GCP_ARTIFACT_REGISTRY_URI_REGEX",
    store_regex="GCS_URI_RE",
    store_form="gs://<bucket>/<prefix>",
    destination_inputs=("project", "repository", "image"),
    store_inputs=("bucket",),
    destination=lambda i: f"{i['region']}-docker.pkg.dev/{i['project']}/{i['repository']}/{i['image']}",
    store=lambda i, prefix: f"gs://{i['bucket']}/{prefix}",
    identity_input="gcp-service-account",
    identity_annotation="iam.gke.io/gcp-service-account",
    identity_note="Workload Identity: the Google service account the agent and kaniko act as\n"
    "(needs roles/artifactregistry.writer, and roles/storage.objectAdmin on the bucket).",
)

EKS = Cloud(
    name="eks",
    header="EKS: kaniko builds pushed to ECR, build contexts in S3, IRSA for the agent and its build pods.",
    fields=(
        Field("account-id", inputs.aws_account_id, "AWS account id of the ECR registry", value=DESTINATION),
        Field("region", inputs.aws_region, "AWS region, e.g. us-east-1", value=REGION),
        Field("repository", inputs.ecr_repository, "ECR repository name", value=DESTINATION),
        Field("bucket", inputs.s3_bucket, "S3 bucket for kaniko build contexts", value=STORE),
        Field("role-arn", inputs.iam_role_arn, "IAM role ARN for IRSA", value=IDENTITY),
    ),
    environment="aws",
    registry="ECR",
    registry_regex="ELASTIC_CONTAINER_REGISTRY_URI_REGEX",
    store_regex="S3_URI_RE",
    store_form="s3://<bucket>/<prefix>",
    destination_inputs=("account-id", "repository"),
    store_inputs=("bucket",),
    destination=lambda i: f"{i['account-id']}.dkr.ecr.{i['region']}.amazonaws.com/{i['repository']}",
    store=lambda i, prefix: f"s3://{i['bucket']}/{prefix}",
    identity_input="role-arn",
    identity_annotation="eks.amazonaws.com/role-arn",
    identity_note="IRSA: the IAM role the agent and kaniko assume (ECR push, S3 read/write on the bucket),\n"
    "trusted by the cluster's OIDC provider.",
)

AKS = Cloud(
    name="aks",
    header="AKS: kaniko builds pushed to ACR, build contexts in Azure Blob Storage,\n"
    "Azure Workload Identity for the agent and its build pods.",
    fields=(
        Field("acr-name", inputs.acr_name, "Azure Container Registry name (without .azurecr.io)", value=DESTINATION),
        Field("repository", inputs.acr_repository, "ACR repository name", value=DESTINATION),
        Field("storage-account", inputs.storage_account, "Azure storage account for build contexts", value=STORE),
        Field("storage-container", inputs.storage_container, "blob container for build contexts", value=STORE),
        Field(
            "client-id", inputs.azure_client_id, "client id of the managed identity (Workload Identity)", value=IDENTITY
        ),
        Field("region", inputs.azure_region, "Azure region, e.g. eastus", value=REGION),
    ),
    environment="azure",
    registry="ACR",
    registry_regex="AZURE_CONTAINER_REGISTRY_URI_REGEX",
    store_regex="AZURE_BLOB_REGEX",
    store_form="https://<account>.blob.core.windows.net/<container>/<prefix>",
    destination_inputs=("acr-name", "repository"),
    store_inputs=("storage-account", "storage-container"),
    destination=lambda i: f"{i['acr-name']}.azurecr.io/{i['repository']}",
    store=lambda i, prefix: f"https://{i['storage-account']}.blob.core.windows.net/{i['storage-container']}/{prefix}",
    identity_input="client-id",
    identity_annotation="azure.workload.identity/client-id",
    identity_note="Workload Identity: the managed identity federated with this service account\n"
    "(AcrPush on the registry, Storage Blob Data Contributor on the container).",
    pod_labels={"azure.workload.identity/use": "true"},
    pod_labels_note="Lets the Workload Identity webhook inject the federated token into the agent pod.",
    namespace_note="The SDK reads the storage key secret in namespace `wandb`, so the agent lives there.",
    install_secret=InstallSecret(
        flag="--azure-storage-key-env",
        env_example="AZURE_STORAGE_KEY",
        value_path=("kaniko", "azureStorage", "accessKey"),
        what="kaniko on Azure needs the storage account key (secret azure-storage-access-key)",
        help="environment variable holding the Azure storage key (AKS kaniko)",
    ),
)

LOCAL = Cloud(
    name="local",
    header="A local cluster (kind, minikube, the test control plane): prebuilt images only (noop builder), no cloud.",
)

CLOUDS: dict[str, Cloud] = {cloud.name: cloud for cloud in (GKE, EKS, AKS, LOCAL)}


def by_environment(environment_type: str) -> Cloud | None:
    """The cloud whose launchConfig.environment.type this is."""
    return next((c for c in CLOUDS.values() if environment_type and c.environment == environment_type), None)


def all_fields() -> dict[str, Field]:
    """Every input by key, each cloud's own first (a key such as `region` has one field per cloud)."""
    found: dict[str, Field] = {}
    for fld in [f for c in CLOUDS.values() for f in c.fields] + list(URI_FIELDS + COMMON_FIELDS):
        found.setdefault(fld.key, fld)
    return found
