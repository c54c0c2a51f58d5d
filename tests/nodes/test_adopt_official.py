"""Adopting a release of W&B's public launch-agent chart (0.13.12, installed unchanged from
the reference copy) with every option it has turned on, switched with `--apply`: our agent's
pod becomes Ready on a simulated node (KWOK: scheduled by the real scheduler, no container
runs), then nothing of the old release is left, the secrets our values refer to hold the
same data, and no secret value ever appears in the output or the values. Its ci/ values with
the SDK's own agent launching a run through the adopted release: tests/agent/test_adopted.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..cluster.adoption import OfficialRelease, create_secret, existing, official, secret_data  # noqa: F401 - fixture
from ..clirun import one_line_error
from ..cluster.kube import create_namespace, delete_namespace, unique_name, until_empty

pytestmark = pytest.mark.cluster

SECRETS = {
    "apiKey": "official-rich-api-key-000000000000000000000000000000000",
    "hfToken": "hf-token-value-0000",
    "gitToken": "gh-token-value-0000",
    "azureKey": "azure-storage-key-value-0000",
}


@pytest.fixture
def kaniko_volume(admin) -> Iterator[str]:
    """What a cluster's storage gives the kaniko claim: an admin's volume it binds to (no
    storage behind it; nothing mounts it here)."""
    core = kubernetes.client.CoreV1Api(admin)
    name = unique_name("kaniko-context")
    core.create_persistent_volume({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"/nonexistent/{name}"}},
    })
    yield name
    core.delete_persistent_volume(name)


def rich_values(release: OfficialRelease, targets: list[str], ssh_secret: str) -> dict[str, Any]:
    """Every option of the official chart's values.yaml turned on."""
    launch_config = {
        "queues": ["gpu-queue", "cpu-queue"],
        "entity": "my-team",
        "max_jobs": 4,
        "max_schedulers": 2,
        "verbosity": 1,
        "environment": {"type": "gcp", "region": "us-central1"},
        "builder": {
            "type": "kaniko",
            "destination": "us-central1-docker.pkg.dev/my-project/launch-images/runs",
            "build-context-store": "gs://my-launch-bucket/contexts",
            "kaniko-image": "gcr.io/kaniko-project/executor:v1.23.2",
        },
    }
    return {
        "baseUrl": "https://wandb.example.com",
        "additionalTargetNamespaces": targets,
        "agent": {
            "apiKey": SECRETS["apiKey"],
            "image": "registry.example.com/mirror/wandb/launch-agent:0.17.3",
            "imagePullPolicy": "IfNotPresent",
            "labels": {"team": "ml-platform", "app.kubernetes.io/part-of": "ml"},
            "podAnnotations": {"example.com/owner": "ml-platform"},
            "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                        ]
                    }
                }
            },
            "startTimeout": 3600,
            "minAvailable": 0,
        },
        "launchConfig": yaml.safe_dump(launch_config),
        "additionalEnvVars": [{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"}],
        "additionalSecretEnvVars": [{"name": "HF_TOKEN", "value": SECRETS["hfToken"]}],
        "gitCreds": f"https://ci-user:{SECRETS['gitToken']}@github.com",
        "sshAuthSecrets": [{"name": ssh_secret, "host": "github.com"}],
        "serviceAccount": {
            "annotations": {"iam.gke.io/gcp-service-account": "launch@my-project.iam.gserviceaccount.com"}
        },
        "azureStorageAccessKey": SECRETS["azureKey"],
        "customCABundle": {"configMap": {"name": "corporate-ca", "key": "ca.crt"}},
        "kanikoPvcName": "kaniko-context",
        "kanikoDockerConfigSecret": "kaniko-docker-config",
        "volcano": True,
    }


@pytest.fixture
def wandb_namespace(admin) -> Iterator[None]:
    """Namespace `wandb`: the official chart writes some secrets there whatever its `namespace`
    value. Made if missing and then removed again (waiting until it is gone: the per-cloud
    install test for AKS needs it free)."""
    core = kubernetes.client.CoreV1Api(admin)
    made = False
    try:
        core.read_namespace("wandb")
    except kubernetes.client.ApiException:
        core.create_namespace({"metadata": {"name": "wandb"}})
        made = True
    yield
    if made:
        delete_namespace(admin, "wandb")
        until_empty(
            lambda: [n.metadata.name for n in core.list_namespace().items if n.metadata.name == "wandb"],
            "namespace wandb",
            timeout=120,
        )


def test_every_option_of_the_official_chart_is_adopted(
    official, admin, wandb_namespace, kaniko_volume, tmp_path: Path
) -> None:
    """Both agents' pods mount the kaniko claim: the scheduler waits for it to be bound (to an
    admin's volume here), then they become Ready on simulated nodes (no container runs)."""
    release = official()
    targets = [create_namespace(admin, unique_name("official-runs"), "baseline") for _ in range(2)]
    release.namespaces += targets
    ns = release.namespace
    ssh_secret = "github-deploy-key"
    create_secret(admin, ns, ssh_secret, {"ssh-privatekey": "not-a-real-key"}, "kubernetes.io/ssh-auth")
    create_secret(
        admin, ns, "kaniko-docker-config", {".dockerconfigjson": '{"auths": {}}'}, "kubernetes.io/dockerconfigjson"
    )
    core = kubernetes.client.CoreV1Api(admin)
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "corporate-ca"}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"}}
    )
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "kaniko-context"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": kaniko_volume,
                "storageClassName": "",
            },
        },
    )
    values_file = tmp_path / "official-rich.yaml"
    values_file.write_text(yaml.safe_dump(rich_values(release, targets, ssh_secret)))
    release.install("-f", str(values_file))

    # Workload identity trusts the old service account by name; ours has another: adopt says what to bind.
    refused = release.adopt("--values-out", str(tmp_path / "v.yaml"), "--apply")
    assert refused.code == 2
    line = one_line_error(refused)
    assert (
        "--identity-bound: the old service account has workload identity (iam.gke.io/gcp-service-account=launch@my-project"
        in line
    )
    assert f"--member 'serviceAccount:my-project.svc.id.goog[{ns}/" in line
    assert not existing(admin, [{"kind": "Deployment", "namespace": ns, "name": f"{release.ours}-wandb-launch"}])

    values_out = tmp_path / "adopted.yaml"
    report = release.switch(values_out, "--identity-bound", "--keep-image")
    values = yaml.safe_load(values_out.read_text())
    for secret in SECRETS.values():
        assert secret not in report["output"] + values_out.read_text()

    env_copy, git_copy = f"{release.ours}-adopted-env", f"{release.ours}-adopted-git-credentials"
    assert values["namespace"] == {"create": False, "name": ns}
    assert values["baseUrl"] == "https://wandb.example.com"
    assert values["targetNamespaces"] == [*targets, ns]
    assert values["launchConfig"] == {
        "queues": ["gpu-queue", "cpu-queue"],
        "entity": "my-team",
        "maxJobs": 4,
        "maxSchedulers": 2,
        "verbosity": 1,
        "environment": {"type": "gcp", "region": "us-central1"},
        "builder": {
            "type": "kaniko",
            "destination": "us-central1-docker.pkg.dev/my-project/launch-images/runs",
            "buildContextStore": "gs://my-launch-bucket/contexts",
            "kanikoImage": "gcr.io/kaniko-project/executor:v1.23.2",
        },
    }
    assert values["image"] == {
        "repository": "registry.example.com/mirror/wandb/launch-agent",
        "tag": "0.17.3",
        "pullPolicy": "IfNotPresent",
    }
    assert values["resources"] == {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "2", "memory": "4Gi"}}
    assert values["podLabels"] == {"team": "ml-platform"}
    assert values["podAnnotations"] == {"example.com/owner": "ml-platform"}
    assert values["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert values["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in values["affinity"]
    assert values["extraEnv"] == [
        {"name": "WANDB_LAUNCH_START_TIMEOUT", "value": "3600"},
        {"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": env_copy, "key": "HF_TOKEN"}}},
    ]
    assert values["git"] == {"existingSecret": git_copy, "sshAuthSecrets": [{"name": ssh_secret, "host": "github.com"}]}
    assert values["serviceAccount"] == {
        "annotations": {"iam.gke.io/gcp-service-account": "launch@my-project.iam.gserviceaccount.com"}
    }
    assert values["caBundle"] == {"configMapName": "corporate-ca", "key": "ca.crt"}
    assert values["kaniko"] == {
        "pvc": {"existingClaim": "kaniko-context"},
        "dockerConfig": {"existingSecret": "kaniko-docker-config"},
    }
    assert "rbac" not in values  # this cluster serves no batch.volcano.sh: said in the report
    keys = {k["key"]: k for k in report["keys"]}
    assert keys["(ClusterRole) batch.volcano.sh jobs"]["outcome"] == "refused"
    assert keys["sshAuthSecrets"]["outcome"] == "added"
    assert keys["agent.minAvailable"]["outcome"] == "refused"

    # Secrets: same data in the copies; the SDK's fixed-name Azure secret made again, now the user's.
    assert secret_data(admin, ns, f"{release.ours}-adopted-api-key") == {"password": SECRETS["apiKey"]}
    assert secret_data(admin, ns, env_copy) == {"HF_TOKEN": SECRETS["hfToken"]}
    assert secret_data(admin, ns, git_copy) == {".git-credentials": f"https://ci-user:{SECRETS['gitToken']}@github.com"}
    assert secret_data(admin, "wandb", "azure-storage-access-key") == {"password": SECRETS["azureKey"]}
    azure = core.read_namespaced_secret("azure-storage-access-key", "wandb")
    assert azure.metadata.labels == {"app.kubernetes.io/created-by": "wandb-launch-adopt"}
    assert report["switch"]["remade"] == ["Secret wandb/azure-storage-access-key"]
    core.delete_namespaced_secret("azure-storage-access-key", "wandb")

    # Our agent has what the old one had: mounts and env as the chart renders them.
    pod = release.our_deployment().spec.template.spec
    container = pod.containers[0]
    assert container.image == "registry.example.com/mirror/wandb/launch-agent:0.17.3"
    env = {e.name: e for e in container.env}
    assert env["WANDB_BASE_URL"].value == "https://wandb.example.com"
    assert env["WANDB_LAUNCH_KANIKO_AUTH_SECRET"].value == "kaniko-docker-config"
    assert env["WANDB_LAUNCH_KANIKO_PVC_NAME"].value == "kaniko-context"
    assert env["GIT_SSH_COMMAND"].value == "ssh -F /etc/wandb-launch/ssh/config"
    assert env["HF_TOKEN"].value_from.secret_key_ref.name == env_copy
    assert {m.mount_path for m in container.volume_mounts if m.read_only} >= {
        "/etc/wandb-launch/ssh",
        "/etc/wandb-launch/ca",
        "/etc/wandb-launch/git",
    }


