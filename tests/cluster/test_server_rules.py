"""Every value the API server (or the agent) would refuse, the chart refuses first, naming
the key: cases generated from the values schema and judged by the local API server's
server-side dry run, for every values file (see servercases.py for how)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import pytest

from ..chart.chartlib import (
    ALL_VALUES,
    RELEASE,
    RELEASE_NAMESPACE,
    RENDER_KUBE_VERSION,
    command_line_values,
    scenario_values,
    tool,
    values_id,
)
from ..paths import CHART
from .conftest import SERVER_RULES_REPORTS
from .kube import create_namespace, delete_namespace, eventually, unique_name
from .release import HELM_NAMESPACE, Release, leftovers
from .servercases import CaseRun, ChartCopies, Server

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def case_run(cluster, admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseRun]:
    copies = ChartCopies(
        CHART, tmp_path_factory.mktemp("chart-copies"), tool("helm"), RELEASE, RELEASE_NAMESPACE, RENDER_KUBE_VERSION
    )
    scratch = create_namespace(admin, unique_name("dry-run"))
    # Pods are dry-run here as its default service account (the controller makes it).
    core = kubernetes.client.CoreV1Api(admin)
    eventually(lambda: core.list_namespaced_service_account(scratch).items, f"service account default in {scratch}")
    server = Server(admin, scratch)
    try:
        yield CaseRun(copies, server, CHART, tmp_path_factory.mktemp("real-chart"))
    finally:
        server.close()
        copies.close()
        delete_namespace(admin, scratch)


def base_values(values_file: Path) -> dict:
    """The chart's defaults with the scenario over them, and the README's --set values."""
    values = scenario_values(values_file)
    for dotted, value in command_line_values(values_file).items():
        *parents, last = dotted.split(".")
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return values


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_what_the_server_or_agent_refuses_the_chart_refuses_first(
    case_run: CaseRun, values_file: Path, request: pytest.FixtureRequest
) -> None:
    # Files run in ALL_VALUES order, on one CaseRun: a field that lands as in an earlier file
    # is not run again (the report line says how many).
    report = case_run.run(values_id(values_file), base_values(values_file))
    request.config.stash.setdefault(SERVER_RULES_REPORTS, []).append(report.line())
    assert not report.failures, f"{len(report.failures)} of {report.cases}:\n" + "\n".join(report.failures[:60])


def test_the_generated_values_include_what_the_server_and_the_agent_refuse(case_run: CaseRun) -> None:
    """The rule above is not vacuous: the server and the agent refuse many generated values."""
    assert {r.values_file for r in case_run.reports} == {values_id(p) for p in ALL_VALUES}
    assert sum(r.server_refused for r in case_run.reports) > 100
    assert sum(r.agent_refused for r in case_run.reports) > 10


def test_generated_values_the_server_refuses_install_nothing(cluster, admin, case_run: CaseRun, tmp_path: Path) -> None:
    """`helm install` (Helm 3 and 4) of a generated value the server refuses, one per
    top-level values key: it fails, and no object of the release, nor its record, exists."""
    attempts = []
    for index, (key, case) in enumerate(sorted(case_run.samples.items())):
        helm = tool("helm") if index % 2 == 0 else tool("helm4")
        values = tmp_path / f"{key}.json"
        values.write_text(json.dumps(case.values))
        name = unique_name("gen")
        result = subprocess.run(
            [helm, "--kubeconfig", str(cluster.kubeconfig), "install", name, str(CHART), "-n", HELM_NAMESPACE, "-f", str(values)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode != 0, f"{case.describe()}: installed"
        attempts.append(Release(name, f"{name}-none", [], [], cluster))
    assert len(attempts) > 10
    assert leftovers(admin, attempts) == []
    listed = json.loads(cluster.helm("list", "-a", "-n", HELM_NAMESPACE, "-o", "json").stdout or "[]")
    assert {r["name"] for r in listed} & {a.name for a in attempts} == set()
