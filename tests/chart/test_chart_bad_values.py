"""Bad values fail `helm template` before anything reaches a cluster, with one line naming the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .chartlib import API_KEY_PLACEHOLDER, REPO, helm_template

GKE = REPO / "values" / "gke.yaml"
AKS = REPO / "values" / "aks.yaml"
KEY = {"apiKey": {"value": API_KEY_PLACEHOLDER}}


def builder(**keys: Any) -> dict[str, Any]:
    return {"launchConfig": {"builder": keys}}


# id, values file, overlay, text the error must contain
CASES: list[tuple[str, Path, dict[str, Any], str]] = [
    (
        "missing-api-key",
        GKE,
        {},
        "apiKey.value is required; pass --set apiKey.value=$WANDB_API_KEY or name a secret you manage in apiKey.existingSecret",
    ),
    (
        "two-api-keys",
        GKE,
        {"apiKey": {"value": "k", "existingSecret": "s"}},
        "apiKey.value and apiKey.existingSecret are both set; keep one of them",
    ),
    (
        "empty-queues",
        GKE,
        {**KEY, "launchConfig": {"queues": []}},
        "launchConfig.queues is empty; list at least one queue",
    ),
    (
        "typo-nested-key",
        GKE,
        {**KEY, "launchConfig": {"queus": ["q"]}},
        "at '/launchConfig': additional properties 'queus' not allowed",
    ),
    (
        "typo-top-level-key",
        GKE,
        {**KEY, "imagePullSecret": [{"name": "x"}]},
        "additional properties 'imagePullSecret' not allowed",
    ),
    (
        "kaniko-without-context-store",
        GKE,
        {**KEY, **builder(buildContextStore="")},
        "launchConfig.builder.buildContextStore is required when builder.type is kaniko; set it to gs://",
    ),
    (
        "kaniko-without-destination",
        GKE,
        {**KEY, **builder(destination="")},
        "launchConfig.builder.destination is required when builder.type is kaniko",
    ),
    (
        "gar-destination-with-tag",
        GKE,
        {**KEY, **builder(destination="us-central1-docker.pkg.dev/p/repo/img:v1")},
        "carries a tag or nested path (:v1); drop it",
    ),
    (
        "gar-destination-without-image",
        GKE,
        {**KEY, **builder(destination="us-central1-docker.pkg.dev/p/repo")},
        "has no image name; use <region>-docker.pkg.dev/<project>/<repository>/<image>",
    ),
    (
        "ecr-destination-on-gcp",
        GKE,
        {**KEY, **builder(destination="123456789012.dkr.ecr.us-east-1.amazonaws.com/runs")},
        "is not a registry of launchConfig.environment.type gcp; set it to <region>-docker.pkg.dev",
    ),
    (
        "ecr-destination-with-tag",
        REPO / "values" / "eks.yaml",
        {**KEY, **builder(destination="123456789012.dkr.ecr.us-east-1.amazonaws.com/runs:latest")},
        "carries a tag or nested path (latest)",
    ),
    (
        "acr-nested-path",
        AKS,
        {**KEY, **builder(destination="myacr.azurecr.io/team/img")},
        "carries a tag or nested path (/img)",
    ),
    (
        "context-store-not-a-bucket",
        GKE,
        {**KEY, **builder(buildContextStore="http://storage.example.com/ctx")},
        'launchConfig.builder.buildContextStore "http://storage.example.com/ctx" is not a GCS, S3 or Azure blob URI; set it to',
    ),
    (
        "context-store-wrong-cloud",
        GKE,
        {**KEY, **builder(buildContextStore="s3://bucket/ctx")},
        "does not belong to launchConfig.environment.type gcp; set it to gs://<bucket>/<prefix>",
    ),
    (
        "invalid-namespace-name",
        GKE,
        {**KEY, "namespace": {"name": "Wandb_NS"}},
        'namespace.name "Wandb_NS" is not a valid namespace name; use at most 63 lower-case letters',
    ),
    (
        "create-namespace-without-name",
        REPO / "chart" / "ci" / "default-values.yaml",
        {"namespace": {"create": True}},
        "namespace.name is required when namespace.create is true",
    ),
    (
        "invalid-target-namespace",
        GKE,
        {**KEY, "targetNamespaces": ["default", "runs-"]},
        'targetNamespaces[1] "runs-" is not a valid namespace name',
    ),
    # The first one is checked from its first character too (the list is checked as one string).
    (
        "first-target-namespace-too-long",
        GKE,
        {**KEY, "targetNamespaces": ["r" * 64, "runs"]},
        f'targetNamespaces[0] "{"r" * 64}" is not a valid namespace name',
    ),
    (
        "first-target-namespace-upper-case",
        GKE,
        {**KEY, "targetNamespaces": ["Runs-a", "runs-b"]},
        'targetNamespaces[0] "Runs-a" is not a valid namespace name',
    ),
    (
        "too-long-namespace",
        GKE,
        {**KEY, "namespace": {"name": "n" * 64}},
        "is not a valid namespace name; use at most 63",
    ),
    (
        "max-jobs-below-minus-one",
        GKE,
        {**KEY, "launchConfig": {"maxJobs": -2}},
        "launchConfig.maxJobs is -2; use -1 (unlimited) or a positive number",
    ),
    (
        "max-jobs-not-a-number",
        GKE,
        {**KEY, "launchConfig": {"maxJobs": "four"}},
        "at '/launchConfig/maxJobs': got string, want integer",
    ),
    (
        "verbosity-out-of-range",
        GKE,
        {**KEY, "launchConfig": {"verbosity": 5}},
        "at '/launchConfig/verbosity': value must be one of 0, 1, 2",
    ),
    (
        "environment-without-region",
        GKE,
        {**KEY, "launchConfig": {"environment": {"region": ""}}},
        "launchConfig.environment.region is required when launchConfig.environment.type is gcp",
    ),
    (
        "builder-secret-without-key",
        GKE,
        {**KEY, **builder(secretName="creds")},
        "launchConfig.builder.secretKey is required when launchConfig.builder.secretName is set",
    ),
    (
        "two-build-credentials",
        GKE,
        {**KEY, **builder(secretName="creds", secretKey="key.json"), "kaniko": {"buildCredentials": {"value": "{}"}}},
        "kaniko.buildCredentials.value and launchConfig.builder.secretName are both set; keep one of them",
    ),
    (
        "pod-security-label-by-hand",
        GKE,
        {**KEY, "namespace": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        "namespace.labels sets pod-security.kubernetes.io/enforce; set the level in namespace.podSecurity instead",
    ),
    (
        "pod-label-overrides-selector",
        GKE,
        {**KEY, "podLabels": {"app.kubernetes.io/name": "x"}},
        "podLabels sets app.kubernetes.io/name, which the chart owns",
    ),
    (
        "existing-service-account-without-name",
        GKE,
        {**KEY, "serviceAccount": {"create": False}},
        "serviceAccount.name is required when serviceAccount.create is false",
    ),
    (
        "azure-kaniko-outside-wandb",
        AKS,
        {**KEY, "namespace": {"name": "ml"}},
        "an azure kaniko agent must run in namespace wandb",
    ),
    (
        "pdb-blocks-drain",
        GKE,
        {**KEY, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 0}},
        "at '/podDisruptionBudget/maxUnavailable'",
    ),
    ("bad-image-digest", GKE, {**KEY, "image": {"digest": "latest"}}, "at '/image/digest'"),
    (
        "unknown-builder",
        GKE,
        {**KEY, **builder(type="docker")},
        "at '/launchConfig/builder/type': value must be one of",
    ),
    # Lists that need distinct entries.
    (
        "duplicate-target-namespaces",
        GKE,
        {**KEY, "targetNamespaces": ["runs", "runs"]},
        "at '/targetNamespaces': items at 0 and 1 are equal",
    ),
    ("duplicate-queues", GKE, {**KEY, "launchConfig": {"queues": ["q", "q"]}}, "at '/launchConfig/queues': items at 0 and 1 are equal"),
    (
        "duplicate-extra-volume",
        GKE,
        {**KEY, "extraVolumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]},
        'extraVolumes[0].name tmp is taken (by the chart\'s volumes or an earlier extra volume)',
    ),
    # The server's rules for names, labels, quantities.
    (
        "derived-name-not-a-subdomain",
        GKE,
        {**KEY, "nameOverride": "Launch"},
        '-Launch" is not a valid name for the release\'s objects (they are named after it)',
    ),
    (
        "label-value-too-long",
        GKE,
        {**KEY, "podLabels": {"team": "x" * 64}},
        f'podLabels.team "{"x" * 64}" is not a valid label value; use at most 63',
    ),
    (
        "annotation-key-with-two-slashes",
        GKE,
        {**KEY, "serviceAccount": {"annotations": {"a/b/c": "x"}}},
        'serviceAccount.annotations has key "a/b/c", which is not a valid key',
    ),
    (
        "existing-secret-name",
        GKE,
        {"apiKey": {"existingSecret": "My_Key"}},
        'apiKey.existingSecret "My_Key" is not a valid secret name',
    ),
    (
        "quantity",
        GKE,
        {**KEY, "resources": {"limits": {"memory": "2 GB"}}},
        'resources.limits.memory "2 GB" is not a Kubernetes quantity',
    ),
    (
        "request-over-limit",
        GKE,
        {**KEY, "resources": {"requests": {"cpu": "2"}}},
        "resources.requests.cpu 2 is more than resources.limits.cpu 1; a request must be within its limit",
    ),
    (
        "no-ephemeral-storage-limit",
        GKE,
        {**KEY, "resources": {"limits": {"ephemeral-storage": None}}},
        "at '/resources/limits': missing property 'ephemeral-storage'",
    ),
    (
        "empty-dir-without-size-limit",
        GKE,
        {**KEY, "extraVolumes": [{"name": "scratch", "emptyDir": {}}]},
        "at '/extraVolumes/0/emptyDir': missing property 'sizeLimit'",
    ),
    (
        "docker-config-not-json",
        GKE,
        {**KEY, "kaniko": {"dockerConfig": {"json": "{auths:"}}},
        "kaniko.dockerConfig.json is not a docker config (a JSON object with \"auths\")",
    ),
    (
        "image-not-pullable",
        GKE,
        {**KEY, "image": {"repository": "Wandb/launch-agent"}},
        'image.repository "Wandb/launch-agent" is not an image repository the container runtime can pull',
    ),
    # The agent's rules.
    (
        "api-key-the-sdk-refuses",
        GKE,
        {"apiKey": {"value": "my-key\n"}},
        "apiKey.value (7 characters) is not a W&B API key the agent accepts (the SDK's check_api_key",
    ),
    (
        "max-jobs-zero",
        GKE,
        {**KEY, "launchConfig": {"maxJobs": 0}},
        "launchConfig.maxJobs is 0; use -1 (unlimited) or a positive number (with 0 the agent runs nothing)",
    ),
    (
        "platform-no-builder-reads",
        GKE,
        {**KEY, **builder(platform="linux/arm64")},
        "launchConfig.builder.platform is linux/arm64, but only the SDK's docker builder reads it",
    ),
    (
        "kaniko-keys-with-noop",
        REPO / "values" / "local.yaml",
        {**KEY, **builder(destination="123456789012.dkr.ecr.us-east-1.amazonaws.com/runs")},
        "launchConfig.builder.destination only configure kaniko builds, and launchConfig.builder.type is noop",
    ),
    (
        "extra-config-key-agent-refuses",
        GKE,
        {**KEY, "launchConfig": {"extraConfig": {"runner": {"type": "kubernetes"}}}},
        'launchConfig.extraConfig has key "runner", which the agent\'s config (AgentConfig) refuses',
    ),
    (
        "base-url-app-wandb-ai",
        GKE,
        {**KEY, "baseUrl": "https://wandb.ai"},
        'baseUrl "https://wandb.ai" is not a W&B server address the SDK accepts',
    ),
    (
        "workload-identity-annotation-on-an-existing-account",
        GKE,
        {**KEY, "serviceAccount": {"create": False, "name": "mine"}},
        "serviceAccount.annotations and serviceAccount.labels apply only to a service account the chart creates",
    ),
    (
        "name-override-not-a-label-value",
        GKE,
        {**KEY, "nameOverride": "launch_"},
        "nameOverride \"launch_\" is not a valid label value",
    ),
    (
        "namespace-annotation-key",
        GKE,
        {**KEY, "namespace": {"create": True, "annotations": {"bad key": "x"}}},
        "namespace.annotations has key \"bad key\", which is not a valid key",
    ),
    (
        "kaniko-image-not-an-image",
        GKE,
        {**KEY, **builder(kanikoImage="Not An Image")},
        "launchConfig.builder.kanikoImage \"Not An Image\" is not an image reference the container runtime can pull",
    ),
    (
        "kaniko-mount-path-with-dot-dot",
        GKE,
        {**KEY, "kaniko": {"pvc": {"create": True, "mountPath": "/kaniko/../x"}}},
        "kaniko.pvc.mountPath \"/kaniko/../x\" is not an absolute path; use one such as /kaniko-context",
    ),
    (
        "kaniko-mount-path-on-a-chart-mount",
        GKE,
        {**KEY, "kaniko": {"pvc": {"create": True, "mountPath": "/tmp/"}}},
        "kaniko.pvc.mountPath \"/tmp/\" is where the chart already mounts another volume",
    ),
    (
        "entity-beyond-a-config-map",
        GKE,
        {**KEY, "launchConfig": {"entity": "e" * 1_048_100}},
        "launchConfig.entity is 1048100 bytes, which makes launch-config.yaml",
    ),
    (
        "git-credentials-beyond-a-secret",
        GKE,
        {**KEY, "git": {"credentials": "https://u:" + "p" * 1_048_100 + "@github.com"}},
        "git.credentials is 1048121 bytes; a secret or config map holds 1 MiB at most",
    ),
]

# The chart's whole message line (after `wandb-launch: `): the key, the bad value and the fix, nothing else.
WHOLE_MESSAGES: list[tuple[str, Path, dict[str, Any], str]] = [
    (
        "namespace-name-not-a-dns-label",
        GKE,
        {**KEY, "namespace": {"name": "Wandb_NS"}},
        "namespace.name \"Wandb_NS\" is not a valid namespace name; use at most 63 lower-case letters, digits and '-', "
        "starting and ending with a letter or digit",
    ),
    (
        "pod-label-value-ends-with-a-dash",
        GKE,
        {**KEY, "podLabels": {"team": "ml-"}},
        "podLabels.team \"ml-\" is not a valid label value; use at most 63 letters, digits, '-', '_' and '.', "
        "starting and ending with a letter or digit",
    ),
    (
        "existing-secret-without-key",
        GKE,
        {"apiKey": {"existingSecret": "s", "existingSecretKey": ""}},
        "apiKey.existingSecretKey is empty; set it to the key of the API key inside apiKey.existingSecret (e.g. password)",
    ),
    (
        "namespace-labels-without-create",
        GKE,
        {**KEY, "namespace": {"create": False, "labels": {"team": "a"}}},
        "namespace.labels and namespace.annotations apply only to a namespace the chart creates, and namespace.create "
        "is false; set namespace.create=true or drop them",
    ),
    (
        "region-without-environment",
        GKE,
        {**KEY, "launchConfig": {"environment": {"type": "", "region": "us-central1"}}},
        "launchConfig.environment.region is set but launchConfig.environment.type is empty, so the agent never reads "
        "it; set the type (gcp, aws or azure) or drop the region",
    ),
    (
        "gke-destination-without-image-name",
        GKE,
        {**KEY, **builder(destination="us-central1-docker.pkg.dev/proj/repo")},
        "launchConfig.builder.destination \"us-central1-docker.pkg.dev/proj/repo\" has no image name; use "
        "<region>-docker.pkg.dev/<project>/<repository>/<image>",
    ),
    (
        "kaniko-pvc-of-size-zero",
        GKE,
        {**KEY, "kaniko": {"pvc": {"create": True, "size": "0"}}},
        "kaniko.pvc.size is zero; give the build contexts room, e.g. 10Gi",
    ),
    (
        "extra-mount-of-no-volume",
        GKE,
        {**KEY, "extraVolumeMounts": [{"name": "nope", "mountPath": "/x"}]},
        "extraVolumeMounts[0].name \"nope\" is no volume of the agent pod (the chart's: home, tmp, launch-config; "
        "extraVolumes: none); name one of them",
    ),
]


@pytest.mark.parametrize(("base", "overlay", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_values_fail_with_message(tmp_path: Path, base: Path, overlay: dict[str, Any], message: str) -> None:
    overlay_file = tmp_path / "bad-values.yaml"
    overlay_file.write_text(yaml.safe_dump(overlay, width=2**31))
    result = helm_template("-f", str(base), "-f", str(overlay_file))
    assert result.returncode != 0, f"rendered although bad: {overlay}"
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
    if "wandb-launch: " in result.stderr:  # template rule: exactly one message line
        lines = [line for line in result.stderr.splitlines() if "wandb-launch: " in line]
        assert len(lines) == 1, result.stderr


@pytest.mark.parametrize(("base", "overlay", "message"), [c[1:] for c in WHOLE_MESSAGES],
                         ids=[c[0] for c in WHOLE_MESSAGES])
def test_bad_values_fail_with_the_whole_message(tmp_path: Path, base: Path, overlay: dict[str, Any], message: str) -> None:
    overlay_file = tmp_path / "bad-values.yaml"
    overlay_file.write_text(yaml.safe_dump(overlay))
    result = helm_template("-f", str(base), "-f", str(overlay_file))
    assert result.returncode != 0, f"rendered although bad: {overlay}"
    (line,) = [line for line in result.stderr.splitlines() if "wandb-launch: " in line]
    assert line.split("wandb-launch: ", 1)[1] == message


def test_good_overlay_renders(tmp_path: Path) -> None:
    """The base the bad cases start from is itself valid, so each failure is the overlay's."""
    for base in (GKE, AKS):
        overlay_file = tmp_path / "good.yaml"
        overlay_file.write_text(yaml.safe_dump(KEY))
        result = helm_template("-f", str(base), "-f", str(overlay_file))
        assert result.returncode == 0, result.stderr
