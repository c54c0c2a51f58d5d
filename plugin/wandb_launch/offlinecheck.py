"""Checks on the user's machine, with the SDK, before anything is applied to a cluster.

- A cloud's registry and bucket URIs, by the SDK's own regexes and `validate_registry_uri`
  (wandb/sdk/launch/utils.py, agent/config.py); which regex belongs to which cloud is in
  the cloud's record (`clouds`).
- A rendered launch config, resolved in the agent's order and judged by the agent's own
  `AgentConfig`, with the resolver the `helm test` pod uses (the chart's
  files/helm_test_check.py, through `chartfiles`).

Imports wandb: only commands that validate with the SDK use this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wandb_launch.clouds import CLOUDS, Cloud
from wandb_launch.errors import InputError


def _pattern(name: str) -> Any:
    from wandb.sdk.launch import utils

    return getattr(utils, name)


def check_destination(uri: str, cloud: Cloud, where: str) -> None:
    """The destination is a registry URI of this cloud and passes `validate_registry_uri`."""
    from wandb.sdk.launch.agent.config import validate_registry_uri

    # The SDK's registry regexes take an optional https:// themselves.
    if not _pattern(cloud.registry_regex).match(uri):
        other = [
            c.registry
            for c in CLOUDS.values()
            if c.registry_regex and c is not cloud and _pattern(c.registry_regex).match(uri)
        ]
        what = (
            f"an {other[0]} URI, not {cloud.registry}" if other else f"not an {cloud.registry} URI the SDK recognises"
        )
        raise InputError(
            where,
            f"{uri!r} is {what}",
            f"give the {cloud.registry} repository of cloud {cloud.name}",
        )
    try:
        validate_registry_uri(uri)
    except ValueError as e:
        raise InputError(
            where, f"{uri!r}: {str(e).split('. ')[0]}", "fix the URI (no tag; Artifact Registry needs an image name)"
        ) from None


def check_build_context_store(uri: str, cloud: Cloud, where: str) -> None:
    """The store is this cloud's bucket URI, in the form the SDK's regexes accept."""
    if not _pattern(cloud.store_regex).match(uri):
        other = [
            c.name for c in CLOUDS.values() if c.store_regex and c is not cloud and _pattern(c.store_regex).match(uri)
        ]
        what = f"a bucket URI of cloud {other[0]}" if other else "not a bucket URI the SDK accepts"
        raise InputError(where, f"{uri!r} is {what}", f"use {cloud.store_form} on cloud {cloud.name}")


def launch_config_problems(
    config: Mapping[str, Any], env: Mapping[str, str] | None = None, chart: Path | None = None
) -> tuple[list[str], list[str]]:
    """(problems, notes) of a launch-config.yaml: the agent's resolution order (defaults,
    the file, env, entity), then `AgentConfig`; one line per problem, naming the key."""
    from wandb_launch.chartfiles import helm_test_check

    check = helm_test_check(chart)
    resolved, notes = check.resolve_launch_config(config, env or {})
    return check.agent_config_problems(resolved), notes
