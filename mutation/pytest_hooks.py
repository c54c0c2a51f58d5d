"""pytest plugin of the template run (`-p mutation.pytest_hooks`), driven by environment variables.

MUTATION_SELECT=FILE: run only the node ids listed in FILE (JSON), deselect the rest.
MUTATION_TEST_COSTS=FILE: run the test files in increasing cost ({file: seconds}), each file
  in its own order (module-scoped fixtures stay set up once). With `-x` a mutant dies on its
  first failing test, so a cheap test that fails saves the whole rest of the suite.
MUTATION_RESULTS=FILE: write {"passed": [...], "failed": [...], "costs": {file: seconds}} at
  the end (failed: any phase failed, in the order it happened).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

_costs: dict[str, float] = defaultdict(float)
_failed: list[str] = []
_seen: list[str] = []


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _load(variable: str) -> object | None:
    path = os.environ.get(variable)
    return json.loads(Path(path).read_text()) if path and Path(path).is_file() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = _load("MUTATION_SELECT")
    if isinstance(selected, list):
        keep = set(selected)
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in keep])
        items[:] = [item for item in items if item.nodeid in keep]
    costs = _load("MUTATION_TEST_COSTS")
    if isinstance(costs, dict):
        position = {item.nodeid: i for i, item in enumerate(items)}
        # A file without a recorded cost (a test added since) runs last.
        items.sort(key=lambda item: (costs.get(_file_of(item.nodeid), float("inf")), position[item.nodeid]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _costs[_file_of(report.nodeid)] += report.duration
    if report.nodeid not in _seen:
        _seen.append(report.nodeid)
    if report.failed and report.nodeid not in _failed:
        _failed.append(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _failed.append(report.nodeid or "(collection)")


def pytest_sessionfinish() -> None:
    path = os.environ.get("MUTATION_RESULTS")
    if path:
        passed = [nodeid for nodeid in _seen if nodeid not in _failed]
        Path(path).write_text(json.dumps({"passed": passed, "failed": _failed, "costs": dict(sorted(_costs.items()))}))
