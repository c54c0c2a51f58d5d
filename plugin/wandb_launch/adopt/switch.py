"""Replace the old agent with ours, so the queues are never without an agent, and have two
only for a few seconds.

The order (make before break):
1. copy the secrets the old agent owns and our values refer to (API key, git credentials,
   secret env), so the old agent's removal cannot take them away;
2. install our release, and wait until our agent's Deployment is Available and its pod has
   stayed ready without a restart for `settle` seconds (a bad key or image crashes it
   within seconds);
3. delete the old agent's Deployment and wait until its pods are gone: from our Available
   to here both agents poll the queues;
4. remove the rest of the old agent (uninstall its release, or delete the objects listed),
   remake any secret whose name the SDK fixes, and check that nothing of it is left.
If step 2 fails, our release and the copies are removed again and the old agent was never
touched: its queues had an agent all along.

Why not break before make: during the gap the queues have no agent, and if our agent then
fails to start (an image it cannot pull, a key it cannot use) the gap lasts until someone
notices. Two agents on one queue is a state W&B supports (each item is popped once, by one
agent); what it costs is at most twice `max_jobs` runs at once, and an item the old agent
pops in its last seconds and has not acknowledged goes back to the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_launch import kube
from wandb_launch.adopt.model import KNOWN_KINDS, Adoption, ObjectRef, SecretCopy
from wandb_launch.chartoutput import Names
from wandb_launch.clusterref import ClusterRef
from wandb_launch.errors import InputError

# Labels and annotation on the secrets adopt makes: yours to manage, as any existing secret.
COPY_LABELS = {"app.kubernetes.io/created-by": "wandb-launch-adopt"}
COPIED_FROM = "wandb-launch/adopted-from"
# Delete in this order: bindings before the roles they bind, the launch config last.
REMOVAL_ORDER = ("RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole", "PodDisruptionBudget", "ConfigMap")


class AdoptFailed(Exception):
    """The switch stopped: one line saying where, what is running now, and what to do."""


@dataclass
class Outcome:
    copied: list[str] = field(default_factory=list)
    revision: int = 0
    available_seconds: float = 0.0  # from our install to our agent Available
    settle_seconds: float = 0.0
    overlap_seconds: float = 0.0  # from our agent Available to the old agent's pods gone
    removed: list[str] = field(default_factory=list)
    remade: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


def _request(
    api: Any, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)
) -> tuple[int, Any]:
    status, answer, _ = kube.request(api, method, path, body)
    if status not in ok:
        message = (answer or {}).get("message", "") if isinstance(answer, dict) else ""
        raise AdoptFailed(f"{method} {path}: HTTP {status} {message}".strip())
    return status, answer


def read_copies(api: Any, copies: list[SecretCopy]) -> dict[ObjectRef, dict[str, Any]]:
    """The data of every secret to copy, read now (before anything is removed); in memory only."""
    held: dict[ObjectRef, dict[str, Any]] = {}
    for copy in copies:
        _, secret = _request(api, "GET", copy.source.path)
        data = secret.get("data") or {}
        missing = [src for src, _ in copy.keys if src not in data]
        if missing:
            raise InputError(str(copy.source), f"has no key {', '.join(missing)}", "fix the old agent's secret first")
        held[copy.target] = {
            "type": secret.get("type", "Opaque") if copy.after_removal else "Opaque",
            "data": {dst: data[src] for src, dst in copy.keys},
            "from": str(copy.source),
        }
    return held


def preflight(api: Any, adoption: Adoption, held: dict[ObjectRef, dict[str, Any]], targets: list[str]) -> None:
    """Refuse before any change: missing target namespaces, copies that would overwrite another secret."""
    for ns in targets:
        status, _, _ = kube.request(api, "GET", f"/api/v1/namespaces/{ns}")
        if status == 404:
            raise InputError(
                "targetNamespaces", f"namespace {ns} does not exist", "create it, or leave it out with -f FILE"
            )
    for copy in adoption.copies:
        if copy.after_removal:
            continue
        status, existing, _ = kube.request(api, "GET", copy.target.path)
        if status == 200 and (existing.get("data") or {}) != held[copy.target]["data"]:
            raise InputError(
                str(copy.target),
                "exists with other data",
                "delete it, or adopt into another --release (copies are named after it)",
            )


def _make_secret(api: Any, ref: ObjectRef, held: dict[str, Any]) -> bool:
    """Create the secret; False when an identical one is already there."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ref.name,
            "namespace": ref.namespace,
            "labels": dict(COPY_LABELS),
            "annotations": {COPIED_FROM: held["from"]},
        },
        "type": held["type"],
        "data": held["data"],
    }
    status, _, _ = kube.request(api, "POST", f"/api/v1/namespaces/{ref.namespace}/secrets", body)
    if status == 409:
        return False
    if status != 201:
        raise AdoptFailed(f"cannot create secret {ref.namespace}/{ref.name} (HTTP {status})")
    return True


