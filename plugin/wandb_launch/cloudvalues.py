"""Per-cloud chart values from a few inputs (flags or a small spec file), by the cloud's record.

Pure data work: no SDK, no cluster. `values_cmd` adds the SDK's checks and writes the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wandb_launch.clouds import CLOUDS, COMMON_FIELDS, DEFAULT_AGENT_NAMESPACE, DEFAULT_PREFIX, Cloud, Field, all_fields
from wandb_launch.clusterref import DEFAULT_RELEASE
from wandb_launch.errors import InputError

ALL_FIELDS: dict[str, Field] = all_fields()


@dataclass
class Source:
    """Where the inputs came from, to name them in errors: flags or a spec file."""

    spec_path: str = ""
    from_flags: set[str] = field(default_factory=set)

    def name(self, fld: Field) -> str:
        if fld.key in self.from_flags or not self.spec_path:
            return fld.option
        return f"{self.spec_path}: key '{fld.key}'"


@dataclass
class Resolved:
    """The chart values for one cloud, and the comments that explain them."""

    cloud: str
    values: dict[str, Any]
    comments: dict[str, str]


def normalise(cloud: Cloud, raw: Mapping[str, Any], source: Source) -> dict[str, Any]:
    """Check every input's format; return {key: value or [values]}. Unknown keys are errors."""
    allowed = {f.key: f for f in cloud.all_fields + COMMON_FIELDS}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ALL_FIELDS:
            where = f"--{key}" if not source.spec_path else f"{source.spec_path}: key '{key}'"
            known = ", ".join(sorted(ALL_FIELDS))
            raise InputError(where, "unknown input", f"use one of: cloud, {known}")
        # Same key, other format per cloud (region): check with this cloud's field.
        fld = allowed.get(key, ALL_FIELDS[key])
        if key not in allowed:
            raise InputError(
                source.name(fld), f"is not used for cloud {cloud.name}", "remove it or pick the cloud it belongs to"
            )
        if value is None or value == "" or value == []:
            continue
        try:
            if fld.many:
                items = value if isinstance(value, list) else [value]
                out[key] = [fld.check(str(v)) for v in items]
            else:
                if isinstance(value, (list, dict)):
                    raise ValueError("expects a single value, not a list or mapping")
                out[key] = fld.check(str(value)) if fld.check is not str else str(value).strip()
        except ValueError as e:
            raise InputError(
                source.name(fld), str(e), f"fix {fld.option}" if source.name(fld) == fld.option else "fix the spec"
            ) from None
    return out


def _require(cloud: Cloud, given: Mapping[str, Any], source: Source, *keys: str, unless: str = "") -> None:
    for key in keys:
        if key not in given and not (unless and unless in given):
            fld = cloud.field(key)
            alt = f" (or --{unless} with the full URI)" if unless else ""
            raise InputError(
                source.name(fld), f"is required for cloud {cloud.name}", f"give {fld.option} <{fld.help}>{alt}"
            )


def _cloud_uris(cloud: Cloud, given: Mapping[str, Any], source: Source) -> tuple[str, str]:
    """Registry destination and build-context store: from their parts or given whole."""
    assert cloud.destination is not None and cloud.store is not None
    _require(cloud, given, source, *cloud.destination_inputs, unless="destination")
    _require(cloud, given, source, *cloud.store_inputs, unless="build-context-store")
    destination = given.get("destination") or cloud.destination(given)
    store = given.get("build-context-store") or cloud.store(given, given.get("prefix", DEFAULT_PREFIX))
    return destination, store


