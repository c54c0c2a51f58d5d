"""A stand-in for the W&B server, for the SDK's own launch agent: the only thing the
agent-in-the-loop tests replace.

The seam is W&B's own HTTP API, where a self-hosted W&B user points the chart's `baseUrl`:
the agent (and its wandb-core process) send GraphQL to `<baseUrl>/graphql`, a run's file
stream to `/files/<entity>/<project>/<run>/file_stream`, file uploads to the URLs the server
hands out. This server answers each GraphQL operation it knows by name (`OPERATIONS`) from
its own small state (queues, queue items, runs, the agent), records every request, and
records any operation it does not know in `unknown` (answered with a GraphQL error): the
tests assert that list is empty, so a new call of a new SDK turns them red.

Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ENTITY = "wl-entity"
USERNAME = "wl-user"
# `wandb launch-agent` registers in (and pops from) the queues of this project.
LAUNCH_PROJECT = "model-registry"

# wandb/analytics/opentelemetry: /sdk/otel/v1/metrics and /sdk/otel/v1/logs.
OTEL_PROXY_PREFIX = "/sdk/otel/"
_OPERATION_NAME = re.compile(r"^\s*(?:query|mutation)\s+(\w+)", re.MULTILINE)


@dataclass
class QueueItem:
    id: str
    queue: str
    run_spec: dict[str, Any]
    state: str = "PENDING"  # PENDING -> CLAIMED (popped) -> ACKED, or FAILED
    run_id: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Run:
    """A run as W&B knows it. Without a kubelet no run container calls wandb.init, so a
    test sets `state` itself where a real run would have reported it."""

    state: str | None = None  # None: W&B has no such run
    stopped: bool = False


@dataclass
class Artifact:
    """An artifact version W&B stores: its files, served at URLs of this fake."""

    id: str
    entity: str
    project: str
    collection: str
    type: str
    files: dict[str, bytes]

    def manifest(self) -> dict[str, Any]:
        return {
            "version": 1, "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {
                name: {"digest": base64.b64encode(hashlib.md5(data).digest()).decode(), "size": len(data)}
                for name, data in self.files.items()
            },
        }


@dataclass
class Request:
    """One request the fake answered: a GraphQL operation or another HTTP call."""

    operation: str
    variables: dict[str, Any]
    time: float


class FakeWandb:
    def __init__(self, api_key: str, queues: tuple[str, ...]) -> None:
        self.api_key = api_key
        self.queues = {name: f"queue-{i}" for i, name in enumerate(queues)}
        self.items: dict[str, QueueItem] = {}
        self.runs: dict[str, Run] = {}
        self.agent: dict[str, Any] = {}
        self.agent_statuses: list[str] = []
        self.requests: list[Request] = []
        self.unknown: list[str] = []
        self.unauthorized: list[str] = []
        self.artifacts: dict[str, Artifact] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> FakeWandb:
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-wandb", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what a test does in W&B's place ------------------------------------------------
    def push(self, queue: str, run_spec: dict[str, Any]) -> QueueItem:
        """Put a run on a queue, as `wandb launch --queue` would."""
        with self._lock:
            item = QueueItem(f"rqi-{next(self._ids)}", queue, run_spec)
            self.items[item.id] = item
            return item

    def add_artifact(self, entity: str, project: str, collection: str, type_: str, files: dict[str, bytes]) -> Artifact:
        """Store version v0 (alias latest) of an artifact, e.g. a job and its code."""
        with self._lock:
            artifact = Artifact(base64.b64encode(f"Artifact:{next(self._ids)}".encode()).decode(),
                                entity, project, collection, type_, files)
            self.artifacts[artifact.id] = artifact
            return artifact

    def _artifact_named(self, project: str, name: str) -> Artifact | None:
        collection, _, alias = name.partition(":")
        for artifact in self.artifacts.values():
            if artifact.project == project and artifact.collection == collection and alias in ("v0", "latest", ""):
                return artifact
        return None

    def _membership(self, v: dict[str, Any]) -> dict[str, Any]:
        artifact = self._artifact_named(v["project"], v["name"])
        if artifact is None:
            return {"project": {"artifactCollectionMembership": None}}
        project = {"id": "project-1", "internalId": "1", "name": artifact.project, "entity": {"name": artifact.entity}}
        collection = {"__typename": "ArtifactSequence", "name": artifact.collection, "project": project}
        size = sum(len(d) for d in artifact.files.values())
        return {"project": {"artifactCollectionMembership": {
            "__typename": "ArtifactCollectionMembership", "id": f"membership-{artifact.id}", "versionIndex": 0,
            "createdAt": "2026-01-01T00:00:00", "aliases": [{"__typename": "ArtifactAlias", "id": "alias-1", "alias": "latest"}],
            "artifactCollection": collection,
            "artifact": {
                "__typename": "Artifact", "id": artifact.id, "artifactSequence": collection, "versionIndex": 0,
                "artifactType": {"name": artifact.type}, "description": None, "metadata": "{}",
                "ttlDurationSeconds": -1, "ttlIsInherited": True, "tags": [], "historyStep": None,
                "state": "COMMITTED", "size": size, "digest": hashlib.md5(json.dumps(artifact.manifest()).encode()).hexdigest(),
                "commitHash": "0" * 12, "fileCount": len(artifact.files),
                "createdAt": "2026-01-01T00:00:00", "updatedAt": "2026-01-01T00:00:00",
            },
        }}}

    def _file_urls(self, v: dict[str, Any]) -> dict[str, Any]:
        artifact = self._artifact_named(v["project"], f"{v['collection']}:{v['alias']}")
        if artifact is None:
            return {"project": {"artifactCollection": None}}
        return {"project": {"artifactCollection": {"__typename": "ArtifactSequence", "artifactMembership": {"files": {
            "pageInfo": {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False},
            "edges": [{"node": {"__typename": "File", "name": name, "directUrl": f"{self.url}/artifact-files/{artifact.id}/{name}"}}
                      for name in artifact.files],
        }}}}}

    def run(self, run_id: str) -> Run:
        with self._lock:
            return self.runs.setdefault(run_id, Run())

    def operations(self) -> list[str]:
        with self._lock:
            return [r.operation for r in self.requests]

    # -- operations ------------------------------------------------------------------
    def answer(self, operation: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The `data` of the answer, or None for an operation this fake does not know."""
        handler = OPERATIONS.get(operation)
        if handler is None:
            return None
        with self._lock:
            return handler(self, variables)

    def _viewer(self) -> dict[str, Any]:
        return {
            "id": "user-1", "entity": ENTITY, "username": USERNAME, "email": "wl@example.invalid",
            "admin": False, "flags": "{}", "teams": {"edges": []}, "userInfo": None,
            "apiKeys": {"edges": []},
        }

    def _pop(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        for item in self.items.values():
            if item.queue == variables.get("queueName") and item.state == "PENDING":
                item.state = "CLAIMED"
                return {"runQueueItemId": item.id, "runSpec": item.run_spec}
        return None

    def _item(self, item_id: str) -> QueueItem:
        return self.items[item_id]


def _upsert_bucket(fake: FakeWandb, variables: dict[str, Any]) -> dict[str, Any]:
    name = variables.get("name") or variables.get("id") or "agent-run"
    project = variables.get("project") or variables.get("modelName") or LAUNCH_PROJECT
    entity = variables.get("entity") or ENTITY
    return {"upsertBucket": {
        "bucket": {
            "id": base64.b64encode(f"Run:{name}".encode()).decode(), "name": name, "displayName": name,
            "description": None, "config": "{}", "sweepName": None, "runInfo": None, "historyLineCount": 0,
            "eventsLineCount": 0, "historyTail": "[]", "eventsTail": "[]", "summaryMetrics": "{}",
            "createdAt": "2026-01-01T00:00:00", "framework": None, "commit": None, "state": "running",
            "project": {"id": "project-1", "name": project, "entity": {"id": "entity-1", "name": entity}},
        },
        "inserted": True,
    }}


# Each operation the SDK's agent 0.31.0 sends, answered from the fake's state. The keys are
# the GraphQL operation names as the SDK spells them.
OPERATIONS: dict[str, Callable[[FakeWandb, dict[str, Any]], dict[str, Any]]] = {
    # Credentials check and default entity (wandb.Api(), wandb-core).
    "Viewer": lambda fake, v: {"viewer": fake._viewer()},
    "GetViewer": lambda fake, v: {"viewer": fake._viewer()},
    "GetDefaultEntity": lambda fake, v: {"viewer": fake._viewer()},
    # Launch agent registration and heartbeat (sdk/launch/api.py).
    "ProjectRunQueues": lambda fake, v: {"project": {"runQueues": [
        {"id": qid, "name": name, "createdBy": USERNAME, "access": "PROJECT"} for name, qid in fake.queues.items()
    ]}},
    "createLaunchAgent": lambda fake, v: (
        fake.agent.update(id="agent-1", name="agent-wl-1", queues=v.get("queues"), hostname=v.get("hostname"),
                          config=json.loads(v.get("agentConfig") or "{}"), version=v.get("version"))
        or {"createLaunchAgent": {"launchAgentId": "agent-1"}}
    ),
    "EntityIsTeam": lambda fake, v: {"entity": {"id": "entity-1", "isTeam": False}},
    "LaunchAgent": lambda fake, v: {"launchAgent": {
        "id": "agent-1", "name": fake.agent.get("name", "agent-wl-1"), "runQueues": list(fake.queues.values()),
        "hostname": fake.agent.get("hostname", ""), "agentStatus": (fake.agent_statuses or ["POLLING"])[-1],
        "stopPolling": False, "heartbeatAt": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }},
    "updateLaunchAgent": lambda fake, v: (
        fake.agent_statuses.append(v.get("agentStatus")) or {"updateLaunchAgent": {"success": True}}
    ),
    # The queue (sdk/launch/api.py).
    "popFromRunQueue": lambda fake, v: {"popFromRunQueue": fake._pop(v)},
    "ackRunQueueItem": lambda fake, v: (
        fake._item(v["itemId"]).__setattr__("run_id", v.get("runId"))
        or fake._item(v["itemId"]).__setattr__("state", "ACKED")
        or {"ackRunQueueItem": {"success": True}}
    ),
    "failRunQueueItem": lambda fake, v: (
        fake._item(v["runQueueItemId"]).failures.append(v)
        or fake._item(v["runQueueItemId"]).__setattr__("state", "FAILED")
        or {"failRunQueueItem": {"success": True}}
    ),
    "updateRunQueueItemWarning": lambda fake, v: (
        fake._item(v["runQueueItemId"]).warnings.append(v) or {"updateRunQueueItemWarning": {"success": True}}
    ),
    # A run's state as W&B sees it (sdk/launch/api.py).
    "RunStoppedStatus": lambda fake, v: {"project": {"run": (
        {"stopped": fake.run(v["runId"]).stopped} if v.get("runId") in fake.runs else None
    )}},
    "RunState": lambda fake, v: {"project": {"run": (
        {"state": fake.runs[v["name"]].state}
        if v.get("name") in fake.runs and fake.runs[v["name"]].state is not None else None
    )}},
    # The agent's own hidden run (LaunchAgent._init_agent_run -> wandb.init, in wandb-core):
    # the run, the server's feature flags, the organization, its files and their uploads.
    "UpsertBucket": _upsert_bucket,
    "ServerFeaturesQuery": lambda fake, v: {"serverInfo": {"features": []}},
    "OrganizationCoreWeaveOrganizationID": lambda fake, v: {"entity": {"organization": None}},
    # A job artifact and its code artifact (a launch from a job: LaunchProject._fetch_job).
    "ArtifactMembershipByName": lambda fake, v: fake._membership(v),
    "FetchArtifactManifest": lambda fake, v: {"artifact": (
        {"currentManifest": {"file": {"directUrl": f"{fake.url}/artifact-files/{v['id']}/manifest"}}}
        if v.get("id") in fake.artifacts else None
    )},
    "GetArtifactMembershipFileUrls": lambda fake, v: fake._file_urls(v),
    "CreateRunFiles": lambda fake, v: {"createRunFiles": {
        "runID": f"run-{v.get('run')}", "uploadHeaders": [],
        "files": [{"name": name, "uploadUrl": f"{fake.url}/upload/{v.get('run')}/{name}"} for name in v.get("files", [])],
    }},
}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (the agent stopped) is not an error of the fake."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeWandb
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                _, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return key == self.server_state.api_key
        return False

    def _record(self, operation: str, variables: dict[str, Any]) -> None:
        fake = self.server_state
        with fake._lock:
            fake.requests.append(Request(operation, variables, time.time()))

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        fake = self.server_state
        body = self._body()
        if self.path.startswith(OTEL_PROXY_PREFIX):
            # The SDK probes W&B's OpenTelemetry proxy (without credentials) and sends its
            # own telemetry only where it is served; a server without it answers 404.
            self._record("otel-proxy-probe", {"path": self.path})
            self._reply(404, {})
            return
        if not self._authorized():
            with fake._lock:
                fake.unauthorized.append(f"POST {self.path}")
            self._reply(401, {"errors": [{"message": "unauthorized"}]})
            return
        if self.path.rstrip("/") == "/graphql":
            request = json.loads(body or b"{}")
            query = request.get("query", "")
            match = _OPERATION_NAME.search(query)
            operation = request.get("operationName") or (match.group(1) if match else "(anonymous)")
            variables = request.get("variables") or {}
            self._record(operation, variables)
            data = fake.answer(operation, variables)
            if data is None:
                with fake._lock:
                    fake.unknown.append(operation)
                self._reply(200, {"errors": [{"message": f"fake W&B does not know operation {operation}"}]})
                return
            self._reply(200, {"data": data})
            return
        if self.path.endswith("/file_stream"):
            self._record("file_stream", {"path": self.path})
            self._reply(200, {"exitcode": None, "limits": {}})
            return
        self._record(f"POST {self.path}", {})
        with fake._lock:
            fake.unknown.append(f"POST {self.path}")
        self._reply(404, {"errors": [{"message": "not found"}]})

    def do_PUT(self) -> None:  # noqa: N802
        self._body()
        if self.path.startswith("/upload/"):
            self._record("upload", {"path": self.path})
            self._reply(200, {})
            return
        self._record(f"PUT {self.path}", {})
        with self.server_state._lock:
            self.server_state.unknown.append(f"PUT {self.path}")
        self._reply(404, {})

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server_state
        parts = self.path.split("/")
        if len(parts) >= 4 and parts[1] == "artifact-files" and parts[2] in fake.artifacts:
            # Direct (pre-signed, in W&B's cloud storage) URLs: no credentials needed.
            artifact, name = fake.artifacts[parts[2]], "/".join(parts[3:])
            data = json.dumps(artifact.manifest()).encode() if name == "manifest" else artifact.files.get(name)
            if data is not None:
                self._record("artifact-file", {"artifact": artifact.collection, "name": name})
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        self._record(f"GET {self.path}", {})
        with self.server_state._lock:
            self.server_state.unknown.append(f"GET {self.path}")
        self._reply(404, {})
