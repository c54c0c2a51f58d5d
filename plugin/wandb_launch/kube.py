"""A connected Kubernetes API client, or one clear line saying why there is none."""

from __future__ import annotations

from typing import Any

from wandb_launch.clusterref import ClusterRef
from wandb_launch.errors import InputError


def connect(ref: ClusterRef) -> Any:
    """An `ApiClient` for --kubeconfig / --kube-context that has answered once (2 s)."""
    import urllib3
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=ref.kubeconfig, context=ref.context, client_configuration=configuration
        )
    except (ConfigException, FileNotFoundError, OSError) as e:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException:
            where = "--kube-context" if ref.context else "--kubeconfig"
            reason = (str(e).splitlines() or ["no kubeconfig"])[0]
            if ref.kubeconfig:
                reason = f"{ref.kubeconfig}: {reason}"
            raise InputError(
                where,
                f"no cluster configured ({reason})",
                "set KUBECONFIG or --kubeconfig/--kube-context, or run `wandb-launch demo`",
            ) from None
    configuration.retries = False
    # verify sends many access reviews at once; one connection each.
    configuration.connection_pool_maxsize = 32
    api = client.ApiClient(configuration)
    try:
        client.VersionApi(api).get_code(_request_timeout=2)
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise InputError(
            "--kube-context" if ref.context else "--kubeconfig",
            f"no cluster reachable at {configuration.host} ({type(e).__name__})",
            "start the cluster or pick another context",
        ) from None
    except client.ApiException as e:
        if e.status in (401, 403):
            raise InputError(
                "--kubeconfig",
                f"the cluster at {configuration.host} refused our credentials (HTTP {e.status})",
                "refresh the kubeconfig credentials",
            ) from None
        raise
    return api


def current_namespace(ref: ClusterRef) -> str:
    """The kube context's namespace, which the SDK uses when a queue config names none."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        _, context = config.list_kube_config_contexts(config_file=ref.kubeconfig)
        if ref.context:
            contexts, _ = config.list_kube_config_contexts(config_file=ref.kubeconfig)
            context = next(c for c in contexts if c["name"] == ref.context)
        return context["context"].get("namespace", "default")
    except (ConfigException, FileNotFoundError, StopIteration, OSError, TypeError):
        return "default"


def request(
    api: Any, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None
) -> tuple[int, Any, Any]:
    """One raw API call: (HTTP status, decoded JSON body, response headers). No typed models:
    verify sends thousands of these, and dry runs need the Warning headers."""
    import json

    from kubernetes.client import ApiException

    params = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    try:
        response = api.call_api(*params)
        response.read()
        status, data, headers = response.status, response.data, response.headers
    except ApiException as e:  # some client versions raise on 4xx/5xx
        status, data, headers = e.status, e.body, e.headers
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = None
    return status, decoded, headers


def list_items(api: Any, path: str, query: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """The items of a list call (GET of a collection); none when the server does not answer 200
    (a list the caller may not read is one it does without)."""
    status, listing, _ = request(api, "GET", path, query=query)
    return (listing or {}).get("items", []) if status == 200 else []
