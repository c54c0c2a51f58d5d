"""The Job the agent submits for a queue config, assembled as the SDK's runner does.

`wandb.sdk.launch.runner.kubernetes_runner` cannot be imported with plain `wandb` (it
imports azure and kubernetes_asyncio), so this follows it step by step with the pure
helpers of `wandb.sdk.launch.utils`. Line references are to wandb 0.31.0:
- KubernetesRunner.run (l. 812-813): fill macros, then validate_kubernetes_resource_args;
  l. 840-842: a non-batch/v1 apiVersion becomes a custom object (l. 843-907).
- KubernetesRunner.get_namespace (l. 373-395): namespace resolution.
- KubernetesRunner._inject_defaults (l. 397-571): defaults, labels, generateName,
  container names, image, env (the API key as a secretKeyRef), pod labels, and
  inject_restricted_security_context.
- LaunchProject.get_env_vars_dict (_project_spec.py l. 480-526): the env var names.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# kubernetes_monitor.py l. 28-31
LABEL_RUN_ID = "wandb.ai/run-id"
LABEL_MONITOR = "wandb.ai/monitor"
LABEL_AGENT = "wandb.ai/agent"
JOB_API_VERSIONS = ("batch/v1", "batch/v1beta1")


@dataclass
class RunInputs:
    """What the agent knows about the run when it builds the Job (placeholders offline)."""

    entity: str = "my-entity"
    project: str = "my-project"
    run_id: str = "<run-id>"
    run_name: str = "<run-name>"
    image: str = "<image of the run>"
    queue: str = "<queue>"
    base_url: str = "https://api.wandb.ai"
    api_key_secret: str = "<the chart's API-key secret>"  # names.api_key_secret of the release
    agent_name: str = "<agent name>"
    context_namespace: str = "default"
    context_namespace_source: str = "in-cluster (no kube context)"
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Preview:
    job: dict[str, Any]
    namespace: str
    namespace_source: str
    custom_object: bool
    defaults_applied: list[str]
    env_names: list[str]
    api_key_ref: dict[str, str]
    forced_security_context: dict[str, Any]


def unwrap(queue_config: Mapping[str, Any]) -> dict[str, Any]:
    """A queue config as saved in W&B ({"kubernetes": {...}} or {"resource_args": ...}) or bare."""
    config = dict(queue_config)
    if "resource_args" in config and isinstance(config["resource_args"], Mapping):
        config = dict(config["resource_args"])
    if set(config) == {"kubernetes"} and isinstance(config["kubernetes"], Mapping):
        config = dict(config["kubernetes"])
    return config


def env_vars(run: RunInputs) -> dict[str, str]:
    """LaunchProject.get_env_vars_dict for a job run from a queue (no sweep, no resume)."""
    return {
        "WANDB_BASE_URL": run.base_url,
        "WANDB_API_KEY": "<from secret>",
        "WANDB_PROJECT": run.project,
        "WANDB_ENTITY": run.entity,
        "WANDB_LAUNCH": "True",
        "WANDB_RUN_ID": run.run_id,
        "WANDB_DOCKER": run.image,
        "WANDB_NAME": run.run_name,
        "WANDB_LAUNCH_QUEUE_NAME": run.queue,
        "WANDB_LAUNCH_QUEUE_ENTITY": run.entity,
        "WANDB_LAUNCH_TRACE_ID": "<run queue item id>",
        "WANDB_CONFIG": "{}",
        "WANDB_LAUNCH_FILE_OVERRIDES": "{}",
        "WANDB_ARTIFACTS": "{}",
    }


def resolve_namespace(resource_args: Mapping[str, Any], run: RunInputs) -> tuple[str, str]:
    """KubernetesRunner.get_namespace, and which rule decided."""
    for value, source in (
        ((resource_args.get("metadata") or {}).get("namespace"), "metadata.namespace of the queue config"),
        (resource_args.get("namespace"), "top-level `namespace` of the queue config"),
        ((resource_args.get("runner") or {}).get("namespace"), "runner.namespace of the queue config"),
    ):
        if value:
            return str(value), source
    return run.context_namespace, f"none in the queue config: {run.context_namespace_source}"


def assemble(queue_config: Mapping[str, Any], run: RunInputs) -> Preview:
    """The Job (or custom object) for `queue_config`; raises LaunchError as the SDK would."""
    from wandb.sdk.launch.utils import (
        K8S_RESTRICTED_SECURITY_CONTEXT,
        inject_restricted_security_context,
        make_name_dns_safe,
        recursive_macro_sub,
        validate_kubernetes_resource_args,
    )

    # LaunchProject.fill_macros: the run's macros, then the agent's environment.
    macros: dict[str, str | None] = {
        "project_name": run.project,
        "entity_name": run.entity,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "image_uri": run.image,
        "author": "<author>",
        **dict(run.env),
    }
    resource_args = recursive_macro_sub(unwrap(queue_config), macros)
    validate_kubernetes_resource_args(resource_args)
    namespace, namespace_source = resolve_namespace(resource_args, run)
    env = env_vars(run)
    api_key_ref = {"name": run.api_key_secret, "key": "password"}
    defaults: list[str] = []

    if resource_args.get("apiVersion", "batch/v1") not in JOB_API_VERSIONS:
        job = copy.deepcopy(resource_args)
        # add_wandb_env writes every value as is: the API key lands in plain text.
        _add_env(job, {**env, "WANDB_API_KEY": "<the agent's API key, in plain text>"})
        job.setdefault("metadata", {}).setdefault("labels", {})[LABEL_MONITOR] = "true"
        job["metadata"]["labels"][LABEL_AGENT] = run.agent_name
        _label_pods(job, LABEL_MONITOR, "true")
        _label_pods(job, LABEL_AGENT, run.agent_name)
        inject_restricted_security_context(job)
        notes = [
            "custom object: no Job defaults; env, labels and securityContext only",
            "WANDB_API_KEY is set as a plain value, not a secretKeyRef",
        ]
        return Preview(job, namespace, namespace_source, True, notes, list(env), {}, K8S_RESTRICTED_SECURITY_CONTEXT)

    job: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job"}
    job.update(copy.deepcopy(resource_args))
    metadata: dict[str, Any] = job.get("metadata", {})
    job_spec: dict[str, Any] = {"backoffLimit": 0, "ttlSecondsAfterFinished": 60}
    defaults += [f"spec.{k}: {v}" for k, v in job_spec.items() if k not in job.get("spec", {})]
    job_spec.update(job.get("spec", {}))
    template: dict[str, Any] = job_spec.get("template", {})
    pod_spec: dict[str, Any] = {"restartPolicy": "Never"}
    if "restartPolicy" not in template.get("spec", {}):
        defaults.append("spec.template.spec.restartPolicy: Never")
    pod_spec.update(template.get("spec", {}))
    if "containers" not in pod_spec:
        defaults.append("containers: [{}] (one container)")
    containers: list[dict[str, Any]] = pod_spec.get("containers", [{}])

    metadata.setdefault("labels", {})
    metadata["labels"][LABEL_RUN_ID] = run.run_id
    metadata["labels"][LABEL_MONITOR] = "true"
    metadata["labels"][LABEL_AGENT] = run.agent_name
    if not metadata.get("name"):
        metadata["generateName"] = make_name_dns_safe(f"launch-{run.entity}-{run.project}-")
        defaults.append(f"metadata.generateName: {metadata['generateName']}")
    metadata["namespace"] = namespace
    for i, container in enumerate(containers):
        if "name" not in container:
            container["name"] = f"launch{i}"
            defaults.append(f"containers[{i}].name: launch{i}")
    if not any("image" in c for c in containers):
        containers[0]["image"] = run.image
        defaults.append("containers[0].image: the run's image")
    for container in containers:
        container_env = container.get("env") or []
        for key, value in env.items():
            if key == "WANDB_API_KEY":
                container_env.append({"name": key, "valueFrom": {"secretKeyRef": dict(api_key_ref)}})
            else:
                container_env.append({"name": key, "value": value})
        container["env"] = container_env

    pod_spec["containers"] = containers
    template["spec"] = pod_spec
    job_spec["template"] = template
    job["spec"] = job_spec
    job["metadata"] = metadata
    _label_pods(job, LABEL_MONITOR, "true")
    _label_pods(job, LABEL_AGENT, run.agent_name)
    inject_restricted_security_context(job)
    return Preview(
        job, namespace, namespace_source, False, defaults, list(env), api_key_ref, K8S_RESTRICTED_SECURITY_CONTEXT
    )


def _pods(manifest: Any):
    """kubernetes_runner.yield_pods (l. 1203): dicts with spec.containers."""
    if isinstance(manifest, list):
        for item in manifest:
            yield from _pods(item)
    elif isinstance(manifest, dict):
        if "spec" in manifest and isinstance(manifest["spec"], dict) and "containers" in manifest["spec"]:
            yield manifest
        for value in manifest.values():
            if isinstance(value, (dict, list)):
                yield from _pods(value)


def _label_pods(manifest: Any, key: str, value: str) -> None:
    """kubernetes_runner.add_label_to_pods (l. 1221)."""
    for pod in _pods(manifest):
        pod.setdefault("metadata", {}).setdefault("labels", {})[key] = value


def _add_env(manifest: Any, env: Mapping[str, str]) -> None:
    """kubernetes_runner.add_wandb_env (l. 1177): WANDB_RUN_ID only on the first container."""
    from wandb.sdk.launch.utils import yield_containers

    remaining = dict(env)
    for container in yield_containers(manifest):
        container.setdefault("env", []).extend({"name": k, "value": v} for k, v in remaining.items())
        remaining.pop("WANDB_RUN_ID", None)


def pod_template(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod a batch/v1 Job's controller would create, for a Pod Security dry run."""
    template = (job.get("spec") or {}).get("template")
    if not isinstance(template, Mapping):
        return None
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": copy.deepcopy(dict(template.get("metadata") or {})),
        "spec": copy.deepcopy(dict(template.get("spec") or {})),
    }
    pod["metadata"]["generateName"] = "wandb-launch-preview-"
    pod["metadata"].pop("name", None)
    return pod
