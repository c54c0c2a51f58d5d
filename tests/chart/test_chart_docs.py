"""values.yaml is documented, the schema describes every key, and chart/README.md is current."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import yaml
from chartlib import CHART, REPO


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


def test_readme_values_table_is_current() -> None:
    assert CHART_DOCS.main(["--check"]) == 0, "run: python hack/chart_docs.py"


def test_every_values_key_is_documented() -> None:
    documented = {doc.key for doc in CHART_DOCS.parse_values(VALUES_TEXT)}
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
