"""The per-namespace templates compute their labels, names and rules once instead of once per
target namespace (at 1,000 targets that was most of the chart's template time). The
rendered output must not change: every values file, and scale scenarios (10 and 1,000
targets, Roles and the ClusterRole, the agent namespace and `default` among the targets),
renders byte for byte what the templates rendered before, which are taken from git
(BEFORE, the last commit with them) and swapped into a copy of this chart, so changes
elsewhere in the chart reach both sides alike.

A later change that means to alter these templates' output fails here: move BEFORE to the
commit that made it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ..paths import CHART, REPO
from .chartlib import (
    ALL_VALUES,
    RELEASE,
    RELEASE_NAMESPACE,
    RENDER_KUBE_VERSION,
    tool,
    values_id,
)

# The last commit whose role.yaml, rolebinding.yaml and secret-api-key.yaml computed everything
# per namespace (guard's merge of main: main's per-namespace templates, names quoted).
BEFORE = "ea75e93407b95628a5f6b77ab58ec07a20120624"
TEMPLATES = ("templates/role.yaml", "templates/rolebinding.yaml", "templates/secret-api-key.yaml")
KEY = ["--set", "apiKey.value=render-identical-key-0000000000000000000000000000000000"]


@pytest.fixture(scope="module")
def chart_before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("chart-before") / "chart"
    shutil.copytree(CHART, copy)
    for template in TEMPLATES:
        shown = subprocess.run(
            ["git", "show", f"{BEFORE}:chart/{template}"], cwd=REPO, capture_output=True, text=True, check=False
        )
        if shown.returncode != 0:
            pytest.fail(f"git show {BEFORE}:chart/{template} failed ({shown.stderr.strip()}): is the history there?")
        (copy / template).write_text(shown.stdout)
    return copy


def scale_values(tmp: Path, targets: int, cluster_role: bool) -> Path:
    path = tmp / f"scale-{targets}-{cluster_role}.yaml"
    names = ["default", "wandb-agent", *(f"team-{i:04d}" for i in range(targets - 2))]
    path.write_text(
        yaml.safe_dump(
            {
                "namespace": {"create": True, "name": "wandb-agent"},
                "targetNamespaces": names,
                "rbac": {"useClusterRole": cluster_role},
                "apiKey": {"value": "render-identical-key-0000000000000000000000000000000000"},
            }
        )
    )
    return path


def helm_template_of(chart: Path, *args: str) -> str:
    """`helm template` of `chart` as chartlib renders the chart under test."""
    command = [
        tool("helm"),
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        RELEASE_NAMESPACE,
        "--kube-version",
        RENDER_KUBE_VERSION,
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_every_values_file_renders_the_same(chart_before: Path, values_file: Path) -> None:
    args = ["-f", str(values_file), *KEY] if values_file.parent.name == "values" else ["-f", str(values_file)]
    assert helm_template_of(CHART, *args) == helm_template_of(chart_before, *args)


@pytest.mark.parametrize("targets", [10, 1000])
@pytest.mark.parametrize("cluster_role", [False, True], ids=["roles", "cluster-role"])
def test_scale_scenarios_render_the_same(chart_before: Path, tmp_path: Path, targets: int, cluster_role: bool) -> None:
    args = ["-f", str(REPO / "values" / "local.yaml"), "-f", str(scale_values(tmp_path, targets, cluster_role))]
    now = helm_template_of(CHART, *args)
    assert now == helm_template_of(chart_before, *args)
    assert now.count("\nkind: RoleBinding\n") == targets  # the scenario reached every namespace
