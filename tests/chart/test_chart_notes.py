"""NOTES.txt renders for every scenario and tells the user what was installed and how to check it.

`helm install --dry-run` needs a cluster, so the notes are rendered with `tpl` from a copy
of the chart, through the same template set (helpers included).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chartlib import (
    ALL_VALUES,
    API_KEY_PLACEHOLDER,
    CHART,
    RELEASE,
    REPO,
    command_line_values,
    objects_of,
    one,
    rendered,
    run_helm,
    scenario_values,
    value_args,
    values_id,
)

NOTES_PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-probe
data:
  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}
"""


@pytest.fixture(scope="module")
def probe_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("chart") / "wandb-launch"
    shutil.copytree(CHART, copy, symlinks=False)
    shutil.copy(CHART / "templates" / "NOTES.txt", copy / "files" / "NOTES.txt")
    (copy / "templates" / "notes-probe.yaml").write_text(NOTES_PROBE)
    return copy


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_notes(probe_chart: Path, values_file: Path) -> None:
    result = run_helm(
        "template",
        RELEASE,
        str(probe_chart),
        "--namespace",
        "default",
        "--kube-version",
        "v1.36.3",
        "--show-only",
        "templates/notes-probe.yaml",
        *value_args(values_file),
    )
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    docs: list[dict[str, Any]] = rendered(values_file)
    values = scenario_values(values_file)
    deployment = one(docs, "Deployment")
    ns, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    assert f"kubectl -n {ns} rollout status deployment/{name}" in notes
    assert f"kubectl -n {ns} logs deployment/{name}" in notes
    assert ", ".join(values["launchConfig"]["queues"]) in notes
    for target in values["targetNamespaces"]:
        assert f"kubectl auth can-i create jobs.batch -n {target} --as system:serviceaccount:{ns}:" in notes
    assert ("helm test " + RELEASE in notes) == values["tests"]["enabled"]
    assert "Target namespaces must exist already" in notes
    namespaces = objects_of(docs, "Namespace")
    if namespaces:
        enforce = namespaces[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        assert f"Agent namespace:   {ns} (created, Pod Security enforce={enforce})\n" in notes
    else:
        assert f"Agent namespace:   {ns}\n" in notes
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    existing = "" if values["serviceAccount"]["create"] else " (existing)"
    assert f"Service account:   {ns}/{account}{existing}\n" in notes
    azure_builds = (values["launchConfig"]["builder"]["type"], values["launchConfig"]["environment"]["type"]) == (
        "kaniko", "azure")
    needs_storage_key = azure_builds and not command_line_values(values_file).get("kaniko.azureStorage.accessKey")
    assert ("create secret generic azure-storage-access-key" in notes) == needs_storage_key


def test_notes_ask_for_the_azure_storage_key_the_chart_was_not_given(probe_chart: Path) -> None:
    """Azure kaniko builds without kaniko.azureStorage.accessKey: the SDK reads the key from
    secret azure-storage-access-key, which the user must then create; the notes say how."""
    aks = REPO / "values" / "aks.yaml"
    result = run_helm("template", RELEASE, str(probe_chart), "--namespace", "default", "--kube-version", "v1.36.3",
                      "--show-only", "templates/notes-probe.yaml", "-f", str(aks), "--set",
                      f"apiKey.value={API_KEY_PLACEHOLDER}")
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    ns = (yaml.safe_load(aks.read_text()).get("namespace") or {}).get("name") or "default"
    assert (f"kubectl -n {ns} create secret generic azure-storage-access-key "
            "--from-literal=password=$AZURE_STORAGE_KEY") in notes


def test_notes_stay_short_with_many_targets(probe_chart: Path, tmp_path: Path) -> None:
    """1,000 targets: five of each kind of line, then how many in all and the one command that
    checks every target (not a thousand `kubectl auth can-i` lines)."""
    targets = [f"team-{i:04d}" for i in range(1000)]
    values = tmp_path / "many.yaml"
    values.write_text(yaml.safe_dump({"targetNamespaces": targets, "apiKey": {"value": API_KEY_PLACEHOLDER},
                                      "launchConfig": {"queues": ["q"]}, "namespace": {"name": "agents"}}))
    result = run_helm("template", RELEASE, str(probe_chart), "--namespace", "default", "--kube-version", "v1.36.3",
                      "--show-only", "templates/notes-probe.yaml", "-f", str(values))
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    assert len(notes.splitlines()) < 40
    assert "Target namespaces: team-0000, team-0001, team-0002, team-0003, team-0004, ... (1000 in all)" in notes
    assert "in agents, team-0000, team-0001, team-0002, team-0003, ... (1001 in all)" in notes
    assert notes.count("kubectl auth can-i create jobs.batch") == 5
    assert f"wandb-launch verify --release {RELEASE} -n default    # every right in all 1000 target namespaces" in notes