def resolve(cloud_name: str, raw: Mapping[str, Any], source: Source) -> Resolved:
    """Chart values (the `chart/values.yaml` contract) for one cloud."""
    if cloud_name not in CLOUDS:
        where = "--cloud" if not source.spec_path else f"{source.spec_path}: key 'cloud'"
        raise InputError(where, f"unknown cloud {cloud_name!r}", f"use one of: {', '.join(CLOUDS)}")
    cloud = CLOUDS[cloud_name]
    given = normalise(cloud, raw, source)
    if "queues" not in given:
        raise InputError(source.name(ALL_FIELDS["queues"]), "at least one queue is required", "give --queue <name>")
    values: dict[str, Any] = {
        "namespace": {"create": True, "name": given.get("agent-namespace", DEFAULT_AGENT_NAMESPACE)}
    }
    comments = {"namespace": "The agent's namespace, created with the release and labelled for Pod Security."}
    if cloud.namespace_note:
        comments["namespace"] += "\n" + cloud.namespace_note
    launch: dict[str, Any] = {"queues": given["queues"]}
    if "entity" in given:
        launch["entity"] = given["entity"]
    launch["maxJobs"] = int(given.get("max-jobs", "1"))
    if not cloud.builds_images:
        launch["builder"] = {"type": "noop"}
        for unused in ("kaniko-image", "prefix"):
            if unused in given:
                raise InputError(
                    source.name(ALL_FIELDS[unused]),
                    f"is not used with the noop builder of cloud {cloud.name}",
                    "remove it",
                )
    else:
        _require(cloud, given, source, "region")
        _require(cloud, given, source, cloud.identity_input)
        destination, store = _cloud_uris(cloud, given, source)
        values["serviceAccount"] = {"annotations": {cloud.identity_annotation: given[cloud.identity_input]}}
        comments["serviceAccount"] = cloud.identity_note
        if cloud.pod_labels:
            values["podLabels"] = dict(cloud.pod_labels)
            comments["podLabels"] = cloud.pod_labels_note
        launch["environment"] = {"type": cloud.environment, "region": given["region"]}
        launch["builder"] = {"type": "kaniko", "destination": destination, "buildContextStore": store}
        if "kaniko-image" in given:
            launch["builder"]["kanikoImage"] = given["kaniko-image"]
    values["targetNamespaces"] = given.get("target-namespaces", ["default"])
    comments["targetNamespaces"] = (
        "Namespaces runs launch into; each must exist and gets the agent's Role and the API-key secret.\n"
        "Add yours (kubectl create namespace NAME first); a queue config without a namespace lands in default."
    )
    if "base-url" in given:
        values["baseUrl"] = given["base-url"]
        comments["baseUrl"] = "The W&B server the agent talks to."
    values["launchConfig"] = launch
    comments["launchConfig"] = "The agent's launch-config.yaml; the chart renders it in the SDK's key spelling."
    return Resolved(cloud_name, values, comments)


def _dump(data: Any) -> str:
    """Block YAML with sequences indented under their key (yamllint's default style)."""
    import yaml

    class IndentedDumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    return yaml.dump(data, Dumper=IndentedDumper, sort_keys=False, default_flow_style=False)


def render(resolved: Resolved, generated_from: str) -> str:
    """The values file: a header, then each top-level key under its comment."""

    def comment(text: str) -> str:
        return "".join(f"# {line}\n" for line in text.splitlines())

    cloud = CLOUDS[resolved.cloud]
    secret = cloud.install_secret
    install = f"helm launch install -f values/{cloud.name}.yaml --api-key-env WANDB_API_KEY" + (
        f" {secret.flag} {secret.env_example}" if secret else ""
    )
    plain = f"helm install {DEFAULT_RELEASE} ./chart -f values/{cloud.name}.yaml --set apiKey.value=$WANDB_API_KEY" + (
        f" {secret.set_flag}" if secret else ""
    )
    parts = [
        comment(cloud.header),
        comment(
            f"Generated by `wandb-launch values` from {generated_from}: edit that, not this file."
            if generated_from
            else "Generated by `wandb-launch values` from flags."
        ),
        comment(f"Install: {install}\n     or: {plain}"),
    ]
    for key, value in resolved.values.items():
        parts.append("\n" + comment(resolved.comments[key]))
        parts.append(_dump({key: value}))
    return "".join(parts)
