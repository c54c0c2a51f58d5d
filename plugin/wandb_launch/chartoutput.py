"""What the chart computes, read from its rendered objects: the names it gives a release's
objects (ConfigMap `<fullname>-names`) and the launch-config.yaml it writes.

Offline (before an install, `values`, `preview-job`) from `helm template`; live from the
release's manifest (`helm get manifest`). Python never recomputes either: the chart's
helpers are the one place for names, its `wandb-launch.launchConfig` for the config.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from wandb_launch.clusterref import DEFAULT_RELEASE
from wandb_launch.errors import InputError

NAMES_TEMPLATE = "templates/configmap-names.yaml"
LAUNCH_CONFIG_TEMPLATE = "templates/configmap-launch-config.yaml"
NAMES_KEY = "names.yaml"
LAUNCH_CONFIG_KEY = "launch-config.yaml"
# Rendering offline needs an API key to pass the chart's checks; it is never sent anywhere.
PLACEHOLDER_API_KEY = "offline-render-placeholder-0000000000000000000000000000"


@dataclass(frozen=True)
class Names:
    """The chart's `wandb-launch.names` map, in snake case."""

    release: str
    release_namespace: str
    fullname: str
    agent_namespace: str
    deployment: str
    service_account: str
    launch_config_map: str
    api_key_secret: str
    agent_api_key_secret: str
    agent_api_key_secret_key: str
    kaniko_credentials_secret: str
    release_selector: str  # label selector of every object of the release
    agent_selector: str  # label selector of the agent's pods
    # The MutatingAdmissionPolicy (and its binding) that makes a deleted agent Job take its
    # pods with it (stoppedRuns.deletePods), and "true" when this render includes them.
    delete_pods_policy: str
    delete_pods_policy_binding: str
    delete_pods_policy_rendered: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Names:
        snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in data.items()}
        wanted = [f.name for f in fields(cls)]
        missing = [name for name in wanted if name not in snake]
        if missing:
            raise InputError(
                "--chart", f"the chart's names lack {', '.join(missing)}", "use the chart of this wandb-launch version"
            )
        return cls(**{name: str(snake[name]) for name in wanted})


@dataclass(frozen=True)
class ChartOutput:
    names: Names
    launch_config: dict[str, Any]


class ChartRefused(Exception):
    """`helm template` refused the values: the chart's own message (one line: key and fix)."""


def _config_map_data(docs: Iterable[Mapping[str, Any]], key: str) -> str | None:
    for doc in docs:
        if doc.get("kind") == "ConfigMap" and key in (doc.get("data") or {}):
            return str(doc["data"][key])
    return None


def from_docs(docs: Sequence[Mapping[str, Any]], where: str = "--release") -> ChartOutput:
    """Names and launch config from rendered objects (a manifest or `helm template` output)."""
    import yaml

    names, config = _config_map_data(docs, NAMES_KEY), _config_map_data(docs, LAUNCH_CONFIG_KEY)
    if names is None or config is None:
        raise InputError(
            where,
            f"no ConfigMap with {NAMES_KEY if names is None else LAUNCH_CONFIG_KEY} among the rendered objects",
            "upgrade the release with this version's chart",
        )
    return ChartOutput(Names.from_mapping(yaml.safe_load(names) or {}), yaml.safe_load(config) or {})


def render(
    chart: Path,
    *,
    helm: str,
    release: str = DEFAULT_RELEASE,
    namespace: str = "default",
    value_files: Sequence[str | Path] = (),
    values: Mapping[str, Any] | None = None,
) -> ChartOutput:
    """`helm template` of the names and launch-config ConfigMaps, offline.

    `values` (laid over the files) go to helm on stdin, never to disk or argv. Raises
    ChartRefused with the chart's own message when the values fail its checks.
    """
    from wandb_launch.helmclient import require_helm

    command = [require_helm(helm), "template", release, str(chart), "--namespace", namespace]
    command += ["--show-only", NAMES_TEMPLATE, "--show-only", LAUNCH_CONFIG_TEMPLATE]
    for path in value_files:
        command += ["-f", str(path)]
    if values is not None:
        command += ["-f", "-"]
    result = subprocess.run(
        command,
        input=json.dumps(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ChartRefused(refusal(result.stderr))
    import yaml

    return from_docs([doc for doc in yaml.safe_load_all(result.stdout) if doc], where="--chart")


def release_names(chart: Path, *, helm: str, release: str, namespace: str) -> Names:
    """The names a release of the chart gets with its default values (a placeholder API key
    and queue stand in for the required values, which no name depends on)."""
    values = with_placeholder_key({"launchConfig": {"queues": ["offline-render-placeholder"]}})
    try:
        return render(chart, helm=helm, release=release, namespace=namespace, values=values).names
    except ChartRefused as refused:
        raise InputError(
            "--release", f"the chart cannot name release {release!r}: {refused}", "fix --release"
        ) from None


def refusal(stderr: str) -> str:
    """The one line of helm's error that says what is wrong: a rule of the chart
    (`wandb-launch: ...`), or the schema's complaints, or helm's last line."""
    rule = re.search(r"wandb-launch: (.*)", stderr)
    if rule:
        return rule.group(1).strip()
    complaints = [line.strip()[2:] for line in stderr.splitlines() if line.strip().startswith("- ")]
    if complaints:
        return "values schema: " + "; ".join(complaints)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else "helm template failed"


def names_api_key(values: Mapping[str, Any]) -> bool:
    """Do these values name an API key (a value or an existing secret)?"""
    api_key = values.get("apiKey") or {}
    return bool(api_key.get("value") or api_key.get("existingSecret"))


def with_placeholder_key(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` plus a placeholder API key when they name none (an offline render needs one)."""
    if names_api_key(values):
        return dict(values)
    return {**values, "apiKey": {**(values.get("apiKey") or {}), "value": PLACEHOLDER_API_KEY}}
