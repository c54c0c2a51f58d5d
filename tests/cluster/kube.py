"""Helpers of the cluster tests: namespaces, clients acting as a service account, access
reviews by the server's authorizer, polling, a discovery-wide object listing, and admission
policies that make the server refuse chosen creations."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import kubernetes.client
import kubernetes.config
from kubernetes.client.rest import ApiException

T = TypeVar("T")

POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"


def unique_name(prefix: str) -> str:
    """A DNS-label-safe name no other test or run uses."""
    return f"{prefix}-{secrets.token_hex(3)}"


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 60.0, interval: float = 0.25) -> T:
    """Poll until `probe` returns something truthy; controllers act asynchronously."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def until_empty(probe: Callable[[], list[str]], what: str, timeout: float = 60.0, interval: float = 0.5) -> None:
    """Poll until `probe` finds nothing; on timeout, name what is still there."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if not found:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f} s, still present: {what}:\n  " + "\n  ".join(found))
        time.sleep(interval)


def create_namespace(api: kubernetes.client.ApiClient, name: str, pod_security: str | None = None) -> str:
    labels = {"wandb-launch-test": "true"}
    if pod_security:
        labels[POD_SECURITY_ENFORCE] = pod_security
    kubernetes.client.CoreV1Api(api).create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name, labels=labels))
    )
    return name


def delete_namespace(api: kubernetes.client.ApiClient, name: str) -> None:
    try:
        kubernetes.client.CoreV1Api(api).delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise


def service_account_token(admin: kubernetes.client.ApiClient, namespace: str, name: str) -> str:
    """A TokenRequest token of the service account (10 minutes), as the kubelet gets one."""
    return kubernetes.client.CoreV1Api(admin).create_namespaced_service_account_token(
        name, namespace,
        kubernetes.client.AuthenticationV1TokenRequest(
            spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        ),
    ).status.token


def pod_service_account(
    admin: kubernetes.client.ApiClient, namespace: str, name: str, directory: Path, token: str | None = None
) -> dict[str, str]:
    """What the kubelet gives a pod of the service account: its token (or `token`) and the
    cluster's CA in `directory` (the pod's /var/run/secrets/kubernetes.io/serviceaccount),
    and the environment naming the API server (returned)."""
    directory.mkdir(parents=True)
    (directory / "token").write_text(token if token is not None else service_account_token(admin, namespace, name))
    (directory / "ca.crt").write_bytes(Path(admin.configuration.ssl_ca_cert).read_bytes())
    server = urlparse(admin.configuration.host)
    return {"KUBERNETES_SERVICE_HOST": server.hostname or "", "KUBERNETES_SERVICE_PORT": str(server.port)}


def service_account_client(
    admin: kubernetes.client.ApiClient, namespace: str, name: str
) -> kubernetes.client.ApiClient:
    """A client authenticated by a TokenRequest token of the service account: the server
    then authorizes every call as that account, exactly as for the agent in its pod."""
    token = service_account_token(admin, namespace, name)
    source = admin.configuration
    configuration = kubernetes.client.Configuration()
    configuration.host = source.host
    configuration.ssl_ca_cert = source.ssl_ca_cert
    configuration.verify_ssl = source.verify_ssl
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return kubernetes.client.ApiClient(configuration)


def can_i(
    client: kubernetes.client.ApiClient, verb: str, group: str, resource: str, namespace: str | None,
    name: str = "",
) -> bool:
    """The server authorizer's verdict for the client's own identity (SelfSubjectAccessReview).
    `resource` may carry a subresource (`pods/log`); namespace None means cluster-wide; `name`
    asks about one object (rules with resourceNames)."""
    plural, _, subresource = resource.partition("/")
    review = kubernetes.client.AuthorizationV1Api(client).create_self_subject_access_review(
        kubernetes.client.V1SelfSubjectAccessReview(
            spec=kubernetes.client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=kubernetes.client.V1ResourceAttributes(
                    namespace=namespace or "", verb=verb, group=group, resource=plural,
                    subresource=subresource or None, name=name or None,
                )
            )
        )
    )
    return bool(review.status.allowed)


def get_json(api: kubernetes.client.ApiClient, path: str) -> Any:
    """GET a raw API path with the client's credentials (ApiException on an error status)."""
    method, url, headers, _, _ = api.param_serialize(
        "GET", path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers)
    response.read()
    if not 200 <= response.status < 300:
        raise ApiException(http_resp=response)
    return json.loads(response.data)


def listable_resources(api: kubernetes.client.ApiClient) -> Iterator[tuple[str, dict[str, Any]]]:
    """(group/version path, resource) for every listable top-level resource the server serves."""
    paths = ["/api/v1"]
    for group in get_json(api, "/apis")["groups"]:
        paths.append(f"/apis/{group['preferredVersion']['groupVersion']}")
    for path in paths:
        for resource in get_json(api, path)["resources"]:
            if "/" not in resource["name"] and "list" in resource.get("verbs", []):
                yield path, resource


def all_objects(api: kubernetes.client.ApiClient, skip: frozenset[str] = frozenset()) -> Iterator[dict[str, Any]]:
    """Every object of every listable type, in all namespaces and at cluster scope, as
    {kind, namespace, name, labels, annotations}. `skip` names resources (`events`) to leave out."""
    for path, resource in listable_resources(api):
        if resource["name"] in skip:
            continue
        try:
            listing = get_json(api, f"{path}/{resource['name']}")
        except ApiException as error:
            if error.status in (404, 405):
                continue
            raise
        for item in listing.get("items", []):
            meta = item.get("metadata", {})
            yield {
                "kind": resource["kind"],
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "labels": meta.get("labels") or {},
                "annotations": meta.get("annotations") or {},
            }


def events_for(api: kubernetes.client.ApiClient, namespace: str, kind: str | None = None) -> list[str]:
    """`reason: message` of the namespace's events, optionally only about objects of one kind."""
    events = kubernetes.client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [
        f"{event.reason}: {event.message}"
        for event in events
        if kind is None or event.involved_object.kind == kind
    ]


@contextlib.contextmanager
def refused_creations(
    api: kubernetes.client.ApiClient,
    resource: tuple[str, str, str],
    match_resources: dict[str, Any],
    message: str,
    probe: Callable[[], None],
    operation: str = "CREATE",
) -> Iterator[None]:
    """While inside: the API server refuses every `operation` (CREATE, DELETE ...) of
    `resource` (group, version, plural) matched by `match_resources` (a
    ValidatingAdmissionPolicy, enforced by the server itself) with `message`. `probe` makes a
    dry-run request the policy must refuse: the server picks policies up (and drops them)
    within a few seconds, so this waits until it does (and did)."""
    group, version, plural = resource
    name = unique_name("refuse")
    admission = kubernetes.client.AdmissionregistrationV1Api(api)
    admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [
                {"apiGroups": [group], "apiVersions": [version], "operations": [operation], "resources": [plural]},
            ]},
            "validations": [{"expression": "false", "message": message}],
        },
    })  # fmt: skip
    admission.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": match_resources},
    })

    def refused() -> bool:
        try:
            probe()
        except ApiException as error:
            return message in (error.body or "")
        return False

    try:
        eventually(refused, f"the admission policy to refuse {plural} ({message})")
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
        # ... and drops a deleted one a moment later: the refusal ends with the block.
        eventually(lambda: not refused(), f"the admission policy to stop refusing {plural} ({message})")
