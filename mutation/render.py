"""Render a chart copy for every scenario with the real helm binary, in a comparable form.

Scenarios are the values files the offline suite renders, with the same flags (values/*.yaml
with the README's --set values as the tests' placeholders, chart/ci/*-values.yaml) and, unless
turned off, the probes of probes.yaml. A render
is reduced to what a user can get from it: the objects (parsed, so YAML spelling does not
count), NOTES.txt's text, or the one error line `helm template` ends with.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The tests' own flags per values file (not chartlib: importing it fixes the tests' chart path).
from tests.chart.command_line import value_args

RELEASE = "wandb-launch"
NAMESPACE = "default"
# The API server version of the install tests (hack/versions.env), as tests/chart renders.
KUBE_VERSION = "v1.36.3"
PROBES = Path(__file__).with_name("probes.yaml")

# `helm template` does not print NOTES.txt: the render copy renders it as a ConfigMap too.
NOTES_COPY = "files/mutation-NOTES.txt"
NOTES_PROBE = "templates/zz-mutation-notes-probe.yaml"
NOTES_PROBE_TEMPLATE = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: mutation-notes-probe
data:
  notes: {{{{ tpl (.Files.Get "{NOTES_COPY}") . | quote }}}}
"""


@dataclass(frozen=True)
class Scenario:
    name: str  # values/gke.yaml, chart/ci/default-values.yaml, probe:missing-api-key
    args: tuple[str, ...]  # helm flags
    release: str = RELEASE

    @property
    def is_probe(self) -> bool:
        return self.name.startswith("probe:")


def values_scenarios(repo: Path) -> list[Scenario]:
    """One per values file, named as the tests' ids name it (values/aks.yaml, chart/ci/...), rendered as they do."""
    cloud = [(f"values/{p.name}", p) for p in sorted((repo / "values").glob("*.yaml"))]
    ci = [(f"chart/ci/{p.name}", p) for p in sorted((repo / "chart" / "ci").glob("*-values.yaml"))]
    return [Scenario(name, tuple(value_args(path))) for name, path in cloud + ci]


def probe_scenarios(repo: Path, workdir: Path) -> list[Scenario]:
    probes = yaml.safe_load(PROBES.read_text())
    overlays = workdir / "probes"
    overlays.mkdir(parents=True, exist_ok=True)
    scenarios = []
    for probe in probes:
        overlay = overlays / f"{probe['name']}.yaml"
        overlay.write_text(yaml.safe_dump(probe["overlay"]))
        args = ("-f", str(repo / probe["base"]), "-f", str(overlay))
        scenarios.append(Scenario(f"probe:{probe['name']}", args, probe.get("release", RELEASE)))
    return scenarios


class ChartCopy:
    """A copy of chart/ (symlinks resolved) whose files a mutant may overwrite and restore."""

    def __init__(self, source: Path, parent: Path, *, notes_probe: bool) -> None:
        self.dir = parent / "chart"
        shutil.copytree(source, self.dir, symlinks=False)
        # `wandb-launch demo` finds values/local.yaml beside the chart it is given.
        (parent / "values").symlink_to(source.parent / "values")
        self.notes_probe = notes_probe
        if notes_probe:
            shutil.copy(self.dir / "templates" / "NOTES.txt", self.dir / NOTES_COPY)
            (self.dir / NOTES_PROBE).write_text(NOTES_PROBE_TEMPLATE)

    def write(self, relative: str, text: str) -> None:
        (self.dir / relative).write_text(text)
        if self.notes_probe and relative == "templates/NOTES.txt":
            (self.dir / NOTES_COPY).write_text(text)


@dataclass(frozen=True)
class Render:
    ok: bool
    output: str  # canonical JSON of the objects (ok) or the error line (not ok)

    @property
    def parse_error(self) -> bool:
        return not self.ok and self.output.startswith("parse error")


def render(helm: str, chart: Path, scenario: Scenario) -> Render:
    result = subprocess.run(
        [helm, "template", scenario.release, str(chart), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION,
         *scenario.args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        return Render(False, _error_line(result.stderr, chart))
    return Render(True, _canonical(result.stdout))


def _error_line(stderr: str, chart: Path) -> str:
    """The error a user reads, without positions (a dropped line shifts them) or temp paths."""
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    text = (lines[-1] if lines else stderr.strip()).removeprefix("Error: ").replace(str(chart), "<chart>")
    if "wandb-launch: " in text:
        return "fail: " + text.split("wandb-launch: ", 1)[1]
    return re.sub(r":\d+(:\d+)?", "", text)


def _canonical(stdout: str) -> str:
    try:
        docs = [doc for doc in yaml.safe_load_all(stdout) if doc is not None]
    except yaml.YAMLError:
        return "unparsable YAML: " + stdout
    return json.dumps(sorted(json.dumps(doc, sort_keys=True, default=str) for doc in docs))


def make_workdir(base: Path | None) -> Path:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="wandb-launch-mutate-", dir=base))


def describe_difference(before: Render, after: Render, limit: int = 6) -> list[str]:
    """What a user would see change, as `Kind/name: path: old -> new` lines (at most `limit`)."""
    if before.ok != after.ok or not before.ok:
        return [f"render: {before.output[:120] if not before.ok else 'ok'} -> {after.output[:160] if not after.ok else 'ok'}"]
    if after.output.startswith("unparsable YAML"):
        return ["render: objects -> unparsable YAML"]
    old, new = _objects(before.output), _objects(after.output)
    lines: list[str] = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key not in new or key not in old:
                lines.append(f"{key}: {'removed' if key not in new else 'added'}")
            else:
                lines.extend(f"{key}: {change}" for change in _paths_differing(old[key], new[key], ""))
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def _objects(canonical: str) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for text in json.loads(canonical):
        doc = json.loads(text)
        meta = doc.get("metadata") or {} if isinstance(doc, dict) else {}
        key = f"{doc.get('kind', '?')}/{meta.get('namespace', '')}/{meta.get('name', '?')}" if isinstance(doc, dict) else "?"
        while key in objects:
            key += "'"
        objects[key] = doc
    return objects


def _paths_differing(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            if old.get(k, _MISSING) != new.get(k, _MISSING):
                out.extend(_paths_differing(old.get(k, _MISSING), new.get(k, _MISSING), f"{path}.{k}"))
        return out
    if isinstance(old, list) and isinstance(new, list) and _named(old) and _named(new):
        before, after = {i["name"]: i for i in old}, {i["name"]: i for i in new}
        out = []
        for name in sorted(set(before) | set(after), key=str):
            if before.get(name, _MISSING) != after.get(name, _MISSING):
                out.extend(_paths_differing(before.get(name, _MISSING), after.get(name, _MISSING), f"{path}[{name}]"))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            if a != b:
                out.extend(_paths_differing(a, b, f"{path}[{i}]"))
        return out
    if isinstance(old, str) and isinstance(new, str) and "\n" in old + new:
        changed = [line for line in difflib.ndiff(old.splitlines(), new.splitlines()) if line[:2] in ("- ", "+ ")]
        return [f"{path}: {_short(line)}" for line in changed[:4]]
    return [f"{path or '.'}: {_short(old)} -> {_short(new)}"]


def _named(items: list[Any]) -> bool:
    """A list of objects each with a unique `name` (containers, env, volumes, mounts)."""
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return len(names) == len(items) and None not in names and len(set(map(str, names))) == len(names)


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, _Missing) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
