"""A chart release installed by the cluster tests (with helm or with the plugin's CLI), and
the values every test install uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml

from ..clirun import Outcome, run_cli
from ..chart.chartlib import command_line_values
from ..paths import CHART, VALUES_DIR
from .kube import all_objects, events_for

API_KEY = "cluster-test-api-key-00000000000000000000000000000000"
# The environment variable `wandb-launch install --api-key-env` reads API_KEY from.
API_KEY_ENV = "WANDB_LAUNCH_TEST_API_KEY"
# helm keeps release records here; the agent namespace is the chart's own (namespace.create).
HELM_NAMESPACE = "default"


@dataclass
class Release:
    """One installed release of the chart, with the namespaces made for it."""

    name: str
    agent_namespace: str
    target_namespaces: list[str]
    values_args: list[str]
    cluster: Any
    uninstalled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def helm(self, *args: str, check: bool = True):
        return self.cluster.helm(*args, "-n", HELM_NAMESPACE, check=check)

    def cli(self, command: str, *args: str, stdin: str | None = None) -> Outcome:
        """`wandb-launch COMMAND ARGS` on this release and cluster (in this process), with
        API_KEY in API_KEY_ENV."""
        cluster_args = ["--kubeconfig", str(self.cluster.kubeconfig), "-n", HELM_NAMESPACE, "--release", self.name]
        return run_cli(command, *args, *cluster_args, env={API_KEY_ENV: API_KEY}, stdin=stdin)

    def cli_install(self, command: str = "install", *extra: str) -> Outcome:
        """`wandb-launch install` (or upgrade) of this release's values, the key from API_KEY_ENV."""
        return self.cli(command, *self.values_args, *extra, "--api-key-env", API_KEY_ENV)

    def manifest(self) -> list[dict[str, Any]]:
        text = self.helm("get", "manifest", self.name).stdout
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def hooks(self) -> list[dict[str, Any]]:
        text = self.helm("get", "hooks", self.name).stdout
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def test_pod(self) -> dict[str, Any]:
        """The chart's one `helm test` pod (a hook, not in the manifest)."""
        pods = [doc for doc in self.hooks() if doc["kind"] == "Pod" and "test" in doc["metadata"]["annotations"]["helm.sh/hook"]]
        assert len(pods) == 1, f"expected one helm test pod in release {self.name}, got {len(pods)}"
        return pods[0]

    def launch_config(self) -> str:
        """The launch-config.yaml the release's ConfigMap holds in the agent's namespace."""
        with self.cluster.api_client() as client:
            configmaps = kubernetes.client.CoreV1Api(client).list_namespaced_config_map(self.agent_namespace).items
        return next(c.data["launch-config.yaml"] for c in configmaps if "launch-config.yaml" in (c.data or {}))

    def object(self, kind: str) -> dict[str, Any]:
        """The one rendered object of `kind` (fails when there is not exactly one)."""
        found = [doc for doc in self.manifest() if doc["kind"] == kind]
        assert len(found) == 1, f"expected one {kind} in release {self.name}, got {len(found)}"
        return found[0]

    @property
    def service_account(self) -> str:
        return self.object("ServiceAccount")["metadata"]["name"]

    @property
    def deployment(self) -> str:
        return self.object("Deployment")["metadata"]["name"]

    def events(self, kind: str | None = None) -> list[str]:
        with self.cluster.api_client() as client:
            return events_for(client, self.agent_namespace, kind)


def install_args(values_file: Path, agent_namespace: str, targets: list[str], set_args: tuple[str, ...]) -> list[str]:
    args = ["-f", str(values_file)]
    if values_file.parent == VALUES_DIR:
        # The per-cloud files leave the keys to the command line; chart/ci files carry their own.
        args += ["--set", f"apiKey.value={API_KEY}"]
        for key, value in command_line_values(values_file).items():
            if key != "apiKey.value":
                args += ["--set", f"{key}={value}"]
    args += [
        "--set",
        "namespace.create=true",
        "--set",
        f"namespace.name={agent_namespace}",
        "--set-json",
        f"targetNamespaces={json.dumps(targets)}",
    ]
    for item in set_args:
        args += ["--set", item]
    return args


def cloud_values_files() -> list[Path]:
    return sorted(VALUES_DIR.glob("*.yaml"))


def ci_values_files() -> list[Path]:
    """chart/ci/*-values.yaml: the scenarios ct installs on kind (all options on, existing objects, ...)."""
    return sorted((CHART / "ci").glob("*-values.yaml"))


# Events outlive what they describe (one hour by default) and belong to no release.
NOT_RELEASE_OBJECTS = frozenset({"events"})


def leftovers(admin, releases: Sequence[Release]) -> list[str]:
    """Objects anywhere in the cluster (every listable type, one listing) that belong to any
    of the releases: by helm's ownership annotation, the chart's instance label, the
    release's name (its release records too), or its agent namespace."""
    found = []
    for obj in all_objects(admin, skip=NOT_RELEASE_OBJECTS):
        for release in releases:
            belongs = (
                obj["annotations"].get("meta.helm.sh/release-name") == release.name
                or obj["labels"].get("app.kubernetes.io/instance") == release.name
                or release.name in obj["name"]
                or obj["namespace"] == release.agent_namespace
            )
            if belongs:
                found.append(f"{obj['kind']} {obj['namespace'] or '(cluster)'}/{obj['name']} (release {release.name})")
    return found


def release_leftovers(admin, release: Release) -> list[str]:
    return leftovers(admin, [release])


def deployment_replica_sets(admin, release: Release) -> dict[str, str]:
    """pod-template-hash -> deployment revision of the ReplicaSets the Deployment owns."""
    apps = kubernetes.client.AppsV1Api(admin)
    return {
        rs.metadata.labels["pod-template-hash"]: rs.metadata.annotations["deployment.kubernetes.io/revision"]
        for rs in apps.list_namespaced_replica_set(release.agent_namespace).items
        if any(owner.kind == "Deployment" and owner.name == release.deployment for owner in rs.metadata.owner_references or [])
    }
