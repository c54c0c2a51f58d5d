"""The chart and values files: where the chart is, reading a values file, Helm's merge.

What the chart computes from values (names, the launch config) is not here: it is read
from the chart's own rendering (`chartoutput`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wandb_launch.errors import InputError

# The package's own chart: a link to chart/ in a checkout, a copy of it in a wheel (package
# data), so an installed CLI installs the chart of its own version.
_PACKAGE_CHART = Path(__file__).resolve().parent / "chart"


def find_chart(explicit: str | None = None) -> Path:
    """`--chart`, else $WANDB_LAUNCH_CHART, else the package's chart, else ./chart."""
    for candidate, origin in (
        (explicit, "--chart"),
        (os.environ.get("WANDB_LAUNCH_CHART"), "WANDB_LAUNCH_CHART"),
        (str(_PACKAGE_CHART), ""),
        ("chart", ""),
    ):
        if candidate and (Path(candidate) / "Chart.yaml").is_file():
            return Path(candidate)
        if candidate and origin:
            raise InputError(
                origin, f"{candidate} is not a chart (no Chart.yaml)", "point it at the wandb-launch chart directory"
            )
    raise InputError(
        "--chart", "the wandb-launch chart was not found", "give --chart PATH (the chart/ directory of the repository)"
    )


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: mappings merge key by key, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml_file(path: str | Path, where: str) -> Any:
    import yaml

    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise InputError(where, f"cannot read {path}: {e.strerror}", "check the path") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise InputError(where, f"{path} is not valid YAML{at}", "fix the file") from None
