"""The package's import graph, read from its source (ast): no cycle, no command module
importing another, and parsed arguments only in the CLI layer.

Every import counts, also those inside functions (the lazy ones that keep `--help`
fast) and `importlib.import_module("wandb_launch....")` by name: a cycle that only closes
at run time is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ..paths import REPO

PACKAGE = REPO / "plugin" / "wandb_launch"
# Modules that turn flags into plain values; the rest is library code.
CLI_LAYER = {"wandb_launch.cli", "wandb_launch.clusterargs", "wandb_launch.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Not the chart the package carries (plugin/wandb_launch/chart, a link to chart/): its files are
# the chart's, read from disk, not modules of the package (a copy that follows links, as the
# mutation run's staging makes, has them as plain files).
MODULES = {
    module_name(path): path
    for path in sorted(PACKAGE.rglob("*.py"))
    if not path.relative_to(PACKAGE).parts[0] == "chart"
}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imported_names(name: str) -> set[str]:
    """Every module name `name` imports (absolute), anywhere in its source."""
    tree = ast.parse(MODULES[name].read_text())
    base = name if is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def package_edges() -> dict[str, set[str]]:
    """module -> the package's modules it imports (names that are modules of the package)."""
    return {name: {m for m in imported_names(name) if m in MODULES and m != name} for name in MODULES}


EDGES = package_edges()


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path (first module repeated at the end), or []."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_the_graph_is_read() -> None:
    """The walk sees lazy imports too (a test that cannot fail is a defect)."""
    assert "wandb_launch.release" in EDGES["wandb_launch.status_cmd"]
    assert "wandb_launch.demo" in EDGES["wandb_launch.cli"]  # importlib.import_module by name
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(EDGES)
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("command", sorted(name for name in MODULES if name.endswith("_cmd")))
def test_no_command_module_imports_another(command: str) -> None:
    others = sorted(m for m in EDGES[command] if m.endswith("_cmd"))
    assert others == [], f"{command} imports {others}: move what they share into a library module"


def test_the_demo_calls_the_library_not_the_cli() -> None:
    assert "wandb_launch.cli" not in EDGES["wandb_launch.demo"]


@pytest.mark.parametrize(
    "library",
    sorted(name for name in MODULES if name not in CLI_LAYER and not name.endswith(("_cmd", "__main__"))),
)
def test_library_code_takes_plain_values(library: str) -> None:
    """Parsed arguments stay in the CLI layer: library modules neither parse flags nor import commands."""
    imported = imported_names(library)
    assert "argparse" not in imported, f"{library} imports argparse"
    assert not [m for m in EDGES[library] if m.endswith("_cmd") or m in CLI_LAYER], EDGES[library]
