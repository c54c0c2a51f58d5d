"""The mutation run renders each values file exactly as the offline tests do, and names it as their ids do."""

from __future__ import annotations

import json
import subprocess
import sys

from mutation.render import render, values_scenarios
from mutation.templates_run import _bound_scenarios

from tests.chart.chartlib import ALL_VALUES, REPO, tool, value_args

AKS_SECRET_TYPE_TEST = "tests/chart/test_chart_objects.py::test_secrets_are_of_the_type_their_data_needs[values/aks.yaml]"


def test_every_values_file_gets_the_flags_the_tests_render_it_with() -> None:
    # values/aks.yaml (kaniko on Azure) carries the README's storage key as well as the API key.
    assert {s.name: list(s.args) for s in values_scenarios(REPO)} == {
        str(p.relative_to(REPO)): value_args(p) for p in ALL_VALUES
    }


def test_the_azure_storage_secret_is_in_the_aks_render_and_its_tests_are_bound_to_it() -> None:
    scenarios = values_scenarios(REPO)
    (aks,) = [s for s in scenarios if s.name == "values/aks.yaml"]
    result = render(tool("helm"), REPO / "chart", aks)
    assert result.ok, result.output
    objects = [json.loads(doc) for doc in json.loads(result.output)]
    # The name the SDK hard-codes (builder/kaniko_builder.py); without the storage key it is not rendered.
    storage = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "azure-storage-access-key"]
    assert [s["type"] for s in storage] == ["Opaque"]
    assert _bound_scenarios(AKS_SECRET_TYPE_TEST, scenarios) == {"values/aks.yaml"}


def test_the_run_does_not_import_the_tests_chart_path_before_its_suite_sets_it() -> None:
    # tests.paths reads WANDB_LAUNCH_CHART once; imported by the run's own process, it would
    # point every forked test at the unmutated chart and no mutant could be killed.
    check = "import sys, mutation.templates_run; print('tests.paths' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
