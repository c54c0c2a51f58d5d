"""The per-namespace templates (role.yaml, rolebinding.yaml, secret-api-key.yaml) were made
compact for 1,000 target namespaces (docs/scale.md): rules, roleRef and subjects in flow
style, the objects made once per target carry only the selector labels (Helm adds
app.kubernetes.io/managed-by to every object it applies), and the API-key secrets leave
`type` to its default. What they create must not change otherwise: every values file, and
scale scenarios (10 and 1,000 targets, Roles and the ClusterRole, the agent namespace and
`default` among the targets), renders the same objects, field by field, as the templates
before that change (BEFORE, taken from git and swapped into a copy of this chart, so changes
elsewhere reach both sides alike), with those differences and no others.

A later change that means to alter these templates' objects fails here: move BEFORE to the
commit that made it, or name the difference below.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..paths import CHART, REPO
from .chartlib import ALL_VALUES, RELEASE, RELEASE_NAMESPACE, RENDER_KUBE_VERSION, tool, values_id

# The last commit whose per-namespace templates rendered block-style rules, every label on
# every object and `type: Opaque` (main after issue 9, with issue 13's first round).
BEFORE = "e5b620b"
TEMPLATES = ("templates/role.yaml", "templates/rolebinding.yaml", "templates/secret-api-key.yaml")
KEY = ["--set", "apiKey.value=render-same-key-0000000000000000000000000000000000000"]
# The labels every object made once per target namespace keeps: the selector labels.
TARGET_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
PER_TARGET_KINDS = ("Role", "RoleBinding", "Secret")


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
                "apiKey": {"value": "render-same-key-0000000000000000000000000000000000000"},
            }
        )
    )
    return path


def helm_template_of(chart: Path, *args: str) -> str:
    """`helm template` of `chart` as chartlib renders the chart under test."""
    command = [tool("helm"), "template", RELEASE, str(chart), "--namespace", RELEASE_NAMESPACE,
               "--kube-version", RENDER_KUBE_VERSION, *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(text) if d]
    keyed = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}
    assert len(keyed) == len(docs), "two objects with one kind, namespace and name"
    return keyed


def as_now(before: dict[tuple[str, str, str], dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The objects BEFORE rendered, with the intended differences applied: per-target objects
    keep the selector labels only, API-key secrets no `type` (Opaque, the default)."""
    (deployment,) = [d for d in before.values() if d["kind"] == "Deployment"]
    agent_namespace = deployment["metadata"]["namespace"]
    secret_name = f"wandb-api-key-{RELEASE}"
    for (kind, namespace, name), doc in before.items():
        if kind == "Secret" and name == secret_name:
            assert doc.pop("type") == "Opaque"
        if kind in PER_TARGET_KINDS and namespace != agent_namespace and kind != "Secret" or (
            kind == "Secret" and name == secret_name and namespace != agent_namespace
        ):
            labels = doc["metadata"]["labels"]
            doc["metadata"]["labels"] = {k: labels[k] for k in TARGET_LABELS}
    return before


def assert_same_objects(now_text: str, before_text: str) -> None:
    now, before = objects(now_text), as_now(objects(before_text))
    assert sorted(now) == sorted(before)
    different = [key for key in now if now[key] != before[key]]
    assert not different, f"objects that changed: {different[:5]} (first: {now[different[0]]} vs {before[different[0]]})"


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_every_values_file_renders_the_same_objects(chart_before: Path, values_file: Path) -> None:
    args = ["-f", str(values_file), *KEY] if values_file.parent.name == "values" else ["-f", str(values_file)]
    assert_same_objects(helm_template_of(CHART, *args), helm_template_of(chart_before, *args))


@pytest.mark.parametrize("targets", [10, 1000])
@pytest.mark.parametrize("cluster_role", [False, True], ids=["roles", "cluster-role"])
def test_scale_scenarios_render_the_same_objects(chart_before: Path, tmp_path: Path, targets: int,
                                                 cluster_role: bool) -> None:
    args = ["-f", str(REPO / "values" / "local.yaml"), "-f", str(scale_values(tmp_path, targets, cluster_role))]
    now = helm_template_of(CHART, *args)
    assert_same_objects(now, helm_template_of(chart_before, *args))
    assert now.count("\nkind: RoleBinding\n") == targets  # the scenario reached every namespace
    # `default` is a target: its objects keep the checkov skip annotation, and only they do.
    in_default = [d for d in yaml.safe_load_all(now) if d and d["metadata"].get("namespace") == "default"]
    assert in_default and all("checkov.io/skip21" in d["metadata"].get("annotations", {}) for d in in_default)
    elsewhere = [d for d in yaml.safe_load_all(now) if d and d["metadata"].get("namespace", "default") != "default"]
    assert not [d for d in elsewhere if "checkov.io/skip21" in d["metadata"].get("annotations", {})]


def test_targets_that_look_like_numbers_or_booleans_stay_strings() -> None:
    """Namespaces written bare save bytes at 1,000 targets; one that YAML would read as a
    number or a boolean makes the per-target templates quote them all."""
    targets = ["123", "yes", "1e3", "team-a"]
    text = helm_template_of(CHART, *KEY, "--set", "launchConfig.queues={q}", "--set-json",
                            f"targetNamespaces={json.dumps(targets)}")
    per_target = [d for d in yaml.safe_load_all(text) if d and d["kind"] in PER_TARGET_KINDS
                  and d["metadata"]["namespace"] != RELEASE_NAMESPACE]
    assert len(per_target) == 2 * len(targets)
    assert sorted({d["metadata"]["namespace"] for d in per_target}) == sorted(targets)
    bare = helm_template_of(CHART, *KEY, "--set", "launchConfig.queues={q}", "--set-json",
                            'targetNamespaces=["team-a", "team-b"]')
    assert "namespace: team-a\n" in bare and '"team-a"' not in bare
