"""Bad values derived from the API server, not from a list. For each field of the chart's
values schema, type-correct values are generated and rendered by a copy of the chart whose
value rules are off; the API server judges the rendered objects (server-side dry run) and
the SDK judges what the agent reads. Whatever the server or the agent refuses, the chart
must refuse first, naming the key; and every refusal of the chart names the key.

How, in a few helm processes per values file:
- fields: the schema's properties (strings, integers, maps of strings, lists and their
  items; `$ref`s followed).
- trace: each field set to a sentinel (many fields per render, each re-traced alone when a
  group hides it); where the sentinel lands (which object, which path) says whether the
  field reaches the cluster at all, and which sibling values it could collide with (volume
  names, mount paths, label keys).
- candidates: a fixed set of hostile strings and numbers (lengths 64 and 254, case,
  whitespace, '/', '..', JSON, YAML scalars, quantities), values beyond the server's size
  limits where the field lands in data or annotations, the sibling values, empty and
  duplicate lists, an unknown key for open objects.
- rendering: many value sets at once, as aliased subcharts of a throwaway parent chart.
  The copy is the chart with its validate include and schema removed, plus one template
  that prints `wandb-launch.problems` (the list the real chart fails with the first of);
  the chart's schema is applied here, with jsonschema (draft 7, as helm does). A sample of
  each file's refusals is checked against the real chart with `helm template`.
- the server: every rendered object that differs from the base render, dry-run created in
  a scratch namespace; every namespace it names, as a Namespace; every object it refers to
  by name (secrets, config maps, PVCs, service accounts, priority classes, roles; and those
  the SDK makes from the launch config and the agent's env: the kaniko build Job, its
  secret volume), as a minimal object of that kind with that name.
- the agent: AgentConfig on the launch config in the agent's resolution order, the SDK's
  settings on WANDB_BASE_URL, its check_api_key on the stored key.
- a field that lands in the same places as in a values file run before it is not run
  again (its cases and verdicts are that file's); the report says how many were.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import io
import json
import queue
import re
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml when present: the batch renders are large
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from wandb_launch.chartfiles import helm_test_check

BATCH = 100  # value sets per helm process
WORKERS = 2  # helm processes at once
TRACE_GROUP = 12  # fields traced in one value set

# Hostile strings: each is type-correct for a string field and breaks a rule of some
# Kubernetes field (DNS label / subdomain, label value, qualified name, path segment, config
# key, quantity, image, JSON, YAML scalar, leading whitespace, lengths 63 and 253).
STRINGS: tuple[str, ...] = (
    "",
    "Bad_Name",
    "bad name",
    " padded",
    "-bad-",
    "..",
    "a/b",
    "{",
    "0",
    "9999999",
    "x" * 64,
    "x" * 254,
)
# Beyond the server's size limits: annotations (256 KiB in all), Secret and ConfigMap data (1 MiB).
ANNOTATIONS_LIMIT = 256 * 1024
DATA_LIMIT = 1024 * 1024
INTEGERS: tuple[int, ...] = (-2, -1, 0, 2**31)
MAP_KEYS: tuple[str, ...] = (
    "",
    "bad key",
    "Example.com/a",
    "a/b/c",
    "x" * 64,
    "example.com/" + "x" * 64,
    "x" * 254 + "/a",
)
# A key and a value any label or annotation map accepts, for probing the other half.
GOOD_KEY, GOOD_VALUE = "example.com/probe", "probe"


# --- fields --------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Field:
    """One field of the values schema, and how a candidate is written into the values."""

    path: Path_  # keys and list indices from the top of the values
    kind: str  # string, integer, map-keys, map-values, list, object
    schema: Mapping[str, Any] = field(compare=False, hash=False, default_factory=dict)

    @property
    def name(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out + {"map-keys": " (keys)", "map-values": " (values)"}.get(self.kind, "")

    @property
    def pointer(self) -> str:
        return "/" + "/".join(str(p) for p in self.path)

    def key_pattern(self) -> re.Pattern[str]:
        """How a refusal names this key: its path (list indices any number), or the list item
        it is in, named as a whole (`extraEnv[0] sets both value and valueFrom`)."""
        text, alternatives = "", []
        for part in self.path:
            if isinstance(part, int):
                text += r"\[\d+\]"
                alternatives.append(text + r"(?![\w.\[])")
            else:
                text += (r"\." if text else "") + re.escape(part)
        alternatives.append(text + r"(?![\w])")
        return re.compile(r"(?<![\w.])(?:" + "|".join(alternatives) + ")")

    def applies(self, values: Mapping[str, Any]) -> bool:
        """A field inside a list item needs that item in the values (nothing to change else)."""
        node: Any = values
        for part in self.path:
            if isinstance(part, int):
                if not isinstance(node, list) or len(node) <= part:
                    return False
                node = node[part]
            else:
                node = node.get(part) if isinstance(node, Mapping) else None
        return True

    def get(self, values: Mapping[str, Any]) -> Any:
        node: Any = values
        for part in self.path:
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and len(node) > part else None
            else:
                node = node.get(part) if isinstance(node, Mapping) else None
        return node

    def apply(self, values: Mapping[str, Any], candidate: Any) -> dict[str, Any]:
        """A copy of `values` with this field set to `candidate` (map fields: one entry added)."""
        out = json.loads(json.dumps(values))
        *parents, last = self.path
        node: Any = out
        for part in parents:
            if isinstance(part, int):
                node = node[part]
            else:
                if not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[part]
        if self.kind == "map-keys":
            node[last] = {**(node.get(last) or {}), candidate: GOOD_VALUE}
        elif self.kind == "map-values":
            node[last] = {**(node.get(last) or {}), GOOD_KEY: candidate}
        else:
            node[last] = candidate
        return out


def schema_fields(schema: Mapping[str, Any], path: Path_ = (), root: Mapping[str, Any] | None = None) -> Iterator[Field]:
    """Every field of the schema the generator can write a value into."""
    root = root if root is not None else schema
    while "$ref" in schema:  # "#/definitions/x"
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    types = _types(schema)
    if "object" in types:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties:
            for name, child in properties.items():
                yield from schema_fields(child, (*path, name), root)
        elif isinstance(extra, Mapping) and "string" in _types(extra):
            yield Field(path, "map-keys", schema)
            yield Field(path, "map-values", schema)
        elif path:
            yield Field(path, "object", schema)
    elif "array" in types:
        yield Field(path, "list", schema)
        items = schema.get("items") or {}
        item_types = _types(items)
        if item_types & {"string", "integer"} or ("object" in item_types and items.get("properties")):
            yield from schema_fields(items, (*path, 0), root)
    elif "string" in types:
        yield Field(path, "string", schema)
    elif types & {"integer", "number"}:
        yield Field(path, "integer", schema)
    # booleans: both values are the schema's; nothing the server could refuse on its own


def _types(schema: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(declared)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        found |= _types(branch)
    return found


# --- the chart copy and batch renders ---------------------------------------------------------


@dataclass
class Render:
    """One value set's outcome in a batch: its objects and the chart's problems, or helm's error."""

    docs: list[str] = field(default_factory=list)  # document texts, without the Source line
    problems: list[str] = field(default_factory=list)  # wandb-launch.problems
    error: str | None = None


