"""Generate chart/README.md's values table from the `# --` comments in chart/values.yaml.

Usage: python hack/chart_docs.py [--check]
  --check  exit 1 (with one line) if chart/README.md is not what this script would write.
"""

from __future__ import annotations

import argparse
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
    return docs


def render_table(docs: list[ValueDoc]) -> str:
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for doc in docs:
        description = doc.description.replace("|", "\\|")
        default = doc.default.replace("|", "\\|")
        rows.append(f"| `{doc.key}` | {doc.type} | `{default}` | {description} |")
    return "\n".join(rows)


def render_readme(readme: str, docs: list[ValueDoc]) -> str:
    """readme with the text between the table markers replaced by the current table."""
    start = readme.index(TABLE_START) + len(TABLE_START)
    end = readme.index(TABLE_END)
    return readme[:start] + "\n" + render_table(docs) + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if chart/README.md is out of date")
    args = parser.parse_args(argv)
    readme_path = CHART_DIR / "README.md"
    docs = parse_values((CHART_DIR / "values.yaml").read_text())
    current = readme_path.read_text()
    wanted = render_readme(current, docs)
    if args.check:
        if current != wanted:
            print("chart/README.md is out of date: run python hack/chart_docs.py", file=sys.stderr)
            return 1
        return 0
    readme_path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
