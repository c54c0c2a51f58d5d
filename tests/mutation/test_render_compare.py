"""How the mutation run compares renders and picks the tests a mutant can reach."""

from __future__ import annotations

from pathlib import Path

from mutation.render import Render, Scenario, _canonical, _error_line, describe_difference
from mutation.templates_run import _bound_scenarios

DEPLOYMENT = """# Source: wandb-launch/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: wandb}
spec:
  replicas: 1
  template: {spec: {automountServiceAccountToken: true}}
"""


def test_yaml_spelling_does_not_count_but_values_do() -> None:
    respelled = DEPLOYMENT.replace("replicas: 1", "replicas: 1   # one").replace("apps/v1", '"apps/v1"')
    assert _canonical(respelled) == _canonical(DEPLOYMENT)
    changed = Render(True, _canonical(DEPLOYMENT.replace("true", "false")))
    assert describe_difference(Render(True, _canonical(DEPLOYMENT)), changed) == [
        "Deployment/wandb/agent: .spec.template.spec.automountServiceAccountToken: true -> false"
    ]


def test_an_error_is_compared_by_its_message_not_its_position(tmp_path: Path) -> None:
    first = "Error: execution error at (wandb-launch/templates/deployment.yaml:1:4): wandb-launch: apiKey.value is required"
    moved = first.replace(":1:4", ":3:9")
    assert _error_line(first, tmp_path) == _error_line(moved, tmp_path) == "fail: apiKey.value is required"
    parse = f"Error: parse error at ({tmp_path}/templates/role.yaml:30): unexpected EOF"
    assert Render(False, _error_line(parse, tmp_path)).parse_error


def test_a_test_bound_to_values_files_by_its_id_runs_only_when_their_render_changed() -> None:
    scenarios = [Scenario("values/gke.yaml", ()), Scenario("chart/ci/default-values.yaml", ())]
    assert _bound_scenarios("tests/chart/test_chart_lint.py::test_helm_lint_strict[values/gke.yaml]", scenarios) == {
        "values/gke.yaml"
    }
    contract = "tests/plugin/test_launch_config_contract.py::test_chart_renders_the_same_launch_config"
    assert _bound_scenarios(f"{contract}[chart/ci/default-values.yaml]", scenarios) == {"chart/ci/default-values.yaml"}
    assert _bound_scenarios("tests/chart/test_chart_schemas.py::test_x[ci/default-values.yaml-1.29]", scenarios) == {
        "chart/ci/default-values.yaml"
    }
    assert _bound_scenarios("tests/chart/test_chart_bad_values.py::test_bad[missing-api-key]", scenarios) == set()


def test_named_list_items_are_told_apart_by_name() -> None:
    volumes = 'spec: {volumes: [{name: home, emptyDir: {}}, {name: git, secret: {secretName: g}}]}'
    before = Render(True, _canonical(f"kind: Deployment\nmetadata: {{name: a}}\n{volumes}\n"))
    after = Render(True, _canonical("kind: Deployment\nmetadata: {name: a}\nspec: {volumes: [{name: home, emptyDir: {}}]}\n"))
    assert describe_difference(before, after) == [
        'Deployment//a: .spec.volumes[git]: {"name": "git", "secret": {"secretName": "g"}} -> (absent)'
    ]
