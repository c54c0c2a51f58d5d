"""Adopting a release of W&B's public launch-agent chart (0.13.12, installed unchanged from
the reference copy) on the plain control plane, where no pod ever becomes Ready: the values
of its own ci/ file, a switch that rolls back because our agent never becomes Available, and
the refusals. The switches that succeed need a Ready pod and run on simulated nodes: every
option of the chart in tests/nodes/test_adopt_official.py, and its ci/ values with the SDK's
own agent launching a run through the adopted release in tests/agent/test_adopted.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..clirun import Outcome, one_line_error, run_cli
from ..paths import CHART, OFFICIAL_CHART
from .adoption import OfficialRelease, existing, official  # noqa: F401 - `official` is a fixture
from .kube import eventually, refused_creations, unique_name, until_empty
from .release import HELM_NAMESPACE, Release, leftovers

pytestmark = pytest.mark.cluster

CI_API_KEY = "<an-api-key>"  # what chart/ci/basic-values.yaml of the official chart carries


def ci_release(official, *targets: str) -> OfficialRelease:
    """A release of the official chart with the values of its own ci/ file, moved to the
    release's namespace (the file says wandb) so tests do not share one: its targets are
    `targets`, then that namespace."""
    release = official()
    release.install(
        "-f",
        str(OFFICIAL_CHART / "ci" / "basic-values.yaml"),
        "--set-json",
        f"additionalTargetNamespaces={json.dumps([*targets, release.namespace])}",
    )
    return release


def deployment(name: str, container: str, image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A one-container Deployment selecting its pods by app=NAME."""
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": container, "image": image}]},
            },
        },
    }


def assert_rolled_back(release: OfficialRelease, result: Outcome, before: list[dict[str, str]]) -> None:
    """adopt --apply failed and said it rolled back; the old release is whole and no release
    record of ours is left (in any state)."""
    assert result.code == 1, result.err
    assert "rolled back: our release and copies removed, the old agent" in result.err
    assert len(existing(release.admin, before)) == len(before)
    assert release.ours not in release.cluster.helm("list", "-a", "-n", HELM_NAMESPACE, "-q").stdout.split()