_SOURCE = re.compile(r"^# Source: [^/]+/charts/c(\d+)/templates/([^\n]*)", re.M)
_VALIDATE_INCLUDE = re.compile(r'^\{\{-? include "wandb-launch\.validate" \. -?\}\}\n', re.M)
_PROBE = "zz-problems.yaml"
_PROBE_TEMPLATE = """\
{{- /* The chart's own rules, its name pinned (an alias renames .Chart). */ -}}
{{- $chart := dict "Name" %(name)s "Version" .Chart.Version "AppVersion" .Chart.AppVersion -}}
{{- $ctx := dict "Values" .Values "Release" .Release "Files" .Files "Capabilities" .Capabilities "Template" .Template "Chart" $chart -}}
problems: {{ include "wandb-launch.problems" $ctx | quote }}
"""


class ChartCopies:
    """The chart with its rules off (and its problems printed), rendered in batches."""

    def __init__(self, chart: Path, workdir: Path, helm: str, release: str, namespace: str, kube_version: str):
        self.chart, self.helm = chart, helm
        self.release, self.namespace, self.kube_version = release, namespace, kube_version
        self.name = yaml.safe_load((chart / "Chart.yaml").read_text())["name"]
        self.schema = json.loads((chart / "values.schema.json").read_text())
        from jsonschema import Draft7Validator

        self._validator = Draft7Validator(self.schema)
        # Parent charts for helm processes side by side.
        self._parents: queue.Queue[Path] = queue.Queue()
        for index in range(WORKERS):
            parent = workdir / f"cases{index}"
            if parent.exists():
                shutil.rmtree(parent)
            (parent / "charts").mkdir(parents=True)
            self._open_copy(parent / "charts" / self.name)
            self._parents.put(parent)
        self._pool = ThreadPoolExecutor(WORKERS)
        self.value_sets = 0  # rendered, in all

    def _open_copy(self, target: Path) -> None:
        """The chart with its value rules off (no validate include, no schema), printing its problems."""
        shutil.copytree(self.chart, target, ignore=shutil.ignore_patterns("ci", "README.md", "__pycache__"))
        (target / "values.schema.json").unlink()
        removed = 0
        for template in (target / "templates").rglob("*.yaml"):
            text, n = _VALIDATE_INCLUDE.subn("", template.read_text())
            removed += n
            template.write_text(text)
        assert removed, "no template includes wandb-launch.validate: the open copy would equal the chart"
        helpers = target / "templates" / "_helpers.tpl"
        helpers.write_text(helpers.read_text().replace(".Chart.Name", json.dumps(self.name)))
        (target / "templates" / _PROBE).write_text(_PROBE_TEMPLATE % {"name": json.dumps(self.name)})

    def schema_complaints(self, values: Mapping[str, Any], only: str | None = None) -> list[str]:
        """The chart's schema on a value set, as helm words it: "at '/x': ...". `only`: the
        top-level key a value set differs in from one already valid (the rest needs no check)."""
        if only is not None and only in self.schema.get("properties", {}):
            validator = self._validator.evolve(schema=self.schema["properties"][only])
            instance, prefix = values.get(only), [only]
        else:
            validator, instance, prefix = self._validator, values, []
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        return [
            f"values schema: at '/{'/'.join(str(p) for p in [*prefix, *error.absolute_path])}': {error.message[:200]}"
            for error in errors
        ]

    def render(self, value_sets: Sequence[Mapping[str, Any]]) -> list[Render]:
        """Each value set through the copy, BATCH per helm process; a set that breaks the
        render (helm's own error) is isolated and the rest rendered again."""
        chunks = [value_sets[i:i + BATCH] for i in range(0, len(value_sets), BATCH)]
        self.value_sets += len(value_sets)
        return [item for chunk in self._pool.map(self._render_chunk, chunks) for item in chunk]

    def _render_chunk(self, value_sets: Sequence[Mapping[str, Any]]) -> list[Render]:
        out = [Render() for _ in value_sets]
        pending = list(range(len(value_sets)))
        while pending:
            result = self._helm([value_sets[i] for i in pending])
            if result.returncode != 0:
                culprit = re.search(r"charts/c(\d+)/", result.stderr)
                if not culprit:
                    raise AssertionError(f"the open copy failed to render:\n{result.stderr[:2000]}")
                index = pending.pop(int(culprit.group(1)))
                out[index].error = result.stderr.strip().splitlines()[0]
                continue
            for text in result.stdout.split("\n---\n"):
                source = _SOURCE.search(text)
                if not source:
                    continue
                render = out[pending[int(source.group(1))]]
                body = text[source.end():].strip("\n")
                if source.group(2) == _PROBE:
                    render.problems = json.loads(yaml.load(body, Loader=_Loader)["problems"])
                else:
                    render.docs.append(body)
            pending = []
        return out

    def _helm(self, value_sets: Sequence[Mapping[str, Any]]) -> subprocess.CompletedProcess[str]:
        parent = self._parents.get()
        try:
            dependencies = [{"name": self.name, "version": "*", "alias": f"c{i}"} for i in range(len(value_sets))]
            (parent / "Chart.yaml").write_text(
                json.dumps({"apiVersion": "v2", "name": "cases", "version": "0.0.0", "dependencies": dependencies})
            )
            values_file = parent.with_name(parent.name + "-values.json")  # outside the chart: no size limit
            values_file.write_text(json.dumps({f"c{i}": v for i, v in enumerate(value_sets)}))
            return subprocess.run(
                [self.helm, "template", self.release, str(parent), "--namespace", self.namespace,
                 "--kube-version", self.kube_version, "-f", str(values_file)],
                capture_output=True, text=True, check=False,
            )
        finally:
            self._parents.put(parent)

    def real_refusal(self, values: Mapping[str, Any], workdir: Path) -> str:
        """What `helm template` of the real chart says of a value set ('' when it renders)."""
        values_file = workdir / "real-values.json"
        values_file.write_text(json.dumps(values))
        result = subprocess.run(
            [self.helm, "template", self.release, str(self.chart), "--namespace", self.namespace,
             "--kube-version", self.kube_version, "-f", str(values_file)],
            capture_output=True, text=True, check=False,
        )
        return "" if result.returncode == 0 else result.stderr

    def close(self) -> None:
        self._pool.shutdown()


