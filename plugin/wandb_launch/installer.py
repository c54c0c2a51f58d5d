"""Install or upgrade the chart with checked values; the API key only ever travels on helm's stdin.

Before anything reaches the cluster: the values files are read, the chart renders them
offline (its own checks, names and launch config), and the launch config it renders is
judged by the agent's `AgentConfig`; then the keys are taken from the environment.

Never half-applied: when the cluster refuses an object (or, with --wait, the agent never
gets ready), the release goes back to where it was. With --wait that is helm's own
`--atomic` (Helm 3) or `--rollback-on-failure` (Helm 4), which imply the wait; without it,
the same steps are taken here: `helm uninstall` of a failed first install, `helm rollback`
to the revision that was deployed before a failed upgrade.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_launch.chartoutput import ChartOutput, Names
from wandb_launch.clouds import CLOUDS
from wandb_launch.clusterref import ClusterRef
from wandb_launch.errors import InputError


class HelmFailed(Exception):
    """helm install/upgrade failed on the cluster: helm's last line, and what was undone."""


@dataclass(frozen=True)
class InstallRequest:
    chart: Path
    value_files: tuple[str, ...] = ()
    api_key_env: str | None = None  # env var holding the W&B API key
    existing_secret: str | None = None  # or a secret the user manages
    existing_secret_key: str = "password"
    # install flag of a cloud's InstallSecret (e.g. --azure-storage-key-env) -> env var named by it
    secret_envs: Mapping[str, str] = field(default_factory=dict)
    wait: bool = False
    timeout: str = "5m"
    upgrade: bool = False


@dataclass(frozen=True)
class CheckedValues:
    layers: list[dict[str, Any]]  # the values files, in order
    merged: dict[str, Any]  # their merge (without the chart's defaults)
    rendered: ChartOutput  # what the chart makes of them


