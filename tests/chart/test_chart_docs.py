"""values.yaml is documented, and what is generated from its `# --` comments is current:
chart/README.md's values table and the schema's descriptions."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .chartlib import CHART, REPO


def load_chart_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_docs", REPO / "hack" / "chart_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHART_DOCS = load_chart_docs()
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()


def schema_nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema the chart owns, with its dotted path."""
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}" if path else name
        yield child_path, child
        yield from schema_nodes(child, child_path)
        if isinstance(child.get("items"), dict):
            yield from schema_nodes(child["items"], child_path + "[]")


def schema_node(dotted: str) -> dict[str, Any]:
    node = SCHEMA
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def test_readme_table_and_schema_descriptions_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    code = CHART_DOCS.main(["--check"])
    assert code == 0, capsys.readouterr().err.strip()


def test_a_hand_edited_schema_description_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    for name in ("values.yaml", "README.md"):
        shutil.copy(CHART / name, chart / name)
    stale = json.loads(json.dumps(SCHEMA))
    stale["properties"]["baseUrl"]["description"] = "a copy edited by hand"
    (chart / "values.schema.json").write_text(json.dumps(stale, indent=2) + "\n")
    monkeypatch.setattr(CHART_DOCS, "CHART_DIR", chart)
    assert CHART_DOCS.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "chart/values.schema.json out of date with chart/values.yaml: run python hack/chart_docs.py"
    ]
    assert CHART_DOCS.main([]) == 0
    assert json.loads((chart / "values.schema.json").read_text()) == SCHEMA


def test_every_values_key_is_documented() -> None:
    # A section's comment describes the map; its keys still need their own.
    documented = {doc.key for doc in CHART_DOCS.parse_values(VALUES_TEXT) if not doc.section}
    values = yaml.safe_load(VALUES_TEXT)

    def leaves(node: dict[str, Any], path: str = "") -> Iterator[str]:
        for key, value in node.items():
            dotted = f"{path}.{key}" if path else key
            if dotted in documented:
                continue  # documented as a whole (maps such as podSecurityContext)
            assert isinstance(value, dict) and value, f"{dotted} has no '# --' comment"
            yield from leaves(value, dotted)

    assert list(leaves(values)) == []


def test_schema_matches_the_documentation() -> None:
    for doc in CHART_DOCS.parse_values(VALUES_TEXT):
        assert schema_node(doc.key)["description"] == doc.description, doc.key


def test_every_schema_property_has_a_description() -> None:
    missing = [path for path, node in schema_nodes(SCHEMA) if not node.get("description")]
    assert missing == []


def test_schema_is_strict_on_what_the_chart_owns() -> None:
    """Objects the chart defines forbid unknown keys; open ones are Kubernetes or SDK types passed through."""
    passed_through = {
        "global",
        "podSecurityContext",
        "securityContext",
        "resources",
        "affinity",
        "launchConfig.builder.kanikoConfig",
        "launchConfig.extraConfig",
    }
    assert SCHEMA["additionalProperties"] is False
    for path, node in schema_nodes(SCHEMA):
        if node.get("type") == "object" and path not in passed_through:
            assert "additionalProperties" in node, f"{path} accepts any key"