def test_official_ci_values_are_adopted(official, tmp_path: Path) -> None:
    """A dry run: the values of the chart's own ci/ file, key by key; nothing changes."""
    release = ci_release(official, "default")
    before = release.manifest_refs()
    values_out = tmp_path / "adopted.yaml"
    result = release.adopt("--values-out", str(values_out), "-o", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

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
    assert CI_API_KEY not in result.out + result.err + values_out.read_text()
    # A dry run changes nothing: the old release is whole, no copy and no release of ours exist.
    assert len(existing(release.admin, before)) == len(before)
    assert not existing(release.admin, [{"kind": "Secret", "namespace": release.namespace, "name": copy}])
    assert release.ours not in release.cluster.helm("list", "-n", HELM_NAMESPACE, "-q").stdout.split()


def test_our_agent_never_available_rolls_back_and_leaves_the_old_one(official, tmp_path: Path) -> None:
    release = ci_release(official)
    before = release.manifest_refs()
    # No node here: our pod is never scheduled, never Ready.
    result = release.adopt("--values-out", str(tmp_path / "v.yaml"), "--apply", "--timeout", "5s", "--settle", "0")
    assert_rolled_back(release, result, before)
    assert "was not Available after 5 s" in result.err
    eventually(
        lambda: (
            not existing(
                release.admin,
                [{"kind": "Secret", "namespace": release.namespace, "name": f"{release.ours}-adopted-api-key"}],
            )
        ),
        "the copied key to be removed again",
    )


def test_helm_failing_midway_rolls_back_its_failed_release(official, admin, tmp_path: Path) -> None:
    """helm install (adopt's, without --wait) refused by the server after it made the release
    record and our first objects (an admission policy refuses our Deployment, which helm
    creates after the service account, config map and roles): adopt's roll-back removes the
    failed release record, our objects and the copied key; the old agent stays."""
    release = ci_release(official)
    before = release.manifest_refs()
    ours = {"app.kubernetes.io/instance": release.ours}
    apps = kubernetes.client.AppsV1Api(admin)
    probe_deployment = deployment("probe", "c", "probe", labels=ours)
    message = "no Deployment of ours (a test's admission policy)"
    with refused_creations(
        admin,
        ("apps", "v1", "deployments"),
        {"objectSelector": {"matchLabels": ours}},
        message,
        lambda: apps.create_namespaced_deployment(release.namespace, probe_deployment, dry_run="All"),
    ):
        result = release.adopt("--values-out", str(tmp_path / "v.yaml"), "--apply", "--timeout", "60s", "--settle", "0")
    assert_rolled_back(release, result, before)
    line = result.err.strip().splitlines()[-1]  # after the progress lines
    assert line.startswith("wandb-launch adopt: "), result.err
    assert f"helm install {release.ours} failed: " in line and message in line, line
    assert "rolled back: our release and copies removed, the old agent" in line, line
    nothing_of_ours = Release(release.ours, f"{release.ours}-none", [], [], release.cluster)
    until_empty(lambda: leftovers(admin, [nothing_of_ours]), "objects of our rolled-back release")


def test_a_roll_back_that_fails_says_what_is_left(official, admin, tmp_path: Path) -> None:
    """The same failure midway, and the server also refuses to delete our config maps: helm
    uninstall fails, our release record stays, and adopt names it (not "removed"); once the
    refusals are gone, helm uninstall removes it and the old agent was never touched."""
    release = ci_release(official)
    before = release.manifest_refs()
    ours = {"app.kubernetes.io/instance": release.ours}
    apps, core = kubernetes.client.AppsV1Api(admin), kubernetes.client.CoreV1Api(admin)
    probe_deployment = deployment("probe", "c", "probe", labels=ours)
    probe_config = core.create_namespaced_config_map(release.namespace, {"metadata": {"generateName": "probe-", "labels": ours}})
    no_deployment = "no Deployment of ours (a test's admission policy)"
    no_delete = "our config maps stay (a test's admission policy)"
    try:
        with refused_creations(
            admin, ("apps", "v1", "deployments"), {"objectSelector": {"matchLabels": ours}}, no_deployment,
            lambda: apps.create_namespaced_deployment(release.namespace, probe_deployment, dry_run="All"),
        ), refused_creations(
            admin, ("", "v1", "configmaps"), {"objectSelector": {"matchLabels": ours}}, no_delete,
            lambda: core.delete_namespaced_config_map(probe_config.metadata.name, release.namespace, dry_run="All"),
            operation="DELETE",
        ):  # fmt: skip
            result = release.adopt("--values-out", str(tmp_path / "v.yaml"), "--apply", "--timeout", "60s", "--settle", "0")
        assert result.code == 1, result.err
        line = result.err.strip().splitlines()[-1]
        assert f"helm install {release.ours} failed: deployments.apps " in line and no_deployment in line, line
        assert f"rolling back left release {release.ours} (helm uninstall: " in line, line
        assert f"remove by hand (the release: helm uninstall {release.ours} -n {HELM_NAMESPACE}), the old agent" in line, line
        assert "removed" not in line, line
        assert release.ours in release.cluster.helm("list", "-a", "-n", HELM_NAMESPACE, "-q").stdout.split()
        assert len(existing(release.admin, before)) == len(before)
    finally:
        core.delete_namespaced_config_map(probe_config.metadata.name, release.namespace)
    release.cluster.helm("uninstall", release.ours, "-n", HELM_NAMESPACE)
    assert release.ours not in release.cluster.helm("list", "-a", "-n", HELM_NAMESPACE, "-q").stdout.split()


def test_an_unrecognised_agent_and_several_agents_are_refused_in_one_line(official, cluster, admin) -> None:
    release = ci_release(official)
    apps = kubernetes.client.AppsV1Api(admin)
    apps.create_namespaced_deployment(release.namespace, deployment("web", "web", "nginx:1.27"))
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
    apps.create_namespaced_deployment(release.namespace, deployment(hand, "agent", "wandb/launch-agent:0.31.0"))
    result = run_cli("adopt", *kubeconfig)
    assert result.code == 2
    line = one_line_error(result)
    assert (
        "agents: " in line
        and f"release {release.namespace}/{release.name}" in line
        and f"deployment {release.namespace}/{hand}" in line
    )
    assert "pick one with --from-release NAME --from-namespace NS or --from-deployment NS/NAME" in line