def _get(values: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = values
    for key in path:
        node = (node or {}).get(key) if isinstance(node, Mapping) else None
    return node


def _nested(path: Sequence[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(path):
        out = {key: out}
    return out


def _secret_from_env(var: str, flag: str) -> str:
    value = os.environ.get(var, "")
    if not value.strip():
        raise InputError(flag, f"environment variable {var} is not set or empty", f"export {var}=... first")
    return value.strip()


def checked_values(ref: ClusterRef, request: InstallRequest) -> CheckedValues:
    """The values files, merged and rendered by the chart, launch config checked by the SDK."""
    from wandb_launch import chartoutput, offlinecheck
    from wandb_launch.chartvalues import deep_merge, load_yaml_file

    layers = []
    for path in request.value_files:
        layer = load_yaml_file(path, f"--values {path}")
        if layer is not None and not isinstance(layer, dict):
            raise InputError(f"--values {path}", "is not a mapping of chart values", "write it as key: value pairs")
        layers.append(layer or {})
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    files = f" (from {', '.join(request.value_files)})" if request.value_files else ""
    values_where = f"--values {', '.join(request.value_files)}" if request.value_files else "chart values"
    try:
        rendered = chartoutput.render(
            request.chart,
            helm=ref.helm,
            release=ref.release,
            namespace=ref.namespace,
            value_files=request.value_files,
            values=None if chartoutput.names_api_key(merged) else chartoutput.with_placeholder_key({}),
        )
    except chartoutput.ChartRefused as refused:
        raise InputError(values_where, f"the chart refuses them: {refused}") from None
    problems, _ = offlinecheck.launch_config_problems(rendered.launch_config, chart=request.chart)
    if problems:
        raise InputError(
            f"launchConfig{files}",
            f"the agent would refuse it: {problems[0]}",
            "fix the values, or regenerate them with `wandb-launch values`",
        )
    return CheckedValues(layers, merged, rendered)


def secret_values(request: InstallRequest, checked: CheckedValues) -> dict[str, Any]:
    """The values that carry secrets: sent to helm on stdin only."""
    from wandb_launch.chartvalues import deep_merge

    layer: dict[str, Any] = {}
    api_key = checked.merged.get("apiKey") or {}
    if request.api_key_env and request.existing_secret:
        raise InputError("--api-key-env", "and --existing-secret both given", "give one of them")
    if request.api_key_env:
        key = _secret_from_env(request.api_key_env, "--api-key-env")
        from wandb.sdk.lib.wbauth.validation import check_api_key

        problem = check_api_key(key)
        if problem:  # the agent would refuse it at login (the chart refuses it too)
            raise InputError(
                "--api-key-env", f"{request.api_key_env} does not hold a W&B API key: {problem}", "export the key itself"
            )
        layer["apiKey"] = {"value": key, "existingSecret": ""}
    elif request.existing_secret:
        layer["apiKey"] = {
            "value": "",
            "existingSecret": request.existing_secret,
            "existingSecretKey": request.existing_secret_key,
        }
    elif not (api_key.get("value") or api_key.get("existingSecret")):
        raise InputError(
            "--api-key-env", "no API key given", "give --api-key-env WANDB_API_KEY or --existing-secret NAME"
        )
    launch = checked.rendered.launch_config
    environment = (launch.get("environment") or {}).get("type")
    kaniko = (launch.get("builder") or {}).get("type") == "kaniko"
    for cloud in CLOUDS.values():
        secret = cloud.install_secret
        if secret is None:
            continue
        var = request.secret_envs.get(secret.flag)
        if var:
            layer = deep_merge(layer, _nested(secret.value_path, _secret_from_env(var, secret.flag)))
        elif kaniko and environment == cloud.environment and not _get(checked.merged, secret.value_path):
            raise InputError(secret.flag, secret.what, f"give {secret.flag} {secret.env_example}")
    return layer


def _watch_rollout(api: Any, names: Names, progress: Any, stop: threading.Event) -> None:
    """Progress while helm waits: the agent Deployment's readiness and its pods' state."""
    from kubernetes import client

    from wandb_launch.release import agent_deployment

    namespace = names.agent_namespace
    core = client.CoreV1Api(api)
    while not stop.wait(1.0):
        try:
            d = agent_deployment(api, names)
            if d is None:
                progress.step(f"helm is applying the chart to {namespace}")
                continue
            pods = core.list_namespaced_pod(namespace, label_selector=names.release_selector).items
            states = []
            for p in pods:
                waiting = [
                    s.state.waiting.reason for s in p.status.container_statuses or [] if s.state and s.state.waiting
                ]
                states.append(
                    f"{p.metadata.name[-5:]} {p.status.phase}{' (' + ', '.join(waiting) + ')' if waiting else ''}"
                )
            progress.step(
                f"waiting for the agent: {d.status.ready_replicas or 0}/{d.spec.replicas} ready; pods: {'; '.join(states) or 'none yet'}"
            )
        except Exception:  # progress is best effort; helm's answer decides
            continue


def install(
    ref: ClusterRef, request: InstallRequest, progress: Any, warn: Callable[[str], None] = lambda _: None
) -> tuple[Any, Any, Any]:
    """Install (or upgrade) the release; returns (revision, api, helm) for a status after it.

    InputError for bad input (nothing applied), HelmFailed when helm fails on the cluster.
    `warn` gets the cluster checks' warnings (preflight.py) before helm runs.
    """
    from pyhelm3 import errors as helm_errors

    from wandb_launch import helmclient, kube
    from wandb_launch.chartvalues import deep_merge

    checked = checked_values(ref, request)
    secrets = secret_values(request, checked)
    api = kube.connect(ref)
    helm = helmclient.client(ref)
    exists = True
    try:
        helmclient.release_status(helm, ref)
    except InputError:
        exists = False
    deployed = helmclient.deployed_revision(helm, ref) if exists else None
    if exists and not request.upgrade:
        raise InputError(
            "--release",
            f"release {ref.release!r} already exists in namespace {ref.namespace}",
            "use `upgrade`, or another --release",
        )
    if request.upgrade and not exists:
        raise InputError(
            "--release", f"release {ref.release!r} not found in namespace {ref.namespace}", "use `install` first"
        )
    from wandb_launch import preflight

    for warning in preflight.check(api, checked.merged, checked.rendered.launch_config, checked.rendered.names):
        warn(warning)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_rollout, args=(api, checked.rendered.names, progress, stop), daemon=True)
    progress.step(f"helm {'upgrade' if request.upgrade else 'install'} {ref.release} ({request.chart})")
    if request.wait:
        watcher.start()
    try:
        # One layer merged the way `helm -f a -f b` merges (pyhelm3 would concatenate lists).
        # With --wait, helm's own roll-back flag (helmclient.apply_release); without, _undo.
        values = deep_merge(checked.merged, secrets)
        revision = helmclient.apply_release(
            helm, ref, request.chart, values, wait=request.wait, timeout=request.timeout
        )
    except helm_errors.Error as e:
        message = helmclient.helm_error_line(e)
        if not request.wait:
            message += "; " + _undo(helm, ref, deployed)
        raise HelmFailed(message) from None
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(timeout=10)  # no progress line after helm's answer
    return revision, api, helm


def _undo(helm: Any, ref: ClusterRef, deployed: int | None) -> str:
    """Put the release back after a failed install or upgrade (what --atomic does): the
    revision that was deployed before, or no release at all. Returns what was done."""
    from pyhelm3 import errors as helm_errors

    from wandb_launch import helmclient

    try:
        if deployed is None:
            try:
                helmclient.release_status(helm, ref)
            except InputError:
                return "nothing was applied"  # helm refused before it made a release record
            helmclient.run(helm._command.uninstall(ref.release, namespace=ref.namespace, wait=True))
            return f"uninstalled the failed release {ref.release}: nothing of it is left"
        if helmclient.deployed_revision(helm, ref) == deployed and helmclient.release_status(helm, ref).get("version") == deployed:
            return "nothing was applied"  # helm refused before it made a new revision
        helmclient.run(helm._command.rollback(ref.release, str(deployed), namespace=ref.namespace, cleanup_on_fail=True))
        return f"rolled back to revision {deployed}, which is running as before"
    except helm_errors.Error as e:
        return f"and undoing it failed too ({helmclient.helm_error_line(e)}): see `helm history {ref.release}`"
