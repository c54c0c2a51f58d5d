"""The released chart installed the way users install it: `helm install --verify` from the
package file and from the OCI registry (by version with Helm 3, by digest with Helm 4), on
the cluster of the test session (the local control plane unless --kubeconfig / --kind)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes.client
import pytest

from .conftest import REPO, VERSION, Helm, SigningKey

pytestmark = pytest.mark.cluster

API_KEY = "release-test-api-key-0000000000000000000000000000000"


class Installs:
    """Releases made by one test, uninstalled after it; each with its own agent namespace."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.made: list[tuple[Helm, str]] = []

    def install(self, helm: Helm, chart: str, *flags: str | Path, check: bool = True):
        name = f"rel-{secrets.token_hex(3)}"
        self.made.append((helm, name))
        result = helm(
            "install", name, chart, *flags, "--kubeconfig", self.cluster.kubeconfig, "-n", "default",
            "-f", REPO / "values/local.yaml", "--set", f"apiKey.value={API_KEY}",
            "--set", f"namespace.name={name}-agent", check=check,
        )
        return name, result

    def release(self, helm: Helm, name: str) -> dict:
        listed = json.loads(helm("list", "-n", "default", "-o", "json", "--kubeconfig", self.cluster.kubeconfig).stdout)
        return next((r for r in listed if r["name"] == name), {})

    def cleanup(self) -> None:
        for helm, name in self.made:
            helm("uninstall", name, "-n", "default", "--kubeconfig", self.cluster.kubeconfig, check=False)


@pytest.fixture
def installs(cluster) -> Iterator[Installs]:
    made = Installs(cluster)
    yield made
    made.cleanup()


def agent_deployments(cluster, namespace: str) -> list[str]:
    with cluster.api_client() as client:
        return [d.metadata.name for d in kubernetes.client.AppsV1Api(client).list_namespaced_deployment(namespace).items]


def pushed_digest(helm: Helm, chart_release: Path, repository: str) -> str:
    pushed = helm("push", chart_release, repository, "--plain-http")
    return next(line.split()[1] for line in (pushed.stdout + pushed.stderr).splitlines() if line.startswith("Digest:"))


def test_install_verify_from_the_package(installs: Installs, fresh_helm: Callable[..., Helm], chart_release: Path, signing_key: SigningKey, cluster) -> None:
    helm = fresh_helm("helm")
    name, _ = installs.install(helm, str(chart_release), "--verify", "--keyring", signing_key.public_keyring)
    assert installs.release(helm, name)["chart"] == f"wandb-launch-{VERSION}"
    assert agent_deployments(cluster, f"{name}-agent") == [f"{name}-wandb-launch"]


def test_install_verify_from_the_registry_by_version(installs: Installs, fresh_helm: Callable[..., Helm], oci_registry, chart_release: Path, signing_key: SigningKey, other_key: SigningKey, cluster) -> None:
    helm = fresh_helm("helm")
    repository = f"oci://{oci_registry.host}/install-by-version"
    pushed_digest(helm, chart_release, repository)
    chart = f"{repository}/wandb-launch"
    # A key that did not sign it: refused before anything reaches the cluster.
    name, refused = installs.install(helm, chart, "--version", VERSION, "--plain-http", "--verify",
                                     "--keyring", other_key.public_keyring, check=False)
    assert refused.returncode != 0 and "unknown entity" in refused.stderr
    assert installs.release(helm, name) == {}
    name, installed = installs.install(helm, chart, "--version", VERSION, "--plain-http", "--verify",
                                       "--keyring", signing_key.public_keyring)
    assert installs.release(helm, name)["chart"] == f"wandb-launch-{VERSION}"
    assert agent_deployments(cluster, f"{name}-agent") == [f"{name}-wandb-launch"]


def test_helm4_installs_from_the_registry_by_digest(installs: Installs, fresh_helm: Callable[..., Helm], oci_registry, chart_release: Path, signing_key: SigningKey, cluster, tmp_path: Path) -> None:
    """Verify by version, then install the digest that was verified: Helm 4.3 cannot --verify a
    digest reference (it looks for the file name chart@sha256-<hex>.tgz in the .prov, which
    names chart-<version>.tgz; helm/helm#32546), and a digest already pins every byte."""
    helm4 = fresh_helm("helm4")
    repository = f"oci://{oci_registry.host}/install-by-digest"
    pushed = pushed_digest(helm4, chart_release, repository)
    verified = helm4("pull", f"{repository}/wandb-launch", "--version", VERSION, "--plain-http", "--verify",
                     "--keyring", signing_key.public_keyring, "-d", tmp_path)
    digest = next(line.split()[1] for line in verified.stdout.splitlines() if line.startswith("Digest:"))
    assert digest == pushed
    name, _ = installs.install(helm4, f"{repository}/wandb-launch@{digest}", "--plain-http")
    assert installs.release(helm4, name)["chart"] == f"wandb-launch-{VERSION}"
    assert agent_deployments(cluster, f"{name}-agent") == [f"{name}-wandb-launch"]