# --- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    what: str  # the object sent, e.g. "Secret wandb-api-key-x" or "Namespace (named by ...)"
    status: int
    message: str

    def __str__(self) -> str:
        return f"{self.what}: {self.status} {self.message}"


class Server:
    """Dry-run creates against an API server, each distinct object asked once."""

    def __init__(self, api: Any, scratch_namespace: str, threads: int = 4):
        self.api, self.scratch = api, scratch_namespace
        self._kinds = self._discover()
        self._cache: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads)
        self.requests = 0

    def _discover(self) -> dict[tuple[str, str], tuple[str, bool]]:
        from .kube import get_json

        kinds: dict[tuple[str, str], tuple[str, bool]] = {}
        paths = ["/api/v1"] + [f"/apis/{g['preferredVersion']['groupVersion']}" for g in get_json(self.api, "/apis")["groups"]]
        for path in paths:
            group_version = path.removeprefix("/api/").removeprefix("/apis/")
            for resource in get_json(self.api, path)["resources"]:
                if "/" not in resource["name"]:
                    kinds[(group_version, resource["kind"])] = (resource["name"], resource["namespaced"])
        return kinds

    def _post(self, obj: Mapping[str, Any]) -> tuple[int, str]:
        key = json.dumps(obj, sort_keys=True)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        plural, namespaced = self._kinds[(obj["apiVersion"], obj["kind"])]
        prefix = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        scope = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
        method, url, headers, body, _ = self.api.param_serialize(
            "POST", f"{prefix}{scope}/{plural}", query_params=[("dryRun", "All")], body=obj,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(method, url, header_params=headers, body=body)
        response.read()
        status = response.status
        message = ""
        if status >= 300:
            try:
                message = json.loads(response.data).get("message", "")
            except ValueError:
                message = response.data[:300].decode(errors="replace")
        with self._lock:
            self._cache[key] = (status, message)
            self.requests += 1
        return status, message

    def verdicts(self, probes: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Refusal]:
        """The refusals among (description, object) probes; AlreadyExists is no refusal."""
        prepared = [(what, self._placed(obj)) for what, obj in probes]
        answers = list(self._pool.map(lambda p: self._post(p[1]), prepared))
        return [
            Refusal(what, status, message)
            for (what, _), (status, message) in zip(prepared, answers)
            if status >= 300 and status != 409
        ]

    def _placed(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The object in the scratch namespace (its own namespace is probed as a Namespace)."""
        out = copy.deepcopy(dict(obj))
        out.setdefault("metadata", {})
        plural, namespaced = self._kinds[(out["apiVersion"], out["kind"])]
        if namespaced:
            out["metadata"]["namespace"] = self.scratch
        else:
            out["metadata"].pop("namespace", None)
        if out["kind"] == "Pod":
            # Admission looks these up, and they exist only after the install: their names
            # are probed as objects of their own (references()).
            out["spec"].pop("serviceAccountName", None)
            out["spec"].pop("priorityClassName", None)
        return out

    def close(self) -> None:
        self._pool.shutdown()


def _minimal(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    api_version = {"PriorityClass": "scheduling.k8s.io/v1", "Role": "rbac.authorization.k8s.io/v1",
                   "ClusterRole": "rbac.authorization.k8s.io/v1", "Job": "batch/v1"}.get(kind, "v1")
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    if kind == "PersistentVolumeClaim":
        obj["spec"] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    elif kind == "PriorityClass":
        obj["value"] = 1
    obj.update(extra)
    return obj


def _pod(container: Mapping[str, Any] | None = None, volumes: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox", **(container or {})}]}
    if volumes:
        spec["volumes"] = list(volumes)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"}, "spec": spec}


def references(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Objects a rendered object refers to by name, as minimal objects of their kind: what
    must be creatable for the reference to ever resolve. The agent's env and launch config
    name objects the SDK uses (kaniko_builder.py, kubernetes_runner.py) the same way."""
    kind = doc.get("kind")
    meta = doc.get("metadata") or {}
    if meta.get("namespace"):
        yield f"Namespace {meta['namespace']!r} (of {kind} {meta.get('name')})", _minimal("Namespace", meta["namespace"])
    if kind == "RoleBinding":
        ref = doc.get("roleRef") or {}
        yield f"{ref.get('kind')} {ref.get('name')!r} (roleRef)", _minimal(ref.get("kind", "Role"), ref.get("name", ""), rules=[])
        for subject in doc.get("subjects") or []:
            yield f"ServiceAccount {subject.get('name')!r} (subject)", _minimal("ServiceAccount", subject.get("name", ""))
            if subject.get("namespace"):
                yield f"Namespace {subject['namespace']!r} (subject)", _minimal("Namespace", subject["namespace"])
    spec = None
    if kind == "Pod":
        spec = doc.get("spec")
    elif kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        spec = ((doc.get("spec") or {}).get("template") or {}).get("spec")
    if spec:
        yield from _pod_references(spec)
    if kind == "ConfigMap":
        for key, text in (doc.get("data") or {}).items():
            if key == "launch-config.yaml":
                yield from _launch_config_references(text)


def _pod_references(spec: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if spec.get("serviceAccountName"):
        yield f"ServiceAccount {spec['serviceAccountName']!r} (serviceAccountName)", _minimal("ServiceAccount", spec["serviceAccountName"])
    if spec.get("priorityClassName"):
        yield f"PriorityClass {spec['priorityClassName']!r}", _minimal("PriorityClass", spec["priorityClassName"])
    for secret in spec.get("imagePullSecrets") or []:
        yield f"Secret {secret.get('name')!r} (imagePullSecrets)", _minimal("Secret", secret.get("name", ""))
    for volume in spec.get("volumes") or []:
        for source, kind, name_key in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
            if source in volume:
                name = volume[source].get(name_key, "")
                keys = [item.get("key", "") for item in volume[source].get("items") or []]
                yield f"{kind} {name!r} (volume {volume.get('name')})", _minimal(kind, name, data={k: "" for k in keys})
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName", "")
            yield f"PersistentVolumeClaim {claim!r}", _minimal("PersistentVolumeClaim", claim)
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for ref_key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if ref_key in source:
                    ref = source[ref_key]
                    yield f"{kind} {ref.get('name')!r} ({ref_key} of {env.get('name')})", _minimal(
                        kind, ref.get("name", ""), data={ref.get("key", ""): ""})
            # Names the SDK reads from the agent's env (kaniko_builder.py).
            value = env.get("value")
            if value is not None and env.get("name") in _SDK_ENV_REFERENCES:
                yield from _SDK_ENV_REFERENCES[env["name"]](value)
        for source in container.get("envFrom") or []:
            for ref_key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if ref_key in source:
                    yield f"{kind} {source[ref_key].get('name')!r} (envFrom)", _minimal(kind, source[ref_key].get("name", ""))


_SDK_ENV_REFERENCES: dict[str, Callable[[str], Iterator[tuple[str, dict[str, Any]]]]] = {
    # The kaniko build Job mounts it (key .dockerconfigjson) and runs as this account.
    "WANDB_LAUNCH_KANIKO_AUTH_SECRET": lambda v: iter(
        [(f"Secret {v!r} (WANDB_LAUNCH_KANIKO_AUTH_SECRET)", _minimal("Secret", v))]),
    "WANDB_LAUNCH_KANIKO_PVC_NAME": lambda v: iter(
        [(f"PersistentVolumeClaim {v!r} (WANDB_LAUNCH_KANIKO_PVC_NAME)", _minimal("PersistentVolumeClaim", v))]),
    "WANDB_LAUNCH_SERVICE_ACCOUNT_NAME": lambda v: iter(
        [(f"ServiceAccount {v!r} (WANDB_LAUNCH_SERVICE_ACCOUNT_NAME)", _minimal("ServiceAccount", v))]),
}


def _launch_config_references(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the SDK's kaniko builder makes from the builder keys (kaniko_builder.py): a Job
    `<build-job-name>-<run id>` running `kaniko-image`, mounting secret `secret-name` (key
    `secret-key`) as a volume of the same name."""
    try:
        config = yaml.load(text, Loader=_Loader) or {}
    except yaml.YAMLError:
        return
    builder = config.get("builder") if isinstance(config, Mapping) else None
    if not isinstance(builder, Mapping) or builder.get("type") != "kaniko":
        return
    job_name = f"{builder.get('build-job-name', 'wandb-launch-container-build')}-0a1b2c3d"
    image = builder.get("kaniko-image", "gcr.io/kaniko-project/executor:v1.11.0")
    job_pod = _pod({"image": image})["spec"] | {"restartPolicy": "Never"}
    yield f"Job {job_name!r} (the kaniko build Job)", _minimal("Job", str(job_name), spec={"template": {"spec": job_pod}})
    secret_name, secret_key = builder.get("secret-name"), builder.get("secret-key")
    if secret_name:
        yield f"Secret {secret_name!r} (builder secret-name)", _minimal("Secret", str(secret_name), data={str(secret_key or "k"): ""})
        volume = {"name": str(secret_name), "secret": {"secretName": str(secret_name), "items": [{"key": str(secret_key or "k"), "path": "k"}]}}
        yield f"Pod volume {secret_name!r} (the kaniko build Job's secret volume)", _pod(volumes=[volume])


# --- the agent -------------------------------------------------------------------------------


def agent_refusals(docs: Iterable[Mapping[str, Any]], chart: Path) -> list[str]:
    """The SDK's verdict on the launch config the agent would read (AgentConfig, in the
    agent's resolution order with its container's plain env)."""
    with contextlib.redirect_stderr(io.StringIO()):  # the SDK's warnings, e.g. of unknown registries
        return _agent_refusals(docs, chart)


def _agent_refusals(docs: Iterable[Mapping[str, Any]], chart: Path) -> list[str]:
    """AgentConfig on the launch config; the SDK's settings on WANDB_BASE_URL; its key check
    (check_api_key) on the API key the chart stores for the agent."""
    from wandb.sdk.lib.wbauth.validation import check_api_key

    check = helm_test_check(chart)
    docs = list(docs)
    config, env, key_ref = None, {}, None
    for doc in docs:
        if doc.get("kind") == "ConfigMap" and "launch-config.yaml" in (doc.get("data") or {}):
            config = yaml.load(doc["data"]["launch-config.yaml"], Loader=_Loader)
        if doc.get("kind") == "Deployment":
            for container in doc["spec"]["template"]["spec"].get("containers") or []:
                env = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
                key_ref = next((e["valueFrom"]["secretKeyRef"] for e in container.get("env") or []
                                if e.get("name") == "WANDB_API_KEY" and "valueFrom" in e), key_ref)
    refusals = []
    if "WANDB_BASE_URL" in env:
        problem = _base_url_problem(env["WANDB_BASE_URL"])
        if problem:
            refusals.append(f"the SDK's settings refuse WANDB_BASE_URL: {problem}")
    for doc in docs:
        if key_ref and doc.get("kind") == "Secret" and (doc.get("metadata") or {}).get("name") == key_ref.get("name"):
            encoded = (doc.get("data") or {}).get(key_ref.get("key"))
            if encoded is not None:
                problem = check_api_key(base64.b64decode(encoded).decode(errors="replace"))
                if problem:
                    refusals.append(f"the SDK's check_api_key: {problem}")
            break
    if config is None:
        return refusals
    if not isinstance(config, Mapping):
        return ["launch-config.yaml is not a mapping"]
    try:
        resolved, _ = check.resolve_launch_config(config, env)
    except (TypeError, ValueError) as e:
        return [*refusals, f"the agent cannot resolve its config: {e}"]
    return [*refusals, *(f"AgentConfig: {p}" for p in _config_problems(check, json.dumps(resolved, sort_keys=True)))]


@functools.cache
def _base_url_problem(url: str) -> str | None:
    from wandb.sdk.wandb_settings import Settings

    try:
        Settings(base_url=url)
    except Exception as e:  # pydantic's ValidationError, or the SDK's ValueError
        return str(e).splitlines()[0]
    return None


@functools.cache
def _config_problems(check: Any, resolved: str) -> tuple[str, ...]:
    return tuple(check.agent_config_problems(json.loads(resolved)))


def _decoded(doc: Any) -> Any:
    """A rendered object with Secret data decoded, so traces find values inside."""
    if isinstance(doc, Mapping) and doc.get("kind") == "Secret" and isinstance(doc.get("data"), Mapping):
        doc = dict(doc)
        doc["data"] = {k: base64.b64decode(v).decode(errors="replace") for k, v in doc["data"].items()}
    return doc


def _where(node: Any, needle: str, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """(path, 'key'|'value'|'part', container) of every place `needle` occurs."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and needle in key:
                yield (*path, key), "key" if key == needle else "part", node
            yield from _where(value, needle, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _where(value, needle, (*path, index))
    elif node is not None and needle in str(node):
        yield path, "value" if str(node) == needle else "part", None


def _siblings(doc: Any, path: tuple[Any, ...], kind: str, container: Any) -> set[str]:
    """Values a field could collide with: the other keys of the map it lands in, or the
    same attribute of the other items of the list it lands in (volume names, mount paths)."""
    if kind == "key" and isinstance(container, Mapping):
        return {k for k in container if isinstance(k, str) and k != path[-1]}
    list_index = max((i for i, p in enumerate(path) if isinstance(p, int)), default=None)
    if kind != "value" or list_index is None:
        return set()
    parent: Any = doc
    for part in path[:list_index]:
        parent = parent[part]
    rest = path[list_index + 1:]
    found = set()
    for index, item in enumerate(parent):
        if index == path[list_index]:
            continue
        node: Any = item
        for part in rest:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, (str, int)) and not isinstance(node, bool):
            found.add(str(node))
    return found


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the chart, the server and the agent say of one rendered value set."""

    chart: list[str] = field(default_factory=list)  # schema complaints, else the chart's problems
    server: list[Refusal] = field(default_factory=list)
    agent: list[str] = field(default_factory=list)
    render_error: str | None = None  # helm itself could not render it (nothing would be applied)

    @property
    def refused_elsewhere(self) -> bool:
        return bool(self.server or self.agent)


@dataclass
class Case:
    field: Field
    value: Any
    values: dict[str, Any]
    verdict: Verdict = field(default_factory=Verdict)

    def describe(self) -> str:
        value = repr(self.value)
        value = value if len(value) <= 60 else value[:57] + "..."
        return f"{self.field.name} = {value}"

    def failure(self) -> str | None:
        """Why this case breaks the rule, or None. The rule: what the server or the agent
        refuses, the chart refuses first; and the chart's first line names the key."""
        v = self.verdict
        if not v.chart:
            if v.refused_elsewhere:
                why = str(v.server[0]) if v.server else v.agent[0]
                return f"{self.describe()}: the chart accepts it, but {why[:400]}"
            return None
        first = v.chart[0]
        if first.startswith("values schema: "):
            pointer = self.field.pointer
            for at in re.findall(r"at '([^']*)'", first):
                if at not in ("", "/") and (pointer == at or pointer.startswith(at + "/") or at.startswith(pointer + "/")):
                    return None
        elif self.field.key_pattern().search(first):
            return None
        return f"{self.describe()}: the chart refuses it without naming the key: {first[:300]}"


@dataclass
class Report:
    values_file: str
    fields: int = 0
    live_fields: int = 0
    fields_run_before: int = 0
    cases: int = 0
    chart_refused: int = 0
    server_refused: int = 0
    agent_refused: int = 0
    real_chart_checked: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.values_file}: {self.fields} fields, {self.live_fields} reach the cluster"
            f" ({self.fields_run_before} as in a file before); {self.cases} generated values: "
            f"the server refuses {self.server_refused}, the agent {self.agent_refused}; "
            f"the chart refuses {self.chart_refused}, each naming the key"
        )


class CaseRun:
    """The generated cases of the values files, one file after the other."""

    def __init__(self, copies: ChartCopies, server: Server, chart: Path, workdir: Path):
        self.copies, self.server, self.chart, self.workdir = copies, server, chart, workdir
        self.fields = list(schema_fields(copies.schema))
        self._seen: set[tuple[Field, tuple[Any, ...]]] = set()  # (field, where it lands) already run
        self._sized: set[Any] = set()  # places a value past a size limit was tried in
        self.reports: list[Report] = []
        # One case per top-level values key that the server refuses (and so the chart): for
        # the install-leaves-nothing check.
        self.samples: dict[str, Case] = {}
        self._parsed: dict[str, Any] = {}

    def run(self, name: str, base: Mapping[str, Any], real_samples: int = 2) -> Report:
        report = Report(name, fields=len(self.fields))
        (base_render,) = self.copies.render([base])
        assert base_render.error is None, f"{name} does not render: {base_render.error}"
        assert not self.copies.schema_complaints(base), f"{name}: {self.copies.schema_complaints(base)[0]}"
        assert not base_render.problems, f"the chart refuses {name} itself: {base_render.problems[0]}"
        base_texts = Counter(base_render.docs)
        base_docs = [d for d in map(self._parse, base_texts) if d]
        base_refused = self.server.verdicts(list(_probes(base_docs)))
        assert not base_refused, f"the server refuses {name} itself: {base_refused[0]}"
        assert not agent_refusals(base_docs, self.chart), f"the agent refuses {name} itself"

        fields = [f for f in self.fields if f.applies(base)]
        traces = self._trace(fields, base, base_texts)
        live = [f for f in fields if traces[f] is not None]
        report.live_fields = len(live)
        cases: list[Case] = []
        for f in live:
            key = (f, _signature(traces[f]))
            if key in self._seen:
                report.fields_run_before += 1
                continue
            self._seen.add(key)
            cases += [Case(f, value, f.apply(base, value)) for value in _candidates(f, base, traces[f], self._sized)]
        for case, render in zip(cases, self.copies.render([c.values for c in cases])):
            case.verdict = self._verdict(case, render, base_texts)

        report.cases = len(cases)
        report.chart_refused = sum(1 for c in cases if c.verdict.chart)
        report.server_refused = sum(1 for c in cases if c.verdict.server)
        report.agent_refused = sum(1 for c in cases if c.verdict.agent)
        report.failures = [f for f in (c.failure() for c in cases) if f]
        for case in cases:
            if case.verdict.server and case.verdict.chart and not case.verdict.render_error:
                self.samples.setdefault(str(case.field.path[0]), case)
        report.failures += self._check_against_the_real_chart(cases, real_samples)
        self.reports.append(report)
        return report

    def _verdict(self, case: Case, render: Render, base_texts: Counter[str]) -> Verdict:
        values = case.values
        verdict = Verdict(chart=self.copies.schema_complaints(values, only=str(case.field.path[0])) or render.problems)
        if render.error:
            verdict.render_error = render.error
            return verdict
        texts = Counter(render.docs)
        changed = [d for d in (self._parse(t) for t in texts if t not in base_texts) if d]
        verdict.server = self.server.verdicts(list(_probes(changed)))
        duplicate = _duplicate_objects(self._parse(t) for t, n in texts.items() for _ in range(n))
        if duplicate:
            verdict.server.append(Refusal(duplicate, 409, "two rendered objects of one name: the second create fails"))
        if any(d.get("kind") in ("ConfigMap", "Deployment", "Secret") for d in changed):
            verdict.agent = agent_refusals([d for d in map(self._parse, texts) if d], self.chart)
        return verdict

    def _check_against_the_real_chart(self, cases: Sequence[Case], samples: int) -> list[str]:
        """The copy's verdict is the real chart's: `helm template` of the chart itself stops
        with the first problem (or the schema's complaint) for a few refused cases of each kind."""
        failures = []
        schema = [c for c in cases if c.verdict.chart and c.verdict.chart[0].startswith("values schema: ")]
        rules = [c for c in cases if c.verdict.chart and not c.verdict.chart[0].startswith("values schema: ")]
        for case in schema[:samples] + rules[:samples]:
            stderr = self.copies.real_refusal(case.values, self.workdir)
            first = case.verdict.chart[0]
            if first.startswith("values schema: "):
                expected = re.findall(r"at '([^']*)'", first)[0]
                ok = f"at '{expected}'" in stderr
            else:
                ok = f"wandb-launch: {first}" in stderr
            if not ok:
                failures.append(f"{case.describe()}: the real chart does not say {first[:200]!r}: {stderr.strip()[:300]}")
        return failures

    def _parse(self, text: str) -> Any:
        if text not in self._parsed:
            self._parsed[text] = yaml.load(text, Loader=_Loader)
        return self._parsed[text]

    def _trace(
        self, fields: Sequence[Field], base: Mapping[str, Any], base_texts: Counter[str]
    ) -> dict[Field, list[tuple[Any, ...]] | None]:
        """Where each field's sentinel lands: [(doc, path, 'key'|'value'|'part', container)];
        None when the field changes nothing that reaches the cluster. Fields go TRACE_GROUP to
        a value set; one whose sentinel a group hides (an override, a failed render) goes alone."""
        sentinels = {f: _sentinel(f, i, base) for i, f in enumerate(fields)}
        lists = [f for f in fields if f.kind == "list"]
        scalars = [f for f in fields if f.kind != "list"]
        groups = [scalars[i:i + TRACE_GROUP] for i in range(0, len(scalars), TRACE_GROUP)]
        traces: dict[Field, list[tuple[Any, ...]] | None] = {}

        def grouped(group: Sequence[Field]) -> dict[str, Any]:
            values = dict(base)
            for f in group:
                values = f.apply(values, sentinels[f])
            return values

        renders = self.copies.render([grouped(g) for g in groups] + [f.apply(base, sentinels[f]) for f in lists])
        alone: list[Field] = []
        for group, render in zip(groups, renders):
            found = self._landings(render, [sentinels[f] for f in group])
            for f in group:
                if found.get(_needle(sentinels[f])):
                    traces[f] = found[_needle(sentinels[f])]
                else:
                    alone.append(f)
        for f, render in zip(lists, renders[len(groups):]):
            # A duplicate item: does it change anything the cluster gets?
            traces[f] = [] if render.error or Counter(render.docs) != base_texts else None
        for f, render in zip(alone, self.copies.render([f.apply(base, sentinels[f]) for f in alone])):
            if render.error:
                traces[f] = []  # it breaks the render on its own: worth its candidates
            else:
                traces[f] = self._landings(render, [sentinels[f]]).get(_needle(sentinels[f])) or None
        return traces

    def _landings(self, render: Render, sentinels: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
        if render.error:
            return {}
        needles = [_needle(s) for s in sentinels]
        found: dict[str, list[tuple[Any, ...]]] = {}
        for text in render.docs:
            if not any(n in text for n in needles) and "kind: Secret" not in text:
                continue
            doc = yaml.load(text, Loader=_Loader)
            # The object, and what it names (so a value the SDK builds a Job from lands there too).
            for obj in [_decoded(doc), *(ref for _, ref in references(doc))]:
                for needle in needles:
                    found.setdefault(needle, []).extend((obj, *where) for where in _where(obj, needle))
        return found


def _sentinel(f: Field, index: int, base: Mapping[str, Any]) -> Any:
    if f.kind == "integer":
        return 70001 + index
    if f.kind == "list":
        current = f.get(base) or []
        return current + current[:1] if current else []
    if f.kind == "object":
        return {f"zq{index:04d}zq": "zq"}
    return f"zq{index:04d}zq"


def _needle(sentinel: Any) -> str:
    return next(iter(sentinel)) if isinstance(sentinel, dict) else str(sentinel)


def _signature(trace: list[tuple[Any, ...]] | None) -> tuple[Any, ...]:
    """Where a field lands: object kinds, paths (list indices generalised), whole or part."""
    return tuple(sorted({(doc.get("kind"), tuple("#" if isinstance(p, int) else p for p in path), kind)
                         for doc, path, kind, _ in trace or []}, key=repr))


def _probes(docs: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each rendered object, and the objects it names."""
    for doc in docs:
        meta = doc.get("metadata") or {}
        yield f"{doc.get('kind')} {meta.get('name')!r}", doc
        yield from references(doc)


def _candidates(f: Field, base: Mapping[str, Any], trace: list[tuple[Any, ...]], sized: set[Any]) -> list[Any]:
    """The values tried for a field. Values past a size limit are tried once per place they
    land in (a data key, an annotations map): `sized` holds the places tried already."""
    current = f.get(base)
    if f.kind == "list":
        current = current or []
        return [[]] + ([current + current[:1]] if current else [])
    if f.kind == "object":
        return [{"unknownKey": "x"}]
    if f.kind == "integer":
        return [v for v in INTEGERS if v != current]
    generic = list(MAP_KEYS if f.kind == "map-keys" else STRINGS)
    if f.kind != "map-keys":  # (a key beyond 1024 characters cannot be written in YAML's flow style)
        data = {(doc.get("kind"), path[:2]) for doc, path, _, _ in trace
                if doc.get("kind") in ("Secret", "ConfigMap") and path[:1] == ("data",)}
        annotations = {(doc.get("kind"), path[:path.index("annotations") + 1]) for doc, path, _, _ in trace
                       if "annotations" in path}
        if data - sized:
            generic.append("x" * (DATA_LIMIT + 1))
        elif annotations - sized:
            generic.append("x" * (ANNOTATIONS_LIMIT + 1))
        sized |= data | annotations
    collisions: set[str] = set()
    for doc, path, kind, container in trace:
        collisions |= _siblings(doc, path, kind, container)
    extra = sorted(c for c in collisions if c not in generic)[:6]
    numbers = list(INTEGERS) if _types(f.schema) & {"integer", "number"} else []  # e.g. a quantity, an int-or-percent
    return [v for v in generic + extra + numbers if v != current]


def _duplicate_objects(docs: Iterable[Any]) -> str | None:
    seen: set[tuple[str, str, str, str]] = set()
    for doc in docs:
        if not doc:
            continue
        meta = doc.get("metadata") or {}
        key = (doc.get("apiVersion", ""), doc.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
        if key in seen:
            return f"{key[1]} {key[2]}/{key[3]}"
        seen.add(key)
    return None
