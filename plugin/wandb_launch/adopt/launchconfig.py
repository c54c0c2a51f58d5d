"""An agent's launch-config.yaml (the SDK's own spelling) as this chart's structured
`launchConfig` values, key by key; nothing is dropped without a reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wandb_launch.adopt.model import MAPPED, REFUSED, Adoption
from wandb_launch.errors import InputError

# launch-config.yaml key -> launchConfig key (scalars and lists carried as they are).
TOP_LEVEL = {
    "queues": "queues",
    "entity": "entity",
    "max_jobs": "maxJobs",
    "max_schedulers": "maxSchedulers",
    "secure_mode": "secureMode",
    "verbosity": "verbosity",
    "stopped_run_timeout": "stoppedRunTimeout",
}
BUILDER = {
    "type": "type",
    "destination": "destination",
    "platform": "platform",
    "build-context-store": "buildContextStore",
    "build-job-name": "buildJobName",
    "secret-name": "secretName",
    "secret-key": "secretKey",
    "kaniko-image": "kanikoImage",
    "kaniko-config": "kanikoConfig",
}
# The registry block's parts of an Artifact Registry repository (SDK: registry/google_artifact_registry.py).
GAR_PARTS = ("region", "project", "repository", "image-name")


def to_values(config: Any, adoption: Adoption, *, where: str, prefix: str) -> tuple[dict[str, Any], str | None]:
    """(our `launchConfig` values, the config's `base_url` if it had one). Each key's fate
    goes to `adoption.outcome`, named `<prefix><key>`; `where` names the config in errors."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise InputError(where, "is not a YAML mapping of launch-config keys", "fix the agent's launch config first")
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    base_url = None
    for key, value in config.items():
        name = f"{prefix}{key}"
        if key in TOP_LEVEL:
            if key == "queues" and not (isinstance(value, list) and all(isinstance(q, str) for q in value)):
                raise InputError(
                    where, f"queues is {value!r}, not a list of queue names", "fix the agent's launch config first"
                )
            if value is not None:
                out[TOP_LEVEL[key]] = value
            adoption.outcome(name, MAPPED, f"launchConfig.{TOP_LEVEL[key]}")
        elif key == "queue":
            # The SDK appends a singular `queue` (a string) to `queues`.
            if not isinstance(value, str):
                raise InputError(where, f"queue is {value!r}; the SDK wants one name there", "list queues under queues")
            adoption.outcome(
                name,
                MAPPED,
                "launchConfig.queues",
                "appended to queues, as the SDK does before AgentConfig refuses the key itself (that agent could not start)",
            )
        elif key == "environment":
            _environment(value, out, extra, adoption, name, where)
        elif key == "builder":
            _builder(value, out, extra, adoption, name, where)
        elif key == "registry":
            pass  # after the builder: it may fill builder.destination
        elif key == "base_url":
            base_url = value
            adoption.outcome(
                name,
                MAPPED,
                "baseUrl",
                "the SDK refuses base_url in launch-config.yaml (AgentConfig forbids unknown keys: that agent "
                "could not start); the base URL is WANDB_BASE_URL, which baseUrl sets",
            )
        else:
            adoption.outcome(
                name,
                REFUSED,
                "",
                "not a key of the SDK's AgentConfig, which forbids unknown keys (the old agent would not start with it)",
            )
    if isinstance(config.get("queue"), str):
        queues = list(out.get("queues") or [])
        out["queues"] = queues if config["queue"] in queues else [*queues, config["queue"]]
    if "registry" in config:
        _registry(config["registry"], config.get("environment") or {}, out, adoption, f"{prefix}registry")
    if extra:
        out["extraConfig"] = extra
    return out, base_url


def _environment(
    value: Any, out: dict[str, Any], extra: dict[str, Any], adoption: Adoption, name: str, where: str
) -> None:
    if not value:
        adoption.outcome(name, MAPPED, "launchConfig.environment", "empty: no cloud environment")
        return
    if not isinstance(value, Mapping):
        raise InputError(where, f"environment is {value!r}, not a mapping", "fix the agent's launch config first")
    env = {k: value[k] for k in ("type", "region") if value.get(k) is not None}
    if env:
        out["environment"] = env
    others = {k: v for k, v in value.items() if k not in ("type", "region")}
    adoption.outcome(name, MAPPED, "launchConfig.environment")
    if others:
        extra["environment"] = others
        adoption.outcome(
            f"{name}.{'/'.join(others)}",
            MAPPED,
            "launchConfig.extraConfig.environment",
            "kept as written; the SDK warns it does not know them",
        )


def _builder(value: Any, out: dict[str, Any], extra: dict[str, Any], adoption: Adoption, name: str, where: str) -> None:
    if not value:
        adoption.outcome(name, MAPPED, "launchConfig.builder", "empty: the SDK's default builder")
        return
    if not isinstance(value, Mapping):
        raise InputError(where, f"builder is {value!r}, not a mapping", "fix the agent's launch config first")
    builder: dict[str, Any] = {}
    for key, item in value.items():
        if key == "type" and item == "docker":
            raise InputError(
                where,
                "builder.type is docker, which needs a Docker daemon no pod has (the old agent could not build)",
                "use kaniko (build in the cluster) or noop (prebuilt images): give it with -f FILE",
            )
        if key in BUILDER:
            if item is not None:
                builder[BUILDER[key]] = item
            adoption.outcome(f"{name}.{key}", MAPPED, f"launchConfig.builder.{BUILDER[key]}")
        else:
            extra.setdefault("builder", {})[key] = item
            adoption.outcome(f"{name}.{key}", MAPPED, f"launchConfig.extraConfig.builder.{key}", "kept as written")
    if builder:
        out["builder"] = builder


def _registry(value: Any, environment: Any, out: dict[str, Any], adoption: Adoption, name: str) -> None:
    """The deprecated registry block: its repository becomes builder.destination."""
    if not value:
        adoption.outcome(name, MAPPED, "", "empty: nothing to carry")
        return
    builder = out.setdefault("builder", {})
    uri = value.get("uri") if isinstance(value, Mapping) else None
    note = (
        "deprecated by the SDK; with builder.destination the runner makes no image-pull secret per run, "
        "so nodes pull run images with their own cloud identity"
    )
    if builder.get("destination"):
        adoption.outcome(name, REFUSED, "", "builder.destination is set and wins; the registry block is deprecated")
        return
    if not uri and isinstance(value, Mapping) and value.get("type") == "gcr":
        parts = {
            "region": value.get("region") or (environment or {}).get("region"),
            "project": value.get("project"),
            "repository": value.get("repository"),
            "image-name": value.get("image-name"),
        }
        if all(parts.values()):
            uri = f"{parts['region']}-docker.pkg.dev/{parts['project']}/{parts['repository']}/{parts['image-name']}"
        else:
            missing = ", ".join(k for k, v in parts.items() if not v)
            spelled = " (the SDK spells it image-name)" if "image_name" in value else ""
            adoption.outcome(
                name,
                REFUSED,
                "launchConfig.builder.destination",
                f"names no whole repository: {missing} missing{spelled}; give launchConfig.builder.destination with -f FILE",
            )
            return
    if not uri:
        adoption.outcome(
            name,
            REFUSED,
            "launchConfig.builder.destination",
            "has no uri; give launchConfig.builder.destination with -f FILE",
        )
        return
    builder["destination"] = uri
    adoption.outcome(name, MAPPED, "launchConfig.builder.destination", note)