def deployment_available(api: Any, namespace: str, name: str) -> tuple[bool, str]:
    """(Available, a few words on why not) of a Deployment, as its controller reports it."""
    status, d, _ = kube.request(api, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    if status != 200:
        return False, "no Deployment yet"
    st = d.get("status") or {}
    if st.get("observedGeneration", 0) < d["metadata"].get("generation", 1):
        return False, "the Deployment controller has not seen it yet"
    available = {c["type"]: c for c in st.get("conditions") or []}.get("Available") or {}
    ready = f"{st.get('availableReplicas', 0)}/{d['spec'].get('replicas', 1)} available"
    if available.get("status") == "True" and st.get("updatedReplicas", 0) >= d["spec"].get("replicas", 1):
        return True, ready
    return False, ready + (f" ({available.get('reason')})" if available.get("reason") else "")


def _pods(api: Any, namespace: str, selector: str) -> list[dict[str, Any]]:
    return kube.list_items(api, f"/api/v1/namespaces/{namespace}/pods", query=[("labelSelector", selector)])


def _restarts(pods: list[dict[str, Any]]) -> dict[str, int]:
    return {
        p["metadata"]["name"]: sum(
            s.get("restartCount", 0) for s in (p.get("status") or {}).get("containerStatuses") or []
        )
        for p in pods
    }


def wait_available(
    api: Any, names: Names, timeout: float, settle: float, step: Callable[[str], None]
) -> tuple[float, float]:
    """Wait until our agent is Available, then `settle` seconds in which its pod stays ready
    without a restart. Returns (seconds to Available, seconds settled)."""
    start = time.monotonic()
    while True:
        ok, why = deployment_available(api, names.agent_namespace, names.deployment)
        if ok:
            break
        if time.monotonic() - start > timeout:
            pods = _pods(api, names.agent_namespace, names.agent_selector)
            waiting = [f"{p['metadata']['name']} {(p.get('status') or {}).get('phase', '?')}" for p in pods]
            raise AdoptFailed(
                f"our agent {names.agent_namespace}/{names.deployment} was not Available after {timeout:.0f} s: {why}; pods: {', '.join(waiting) or 'none'}"
            )
        step(f"waiting for our agent to be Available: {why}")
        time.sleep(1.0)
    available = time.monotonic() - start
    baseline = _restarts(_pods(api, names.agent_namespace, names.agent_selector))
    settled_from = time.monotonic()
    while time.monotonic() - settled_from < settle:
        step(f"our agent is Available; watching it for {settle:.0f} s (a bad key or image crashes it early)")
        time.sleep(min(1.0, settle))
        ok, why = deployment_available(api, names.agent_namespace, names.deployment)
        now = _restarts(_pods(api, names.agent_namespace, names.agent_selector))
        restarted = [p for p, n in now.items() if n > baseline.get(p, 0)]
        if not ok or restarted:
            raise AdoptFailed(
                f"our agent {names.agent_namespace}/{names.deployment} "
                + (f"restarted ({', '.join(restarted)})" if restarted else f"stopped being Available ({why})")
                + f" within {settle:.0f} s"
            )
    return available, time.monotonic() - settled_from


def stop_old_agent(api: Any, adoption: Adoption, timeout: float, step: Callable[[str], None]) -> None:
    """Delete the old agent's Deployment and wait until its pods are gone."""
    ref = adoption.deployment
    status, d, _ = kube.request(api, "GET", ref.path)
    if status == 404:
        return
    selector = ",".join(f"{k}={v}" for k, v in ((d["spec"].get("selector") or {}).get("matchLabels") or {}).items())
    _request(api, "DELETE", ref.path, {"propagationPolicy": "Background"}, ok=(200, 202, 404))
    start = time.monotonic()
    while True:
        pods = _pods(api, ref.namespace, selector) if selector else []
        gone = kube.request(api, "GET", ref.path)[0] == 404
        if gone and not pods:
            return
        if time.monotonic() - start > timeout:
            raise AdoptFailed(
                f"the old agent's pods are still there after {timeout:.0f} s: {', '.join(p['metadata']['name'] for p in pods)}"
            )
        step(f"stopping the old agent: {len(pods)} pod(s) left")
        time.sleep(0.5)


def remove_old(api: Any, ref: ClusterRef, adoption: Adoption, timeout: str) -> list[str]:
    """Uninstall the old release, or delete the old objects marked for removal."""
    removed = [str(adoption.deployment)]
    if adoption.old_release:
        from wandb_launch import helmclient

        namespace, name = adoption.old_release
        old = ClusterRef(
            kubeconfig=ref.kubeconfig, context=ref.context, namespace=namespace, release=name, helm=ref.helm
        )
        helm = helmclient.client(old)
        from pyhelm3 import errors as helm_errors

        try:
            helmclient.run(helm._command.uninstall(name, namespace=namespace, wait=True, timeout=timeout))
        except helm_errors.Error as e:
            raise AdoptFailed(f"helm uninstall {name} -n {namespace} failed: {helmclient.helm_error_line(e)}") from None
        removed.append(f"release {namespace}/{name} (helm uninstall)")
        removed += [str(o.ref) for o in adoption.old_objects if o.remove and o.ref != adoption.deployment]
        return removed
    rank = {kind: i for i, kind in enumerate(REMOVAL_ORDER)}
    doomed = sorted(
        (o for o in adoption.old_objects if o.remove and o.ref != adoption.deployment),
        key=lambda o: rank.get(o.ref.kind, 99),
    )
    for obj in doomed:
        _request(api, "DELETE", obj.ref.path, ok=(200, 202, 404))
        removed.append(str(obj.ref))
    return removed


def leftovers(api: Any, ref: ClusterRef, adoption: Adoption, grace: float = 30.0) -> list[str]:
    """Old objects marked for removal that are still there (after `grace` seconds for the
    garbage collector), and the old release if helm still lists it. A secret made again
    under its fixed name is the user's now, not a leftover."""
    remade = {c.target for c in adoption.copies if c.after_removal}
    deadline = time.monotonic() + grace
    while True:
        left = [
            str(o.ref)
            for o in adoption.old_objects
            if o.remove
            and o.ref not in remade
            and o.ref.kind in KNOWN_KINDS
            and kube.request(api, "GET", o.ref.path)[0] == 200
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if adoption.old_release:
        from wandb_launch import helmclient

        namespace, name = adoption.old_release
        old = ClusterRef(
            kubeconfig=ref.kubeconfig, context=ref.context, namespace=namespace, release=name, helm=ref.helm
        )
        try:
            helmclient.release_status(helmclient.client(old), old)
            left.append(f"release {namespace}/{name}")
        except InputError:
            pass
    return left


def install(ref: ClusterRef, chart: Path, values: dict[str, Any], timeout: str) -> int:
    """helm install of our release (no --wait: adopt watches the Deployment itself)."""
    from pyhelm3 import errors as helm_errors

    from wandb_launch import helmclient

    helm = helmclient.client(ref)
    try:
        revision = helmclient.apply_release(helm, ref, chart, values, wait=False, timeout=timeout)
    except helm_errors.Error as e:
        raise AdoptFailed(f"helm install {ref.release} failed: {helmclient.helm_error_line(e)}") from None
    return int(revision.revision)


def roll_back(api: Any, ref: ClusterRef, made: list[ObjectRef], timeout: str) -> list[str]:
    """Our release and the copies go again; the old agent was not touched. Returns what of
    ours is still there (empty: nothing)."""
    from pyhelm3 import errors as helm_errors

    from wandb_launch import helmclient

    helm = helmclient.client(ref)
    left: list[str] = []
    try:
        helmclient.run(helm._command.uninstall(ref.release, namespace=ref.namespace, wait=True, timeout=timeout))
    except helm_errors.Error as e:  # nothing installed, or the uninstall failed: which one, helm status says
        try:
            helmclient.release_status(helm, ref)
            left.append(f"release {ref.release} (helm uninstall: {helmclient.helm_error_line(e)})")
        except InputError:
            pass
    for secret in made:
        status, _, _ = kube.request(api, "DELETE", secret.path)
        if status not in (200, 202, 404):
            left.append(f"{secret} (HTTP {status})")
    return left


def run(
    api: Any,
    ref: ClusterRef,
    adoption: Adoption,
    *,
    chart: Path,
    values: dict[str, Any],
    names: Names,
    timeout: float,
    settle: float,
    step: Callable[[str], None],
) -> Outcome:
    """The whole switch. InputError before any change; AdoptFailed once something was changed
    (its message says what runs now)."""
    outcome = Outcome()
    helm_timeout = f"{int(timeout)}s"
    held = read_copies(api, adoption.copies)
    preflight(api, adoption, held, list(values.get("targetNamespaces") or []))
    status, _, _ = kube.request(api, "GET", adoption.deployment.path)
    if status == 404:
        raise InputError(str(adoption.deployment), "is gone already", "run adopt again to see what is left")
    made: list[ObjectRef] = []
    try:
        for copy in adoption.copies:
            if copy.after_removal:
                continue
            step(f"copying {copy.source} into {copy.target}")
            if _make_secret(api, copy.target, held[copy.target]):
                made.append(copy.target)
            outcome.copied.append(f"{copy.source} -> {copy.target}")
        step(f"helm install {ref.release} in {ref.namespace}")
        installing = time.monotonic()
        outcome.revision = install(ref, chart, values, helm_timeout)
        helm_seconds = time.monotonic() - installing
        waited, outcome.settle_seconds = wait_available(api, names, timeout, settle, step)
        outcome.available_seconds = helm_seconds + waited
    except (AdoptFailed, KeyboardInterrupt) as e:
        step("rolling back: uninstalling our release and the copied secrets")
        left = roll_back(api, ref, made, helm_timeout)
        reason = str(e) if isinstance(e, AdoptFailed) else "interrupted"
        undone = (
            f"rolling back left {', '.join(left)}: remove by hand (the release: helm uninstall {ref.release} -n {ref.namespace})"
            if left
            else "rolled back: our release and copies removed"
        )
        raise AdoptFailed(f"{reason}; {undone}, the old agent {adoption.deployment} untouched") from None
    available_at = time.monotonic() - outcome.settle_seconds
    step(f"stopping the old agent {adoption.deployment}")
    stop_old_agent(api, adoption, timeout, step)
    outcome.overlap_seconds = time.monotonic() - available_at
    step(f"removing the rest of the old agent ({adoption.source})")
    outcome.removed = remove_old(api, ref, adoption, helm_timeout)
    for copy in adoption.copies:
        if copy.after_removal:
            _make_secret(api, copy.target, held[copy.target])
            outcome.remade.append(str(copy.target))
    outcome.leftovers = leftovers(api, ref, adoption)
    return outcome
