"""Adopting a release of W&B's public launch-agent chart (0.13.12, installed unchanged from
the reference copy): with its own ci/ values, and with a richer set that turns on every
option it has. After --apply no object of the old release is left, the secrets our values
refer to hold the same data, and no secret value ever appears in the output or the values.

No kubelet here: our agent's pod is marked Ready through the status subresource by the
test, as an admin (`pods_marked_ready`), standing in for the kubelet (issue 8's simulated
nodes will do it; then the SDK's own agent can launch a run through the adopted release).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..clirun import Outcome, one_line_error, run_cli
from ..paths import CHART, OFFICIAL_CHART
from .adoption import (
    create_secret,
    existing,
    owned_pods_and_replica_sets,
    pods_marked_ready,
    require_reference,
    secret_data,
)
from .kube import (
    create_namespace,
    delete_namespace,
    eventually,
    unique_name,
    until_empty,
)
from .release import HELM_NAMESPACE

pytestmark = pytest.mark.cluster

CI_API_KEY = "<an-api-key>"  # what chart/ci/basic-values.yaml of the official chart carries
SECRETS = {
    "apiKey": "official-rich-api-key-000000000000000000000000000000000",
    "hfToken": "hf-token-value-0000",
    "gitToken": "gh-token-value-0000",
    "azureKey": "azure-storage-key-value-0000",
}


class OfficialRelease:
    """A release of the official chart in an agent namespace of its own (made here: the chart
    does not create it), its release record in that namespace."""

    def __init__(self, cluster: Any, admin: kubernetes.client.ApiClient) -> None:
        self.cluster, self.admin = cluster, admin
        self.name = unique_name("la")
        self.namespace = create_namespace(admin, unique_name("official"), "baseline")
        self.ours = unique_name("adopted")
        self.namespaces = [self.namespace]
        self.cluster_wide: list[str] = []

    def install(self, *args: str) -> None:
        self.cluster.helm(
            "install",
            self.name,
            str(OFFICIAL_CHART),
            "-n",
            self.namespace,
            "--set",
            f"namespace={self.namespace}",
            *args,
        )

    def manifest_refs(self) -> list[dict[str, str]]:
        text = self.cluster.helm("get", "manifest", self.name, "-n", self.namespace).stdout
        refs = []
        for doc in yaml.safe_load_all(text):
            if doc:
                scoped = doc["kind"] not in ("ClusterRole", "ClusterRoleBinding")
                refs.append(
                    {
                        "kind": doc["kind"],
                        "namespace": doc["metadata"].get("namespace", self.namespace) if scoped else "",
                        "name": doc["metadata"]["name"],
                    }
                )
        return refs

    def adopt(self, *args: str) -> Outcome:
        return run_cli(
            "adopt",
            "--from-release",
            self.name,
            "--from-namespace",
            self.namespace,
            "--kubeconfig",
            str(self.cluster.kubeconfig),
            "-n",
            HELM_NAMESPACE,
            "--release",
            self.ours,
            *args,
        )

    def our_deployment(self) -> Any:
        (deployment,) = (
            kubernetes.client.AppsV1Api(self.admin)
            .list_namespaced_deployment(self.namespace, label_selector=f"app.kubernetes.io/instance={self.ours}")
            .items
        )
        return deployment

    def cleanup(self) -> None:
        self.cluster.helm("uninstall", self.name, "-n", self.namespace, check=False)
        self.cluster.helm("uninstall", self.ours, "-n", HELM_NAMESPACE, check=False)
        for ns in self.namespaces:
            delete_namespace(self.admin, ns)


@pytest.fixture
def official(cluster, admin) -> Iterator[Any]:
    require_reference()
    made: list[OfficialRelease] = []

    def make() -> OfficialRelease:
        made.append(OfficialRelease(cluster, admin))
        return made[-1]

    yield make
    for release in made:
        release.cleanup()


def apply_with_ready_pods(release: OfficialRelease, values_out: Path, *args: str) -> dict[str, Any]:
    old_pods = owned_pods_and_replica_sets(release.admin, release.namespace, f"launch-agent-{release.name}")
    old = release.manifest_refs()
    with pods_marked_ready(release.admin, [release.namespace]):
        result = release.adopt(
            "--values-out", str(values_out), "--apply", "--settle", "2", "--timeout", "90s", "-o", "json", *args
        )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["switch"]["leftovers"] == []
    # Nothing of the old release is left: its objects, the ReplicaSet and pod of its agent, its
    # record; a secret whose name the SDK fixes was made again (checked by the test).
    remade = report["switch"]["remade"]
    old = [r for r in old if f"{r['kind']} {r['namespace']}/{r['name']}" not in remade]
    until_empty(lambda: existing(release.admin, old + old_pods), f"objects of release {release.name}")
    listed = release.cluster.helm("list", "-n", release.namespace, "-q").stdout.split()
    assert release.name not in listed
    report["output"] = result.out + result.err
    return report


def test_official_ci_values_are_adopted(official, tmp_path: Path) -> None:
    release = official()
    # Its own ci/ file, moved to the release's namespace (the file says wandb) so tests do not share one.
    release.install(
        "-f",
        str(OFFICIAL_CHART / "ci" / "basic-values.yaml"),
        "--set-json",
        f'additionalTargetNamespaces=["default","{release.namespace}"]',
    )
    values_out = tmp_path / "adopted.yaml"
    report = apply_with_ready_pods(release, values_out)

    values = yaml.safe_load(values_out.read_text())
    assert values == report["values"]
    copy = f"{release.ours}-adopted-api-key"
    assert values == {
        "namespace": {"create": False, "name": release.namespace},
        "baseUrl": "https://api.wandb.ai",
        "targetNamespaces": ["default", release.namespace],
        "launchConfig": {"queues": ["default"]},
        "apiKey": {"existingSecret": copy, "existingSecretKey": "password"},
        "image": {"pullPolicy": "Always"},
        "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}},
    }
    keys = {k["key"]: k for k in report["keys"]}
    assert keys["volcano"]["outcome"] == "refused"
    assert keys["agent.minAvailable"]["outcome"] == "refused"
    # The key: same data, in a secret the user now manages (the old one went with the release).
    assert secret_data(release.admin, release.namespace, copy) == {"password": CI_API_KEY}
    assert CI_API_KEY not in report["output"] + values_out.read_text()
    deployment = release.our_deployment()
    env = {e.name: e for e in deployment.spec.template.spec.containers[0].env}
    assert env["WANDB_API_KEY"].value_from.secret_key_ref.name == copy
    assert deployment.status.available_replicas == 1


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


def test_every_option_of_the_official_chart_is_adopted(official, admin, wandb_namespace, tmp_path: Path) -> None:
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
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
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
    report = apply_with_ready_pods(release, values_out, "--identity-bound", "--keep-image")
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


def test_our_agent_never_available_rolls_back_and_leaves_the_old_one(official, tmp_path: Path) -> None:
    release = official()
    release.install(
        "-f",
        str(OFFICIAL_CHART / "ci" / "basic-values.yaml"),
        "--set-json",
        f'additionalTargetNamespaces=["{release.namespace}"]',
    )
    before = release.manifest_refs()
    # No stand-in kubelet: our pod never becomes ready.
    result = release.adopt("--values-out", str(tmp_path / "v.yaml"), "--apply", "--timeout", "5s", "--settle", "0")
    assert result.code == 1
    assert "was not Available after 5 s" in result.err
    assert "rolled back: our release and copies removed, the old agent" in result.err
    assert len(existing(release.admin, before)) == len(before)
    assert release.ours not in release.cluster.helm("list", "-n", HELM_NAMESPACE, "-q").stdout.split()
    eventually(
        lambda: (
            not existing(
                release.admin,
                [{"kind": "Secret", "namespace": release.namespace, "name": f"{release.ours}-adopted-api-key"}],
            )
        ),
        "the copied key to be removed again",
    )


def test_an_unrecognised_agent_and_several_agents_are_refused_in_one_line(official, cluster, admin) -> None:
    release = official()
    release.install(
        "-f",
        str(OFFICIAL_CHART / "ci" / "basic-values.yaml"),
        "--set-json",
        f'additionalTargetNamespaces=["{release.namespace}"]',
    )
    apps = kubernetes.client.AppsV1Api(admin)
    apps.create_namespaced_deployment(
        release.namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
    )
    kubeconfig = ["--kubeconfig", str(cluster.kubeconfig), "--release", release.ours]
    cases = [
        (
            ["--from-deployment", f"{release.namespace}/web"],
            f"deployment {release.namespace}/web runs nginx:1.27, not the launch agent",
        ),
        (
            ["--from-deployment", f"{release.namespace}/launch-agent-{release.name}"],
            f"belongs to helm release {release.name}; adopt the release: --from-release {release.name}",
        ),
        (
            ["--from-release", "no-such-release"],
            "--from-release: no release of W&B's launch-agent chart named no-such-release",
        ),
    ]
    for args, message in cases:
        result = run_cli("adopt", *args, *kubeconfig)
        assert result.code == 2, result.err
        assert message in one_line_error(result)
    # Our own chart's release is not the official chart.
    ours = unique_name("ours")
    cluster.helm(
        "install",
        ours,
        str(CHART),
        "-n",
        release.namespace,
        "--set",
        "apiKey.value=adopt-test-api-key-00000000000000000000000000000000000",
        "--set",
        "launchConfig.queues={q}",
        "--set-json",
        f'targetNamespaces=["{release.namespace}"]',
    )
    try:
        result = run_cli("adopt", "--from-release", ours, "--from-namespace", release.namespace, *kubeconfig)
        assert result.code == 2
        assert f"release {release.namespace}/{ours} is chart wandb-launch-" in one_line_error(result)
    finally:
        cluster.helm("uninstall", ours, "-n", release.namespace, check=False)
    # Two agents and no choice: name both.
    hand = unique_name("hand")
    apps.create_namespaced_deployment(
        release.namespace,
        {
            "metadata": {"name": hand},
            "spec": {
                "selector": {"matchLabels": {"app": hand}},
                "template": {
                    "metadata": {"labels": {"app": hand}},
                    "spec": {"containers": [{"name": "agent", "image": "wandb/launch-agent:0.31.0"}]},
                },
            },
        },
    )
    result = run_cli("adopt", *kubeconfig)
    assert result.code == 2
    line = one_line_error(result)
    assert (
        "agents: " in line
        and f"release {release.namespace}/{release.name}" in line
        and f"deployment {release.namespace}/{hand}" in line
    )
    assert "pick one with --from-release NAME --from-namespace NS or --from-deployment NS/NAME" in line
