"""Write the `# --` comments of chart/values.yaml, the one place values are described,
into chart/README.md's values table and into chart/values.schema.json's descriptions.

A `# --` comment on a map whose keys carry their own is a section: it describes the map
in the schema and is left out of the table. The schema keeps its types and patterns, and
the descriptions of what values.yaml cannot declare (the fields of list items).

Usage: python hack/chart_docs.py [--check]
  --check  exit 1 (with one line) if either file is not what this script would write.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

CHART_DIR = Path(__file__).resolve().parent.parent / "chart"
TABLE_START = "<!-- values-table:start -->"
TABLE_END = "<!-- values-table:end -->"
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\-]+):(?:\s|$)")
_DOC_LINE = re.compile(r"^\s*# -- (?P<text>.*)$")


class ValueDoc(NamedTuple):
    """One documented key of values.yaml."""

    key: str
    type: str
    default: str
    description: str
    section: bool = False  # a map whose keys are documented one by one


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def parse_values(text: str) -> list[ValueDoc]:
    """The keys that carry a `# --` comment, in file order, with their dotted path."""
    values = yaml.safe_load(text)
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    docs: list[ValueDoc] = []
    for line in text.splitlines():
        doc = _DOC_LINE.match(line)
        if doc:
            pending = doc.group("text").strip()
            continue
        key_line = _KEY_LINE.match(line)
        if not key_line or line.lstrip().startswith("#"):
            continue
        indent = len(key_line.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key_line.group("key")))
        if pending is None:
            continue
        dotted = ".".join(key for _, key in stack)
        value = _lookup(values, dotted)
        docs.append(ValueDoc(dotted, _type_name(value), json.dumps(value), pending))
        pending = None
    keys = {doc.key for doc in docs}
    return [doc._replace(section=any(k.startswith(doc.key + ".") for k in keys)) for doc in docs]


def render_table(docs: list[ValueDoc]) -> str:
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for doc in docs:
        if doc.section:
            continue
        description = doc.description.replace("|", "\\|")
        default = doc.default.replace("|", "\\|")
        rows.append(f"| `{doc.key}` | {doc.type} | `{default}` | {description} |")
    return "\n".join(rows)


def render_readme(readme: str, docs: list[ValueDoc]) -> str:
    """readme with the text between the table markers replaced by the current table."""
    start = readme.index(TABLE_START) + len(TABLE_START)
    end = readme.index(TABLE_END)
    return readme[:start] + "\n" + render_table(docs) + "\n" + readme[end:]


def describe_schema(schema: dict[str, Any], docs: list[ValueDoc]) -> dict[str, Any]:
    """The schema with each property's description taken from values.yaml (a copy; the
    fields of list items keep their own). A property values.yaml does not document is an error."""
    described = {doc.key: doc.description for doc in docs}
    out = copy.deepcopy(schema)

    def walk(node: dict[str, Any], path: str) -> None:
        for name, child in node.get("properties", {}).items():
            dotted = f"{path}.{name}" if path else name
            if dotted not in described:
                raise SystemExit(f"chart/values.yaml: {dotted} has no '# --' comment (the schema describes it)")
            child["description"] = described[dotted]
            walk(child, dotted)

    walk(out, "")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if chart/README.md or the schema is out of date")
    args = parser.parse_args(argv)
    readme_path, schema_path = CHART_DIR / "README.md", CHART_DIR / "values.schema.json"
    docs = parse_values((CHART_DIR / "values.yaml").read_text())
    current = {readme_path: readme_path.read_text(), schema_path: schema_path.read_text()}
    wanted = {
        readme_path: render_readme(current[readme_path], docs),
        schema_path: json.dumps(describe_schema(json.loads(current[schema_path]), docs), indent=2, ensure_ascii=False)
        + "\n",
    }
    stale = [path for path in wanted if wanted[path] != current[path]]
    if args.check:
        if stale:
            names = " and ".join(str(path.relative_to(CHART_DIR.parent)) for path in stale)
            print(f"{names} out of date with chart/values.yaml: run python hack/chart_docs.py", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.write_text(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
