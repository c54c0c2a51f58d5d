"""Never half-applied, on a real API server:

- every bad-values case of the suite (tests/chart/test_chart_bad_values.py) fails
  `helm install` (Helm 3 and Helm 4) and leaves no object of the release, of any listable
  type, and no release record;
- a failure the server reports in the middle of an install or an upgrade (here an
  admission policy that refuses the API-key secret in a target namespace: the namespace,
  the service account, ... are created before it) is undone by `wandb-launch install` /
  `upgrade`, with and without --wait, through Helm 3 and Helm 4;
- an upgrade with a bad value leaves the running release and its agent untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..chart.test_chart_bad_values import CASES
from ..paths import CACHE_BIN, CHART, VALUES_DIR
from .kube import delete_namespace, eventually, refused_creations, unique_name, until_empty
from .release import HELM_NAMESPACE, Release, deployment_replica_sets, leftovers

pytestmark = pytest.mark.cluster

HELMS = ["helm", "helm4"]


def helm_binary(name: str) -> str:
    found = shutil.which(name, path=f"{CACHE_BIN}:{os.environ.get('PATH', '')}")
    if not found:
        pytest.fail(f"{name} is not built: run `make tools` (hack/install-tools.sh)")
    return found


def release_records(cluster, names: set[str]) -> list[str]:
    """Release records (any state, failed ones too) of these names, through helm itself."""
    listed = cluster.helm("list", "-a", "-n", HELM_NAMESPACE, "-o", "json")
    return [r["name"] for r in json.loads(listed.stdout or "[]") if r["name"] in names]


def test_every_bad_values_case_fails_to_install_and_leaves_nothing(cluster, admin, tmp_path: Path) -> None:
    attempts: list[Release] = []
    for index, (case_id, base, overlay, message) in enumerate(CASES):
        helm = HELMS[index % 2]  # every other case through Helm 4
        overlay_file = tmp_path / f"{case_id}.yaml"
        overlay_file.write_text(yaml.safe_dump(overlay))
        name = unique_name("bad")
        result = subprocess.run(
            [helm_binary(helm), "--kubeconfig", str(cluster.kubeconfig), "install", name, str(CHART),
             "-n", HELM_NAMESPACE, "-f", str(base), "-f", str(overlay_file)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode != 0, f"{case_id}: {helm} install succeeded"
        assert message in result.stderr, f"{case_id} ({helm}): {result.stderr}"
        # Not named after the release: a namespace only the release would have made.
        attempts.append(Release(name, f"{name}-none", [], [], cluster))
    assert leftovers(admin, attempts) == []
    assert release_records(cluster, {r.name for r in attempts}) == []


@pytest.fixture
def refusing_namespace(admin, make_namespace) -> Iterator[str]:
    """A target namespace where the API server refuses every new secret (an admission
    policy): the chart's API-key secret there fails after the agent namespace, service
    account, ... were created."""
    namespace = make_namespace("refuse", "baseline")
    core = kubernetes.client.CoreV1Api(admin)
    with refused_creations(
        admin,
        ("", "v1", "secrets"),
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
        "no new secrets in this namespace (a test's admission policy)",
        lambda: core.create_namespaced_secret(namespace, {"metadata": {"name": "probe"}}, dry_run="All"),
    ):
        yield namespace


@pytest.fixture
def cli_release(cluster, admin, make_namespace, tmp_path: Path) -> Iterator[Callable[..., Release]]:
    """cli_release(helm, targets) -> a Release (not installed) of values/local.yaml with its
    own agent namespace (made by the chart) and these target namespaces; cleaned up after."""
    made: list[Release] = []

    def make(helm: str, targets: list[str]) -> Release:
        name = unique_name("ha")
        values = tmp_path / f"{name}.yaml"
        values.write_text(yaml.safe_dump({"namespace": {"create": True, "name": f"{name}-agent"}, "targetNamespaces": targets}))
        release = Release(name, f"{name}-agent", targets, ["-f", str(VALUES_DIR / "local.yaml"), "-f", str(values)], cluster)
        release.extra["helm"] = helm_binary(helm)
        made.append(release)
        return release

    yield make
    for release in made:
        release.helm("uninstall", release.name, check=False)
        delete_namespace(admin, release.agent_namespace)


def install(release: Release, command: str = "install", *extra: str) -> Any:
    return release.cli_install(command, "--helm-bin", release.extra["helm"], *extra)


@pytest.mark.parametrize("wait", [False, True], ids=["no-wait", "wait"])
@pytest.mark.parametrize("helm", HELMS)
def test_install_refused_by_the_server_midway_is_undone(cluster, admin, cli_release, refusing_namespace, helm: str, wait: bool) -> None:
    release = cli_release(helm, [refusing_namespace])
    result = install(release, "install", *(["--wait", "--timeout", "60s"] if wait else []))
    assert result.code == 1, result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("wandb-launch install: helm failed: "), result.err
    assert "no new secrets in this namespace" in last, last
    if not wait:  # --wait: helm's own --atomic / --rollback-on-failure uninstalled it
        assert f"uninstalled the failed release {release.name}: nothing of it is left" in last
    # Namespace deletion finishes in the background (helm's own uninstall does not wait).
    until_empty(lambda: leftovers(admin, [release]), "objects of the undone install", timeout=120)
    assert release_records(cluster, {release.name}) == []


def running_state(admin, release: Release) -> dict[str, Any]:
    """What the agent runs on: its pod template, its ReplicaSets, its launch config."""
    apps, core = kubernetes.client.AppsV1Api(admin), kubernetes.client.CoreV1Api(admin)
    deployment = apps.read_namespaced_deployment(release.deployment, release.agent_namespace)
    config = core.read_namespaced_config_map(f"{release.deployment}-config", release.agent_namespace)
    return {
        "template": admin.sanitize_for_serialization(deployment.spec.template),
        "generation": deployment.metadata.generation,
        "replica_sets": deployment_replica_sets(admin, release),
        "launch_config": config.data,
    }


def deployed_revision(cluster, release: Release) -> tuple[int, str]:
    status = json.loads(release.helm("status", release.name, "-o", "json").stdout)
    return status["version"], status["info"]["status"]


@pytest.mark.parametrize("helm", HELMS)
def test_upgrade_refused_by_the_server_midway_is_rolled_back(
    cluster, admin, cli_release, make_namespace, refusing_namespace, tmp_path: Path, helm: str
) -> None:
    release = cli_release(helm, [make_namespace("runs", "baseline")])
    assert install(release).code == 0
    eventually(lambda: deployment_replica_sets(admin, release), "the agent's ReplicaSet")
    before = running_state(admin, release)
    # A new queue (so the agent would restart) and a target that refuses the secret.
    more = tmp_path / "more.yaml"
    more.write_text(yaml.safe_dump({
        "targetNamespaces": [*release.target_namespaces, refusing_namespace],
        "launchConfig": {"queues": ["another-queue"]},
    }))  # fmt: skip
    result = install(release, "upgrade", "-f", str(more))
    assert result.code == 1, result.err
    assert "rolled back to revision 1, which is running as before" in result.err.strip().splitlines()[-1], result.err
    assert deployed_revision(cluster, release) == (3, "deployed")  # 1, the failed 2, the rollback 3
    assert running_state(admin, release) == before
    core = kubernetes.client.CoreV1Api(admin)
    assert [s.metadata.name for s in core.list_namespaced_secret(refusing_namespace).items] == []


def test_upgrade_with_a_bad_value_leaves_the_release_untouched(cluster, admin, cli_release, make_namespace, tmp_path: Path) -> None:
    release = cli_release("helm", [make_namespace("runs", "baseline")])
    assert install(release).code == 0
    eventually(lambda: deployment_replica_sets(admin, release), "the agent's ReplicaSet")
    before = running_state(admin, release), deployed_revision(cluster, release)

    helm_upgrade = release.helm("upgrade", release.name, str(CHART), "--reuse-values", "--set", "launchConfig.maxJobs=0", check=False)
    assert helm_upgrade.returncode != 0
    assert "wandb-launch: launchConfig.maxJobs is 0" in helm_upgrade.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"targetNamespaces": ["Runs_A"]}))
    cli_upgrade = install(release, "upgrade", "-f", str(bad))
    assert cli_upgrade.code == 2
    assert 'targetNamespaces[0] "Runs_A" is not a valid namespace name' in cli_upgrade.err

    assert (running_state(admin, release), deployed_revision(cluster, release)) == before
    history = json.loads(release.helm("history", release.name, "-o", "json").stdout)
    assert [entry["revision"] for entry in history] == [1]
