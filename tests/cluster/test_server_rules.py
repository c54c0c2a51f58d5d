"""Every value the API server (or the agent) would refuse, the chart refuses first, naming
the key: cases generated from the values schema and judged by the local API server's
server-side dry run, for every values file (see servercases.py for how)."""

from __future__ import annotations

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
