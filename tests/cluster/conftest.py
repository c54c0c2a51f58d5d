"""Fixtures of the cluster tests: an admin client, throwaway namespaces, chart releases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes.client
import pytest

from ..paths import CHART
from .kube import create_namespace, delete_namespace, unique_name
from .release import Release, install_args

# One line per values file from test_server_rules.py: fields, generated values, refusals.
SERVER_RULES_REPORTS = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(SERVER_RULES_REPORTS, [])
    if lines:
        terminalreporter.write_sep("-", "values the API server or the agent refuses, refused by the chart first")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def admin(cluster) -> Iterator[kubernetes.client.ApiClient]:
    with cluster.api_client() as client:
        yield client


@pytest.fixture
def make_namespace(admin: kubernetes.client.ApiClient) -> Iterator[Callable[..., str]]:
    """make_namespace(prefix, pod_security=None) -> name; deleted after the test."""
    made: list[str] = []

    def make(prefix: str, pod_security: str | None = None) -> str:
        made.append(create_namespace(admin, unique_name(prefix), pod_security))
        return made[-1]

    yield make
    for name in made:
        delete_namespace(admin, name)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def install_release(
    request: pytest.FixtureRequest, cluster, admin, make_namespace
) -> Iterator[Callable[..., Release]]:
    """install_release(values_file, *set_args, targets=1, target_pod_security="baseline", prefix="wl", agent_namespace=None, helm_flags=())

    Installs the chart in its own release, agent namespace (made by the chart) and target
    namespaces (made here, as an admin would). Uninstalled and cleaned up after the test,
    with the agent namespace's events printed when the test failed."""
    releases: list[Release] = []

    def install(
        values_file: Path, *set_args: str, targets: int = 1, target_pod_security: str | None = "baseline",
        prefix: str = "wl", agent_namespace: str | None = None, helm_flags: tuple[str, ...] = (),
    ) -> Release:
        name = unique_name(prefix)
        # Not named after the release: they are the admin's, and outlive it.
        target_namespaces = [make_namespace(f"runs{i}", target_pod_security) for i in range(targets)]
        agent_namespace = agent_namespace or f"{name}-agent"
        args = install_args(values_file, agent_namespace, target_namespaces, set_args)
        release = Release(name, agent_namespace, target_namespaces, args, cluster)
        releases.append(release)
        release.helm("install", name, str(CHART), *args, *helm_flags)
        return release

    yield install
    report = getattr(request.node, "report_call", None)
    for release in releases:
        if report is not None and report.failed:
            print(f"events in {release.agent_namespace}:", *release.events(), sep="\n  ")
        if not release.uninstalled:
            release.helm("uninstall", release.name, check=False)
        delete_namespace(admin, release.agent_namespace)
