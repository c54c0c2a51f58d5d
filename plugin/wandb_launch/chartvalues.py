"""The chart's values: locate the chart, merge its defaults, and derive the launch config.

`launch_config()` is the contract with `chart/templates`: the chart must render exactly
this dict into launch-config.yaml (a chart test compares the two).
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


def chart_defaults(chart: Path) -> dict[str, Any]:
    return load_yaml_file(chart / "values.yaml", "--chart") or {}


def merged_values(chart: Path, *layers: Mapping[str, Any]) -> dict[str, Any]:
    values = chart_defaults(chart)
    for layer in layers:
        values = deep_merge(values, layer)
    return values


# launchConfig.builder key -> SDK key (builder/kaniko_builder.py reads the dashed names).
BUILDER_KEYS = (
    ("type", "type"),
    ("destination", "destination"),
    ("platform", "platform"),
    ("buildContextStore", "build-context-store"),
    ("buildJobName", "build-job-name"),
    ("secretName", "secret-name"),
    ("secretKey", "secret-key"),
    ("kanikoImage", "kaniko-image"),
    ("kanikoConfig", "kaniko-config"),
)


CHART_NAME = "wandb-launch"


def fullname(values: Mapping[str, Any], release: str) -> str:
    """The chart's `wandb-launch.fullname` helper."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])[:63].rstrip("-")
    name = values.get("nameOverride") or CHART_NAME
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def launch_config(values: Mapping[str, Any], release: str = "wandb-launch") -> dict[str, Any]:
    """The agent's launch-config.yaml (SDK key spelling) from full chart values.

    Scalars with a chart default are always written; `entity`, `stopped_run_timeout`,
    `environment` and builder keys only when set; credentials from
    `kaniko.buildCredentials` name the chart's secret; `extraConfig` is merged last.
    """
    lc: Mapping[str, Any] = values.get("launchConfig") or {}
    config: dict[str, Any] = {"queues": list(lc.get("queues") or [])}
    if lc.get("entity"):
        config["entity"] = lc["entity"]
    config["max_jobs"] = lc.get("maxJobs", 1)
    config["max_schedulers"] = lc.get("maxSchedulers", 1)
    config["secure_mode"] = bool(lc.get("secureMode", False))
    config["verbosity"] = lc.get("verbosity", 0)
    if lc.get("stoppedRunTimeout") is not None:
        config["stopped_run_timeout"] = lc["stoppedRunTimeout"]
    environment = lc.get("environment") or {}
    if environment.get("type"):
        config["environment"] = {"type": environment["type"], "region": environment.get("region") or ""}
    builder_values = lc.get("builder") or {}
    builder = {sdk: builder_values[key] for key, sdk in BUILDER_KEYS if builder_values.get(key)}
    if ((values.get("kaniko") or {}).get("buildCredentials") or {}).get("value"):
        builder["secret-name"] = f"{fullname(values, release)}-kaniko-credentials"[:63].rstrip("-")
        builder["secret-key"] = "credentials"
    if builder:
        config["builder"] = builder
    return deep_merge(config, lc.get("extraConfig") or {})


def agent_namespace(values: Mapping[str, Any], release_namespace: str) -> str:
    return ((values.get("namespace") or {}).get("name")) or release_namespace
