"""Files the chart ships that the plugin reads too, from the chart itself (one copy each).

- `files/helm_test_check.py`: the checks of a live install. The `helm test` pod runs the
  file; `verify` imports it from here and calls the same functions.
- `files/agent-rbac.yaml`: the agent's API calls. The chart's Roles render it; the checks
  ask the API server about each verb.

Why load them from the chart directory rather than map them into the package: they are
chart content first (the test pod's ConfigMap carries them), the chart is found in one
place (`chartvalues.find_chart`, which a packaged install points at its bundled chart),
and the chart directory stays a plain chart (no `__init__.py`, no second copy in a wheel).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from wandb_launch.chartvalues import find_chart

HELM_TEST_CHECK = "files/helm_test_check.py"
AGENT_RBAC = "files/agent-rbac.yaml"
# sys.modules name of the loaded file (not a submodule of wandb_launch: it lives in the chart).
_MODULE_NAME = "wandb_launch_chart_helm_test_check"


@cache
def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses and NamedTuples look their module up.
    sys.modules[_MODULE_NAME] = module
    # No __pycache__ inside the chart (`helm package` would ship it).
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def helm_test_check(chart: Path | None = None) -> ModuleType:
    """The chart's files/helm_test_check.py as a module (loaded once per path)."""
    return _load((find_chart(str(chart) if chart else None) / HELM_TEST_CHECK).resolve())


def agent_needs(chart: Path | None = None) -> Any:
    """The agent's RBAC needs from the chart's files/agent-rbac.yaml: an `AgentNeeds` with
    `target_namespace`, `agent_namespace` and `additional_services`, each a tuple of
    `Need(group, resource, verbs)`."""
    chart_dir = find_chart(str(chart) if chart else None)
    return helm_test_check(chart_dir).load_agent_needs(str(chart_dir / AGENT_RBAC))
