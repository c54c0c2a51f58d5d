"""The API server's own record of requests (its audit log), kept for service accounts.

The control plane can start kube-apiserver with an audit policy that logs, at Metadata level
(who, verb, resource, namespace, name, response code; no bodies), every request made by a
service account outside kube-system. The controllers' accounts (kube-system) are left out,
so what remains is what workloads such as the launch agent did. Nothing is proxied: the
server writes the record as it answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

POLICY_YAML = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
"""


def write_policy(path: Path) -> Path:
    path.write_text(POLICY_YAML)
    return path


@dataclass(frozen=True)
class AuditedRequest:
    """One request as the API server recorded it."""

    audit_id: str
    user: str
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    decision: str  # "allow" or "forbid" (the authorizer's verdict)
    uri: str
    time: str
    # For a token bound to a pod (TokenRequest with boundObjectRef), the pod it is bound to.
    pod: str = ""

    @property
    def resource_path(self) -> str:
        """`pods/log`, `jobs`: resource and subresource as RBAC rules spell them."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def read_requests(log: Path, user: str | None = None) -> list[AuditedRequest]:
    """The requests in the audit log, one per request (a watch's ResponseStarted and
    ResponseComplete events are merged, the later one wins), optionally of one user only."""
    by_id: dict[str, AuditedRequest] = {}
    if not log.exists():
        return []
    with open(log) as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written right now
            username = event.get("user", {}).get("username", "")
            if user is not None and username != user:
                continue
            ref = event.get("objectRef") or {}
            status = event.get("responseStatus") or {}
            annotations = event.get("annotations") or {}
            by_id[event["auditID"]] = AuditedRequest(
                audit_id=event["auditID"],
                user=username,
                verb=event.get("verb", ""),
                group=ref.get("apiGroup", ""),
                resource=ref.get("resource", ""),
                subresource=ref.get("subresource", ""),
                namespace=ref.get("namespace", ""),
                name=ref.get("name", ""),
                code=int(status.get("code", 0)),
                decision=annotations.get("authorization.k8s.io/decision", ""),
                uri=event.get("requestURI", ""),
                time=event.get("requestReceivedTimestamp", ""),
                pod=(event.get("user", {}).get("extra", {}).get("authentication.kubernetes.io/pod-name") or [""])[0],
            )
    return list(by_id.values())
