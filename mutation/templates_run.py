"""The template half of `make mutate`: mutate chart/templates one change at a time, render, test.

For each mutant (all of them, or a sample drawn with a fixed seed):
1. render every values file (and the probes) from a copy of the chart holding the mutant;
   a mutant whose template does not parse is not a defect and is not counted (invalid);
   one whose renders are all identical to the original's is skipped (equivalent by render);
2. run the offline suite on a second copy, cheapest test files first, stopping at the first
   failure: a failure kills the mutant, a green suite lets it survive.
Tests that pass both when every render fails and when every render is empty cannot see a
template: they are left out of the per-mutant runs (--all-tests keeps them).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mutation import render as rendering
from mutation.suite import ForkedSuite, SuiteRun, environment, run_suite
from mutation.template_mutants import Mutant, mutants_of

SENTINEL_FAIL = '{{- fail "mutation sentinel: every render fails" }}\n'


@dataclass
class Outcome:
    id: str
    file: str  # chart/templates/...
    line: int
    operator: str
    change: str
    status: str  # killed, survived, timeout, equivalent, invalid, error
    changed_values: list[str] = field(default_factory=list)
    changed_probes: list[str] = field(default_factory=list)
    render_diff: list[str] = field(default_factory=list)  # in the first render that changed
    killed_by: str = ""
    tests_run: int = 0
    seconds: float = 0.0


@dataclass
class Options:
    repo: Path
    cache_bin: Path
    sample: int  # 0: every mutant
    seed: int
    probes: bool
    all_tests: bool
    only: list[str]
    report: Path
    workdir: Path | None
    keep: bool


def all_mutants(chart: Path, only: list[str]) -> list[Mutant]:
    found: list[Mutant] = []
    for path in sorted(p for p in (chart / "templates").rglob("*") if p.is_file()):
        relative = str(path.relative_to(chart))
        if only and not any(Path(relative).match(pattern) or pattern in relative for pattern in only):
            continue
        found.extend(mutants_of(relative, path.read_text()))
    return found


def choose(mutants: list[Mutant], sample: int, seed: int) -> list[Mutant]:
    if not sample or sample >= len(mutants):
        return mutants
    chosen = set(m.id for m in random.Random(seed).sample(mutants, sample))
    return [m for m in mutants if m.id in chosen]


def run(options: Options) -> dict[str, Any]:
    helm = shutil.which("helm", path=str(options.cache_bin)) or shutil.which("helm")
    if helm is None:
        raise SystemExit("mutate: helm is not built; run `make tools` first")
    source = options.repo / "chart"
    work = rendering.make_workdir(options.workdir)
    started = time.monotonic()
    try:
        return _run(options, helm, source, work, started)
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(options: Options, helm: str, source: Path, work: Path, started: float) -> dict[str, Any]:
    generated = all_mutants(source, options.only)
    chosen = choose(generated, options.sample, options.seed)
    print(f"template mutants: {len(generated)} generated, {len(chosen)} tried (seed {options.seed})", flush=True)

    render_copy = rendering.ChartCopy(source, work / "render", notes_probe=True)
    test_copy = rendering.ChartCopy(source, work / "test", notes_probe=False)
    scenarios = rendering.values_scenarios(options.repo)
    probes = rendering.probe_scenarios(options.repo, work) if options.probes else []
    original = {s.name: rendering.render(helm, render_copy.dir, s) for s in scenarios + probes}
    broken = [name for name in (s.name for s in scenarios) if not original[name].ok]
    if broken:
        raise SystemExit(f"mutate: the unmutated chart does not render {', '.join(broken)}: {original[broken[0]].output}")

    suite = ForkedSuite(options.repo, environment(options.repo, test_copy.dir, options.cache_bin), work)
    baseline = suite.run(stop_at_first_failure=False)
    if baseline.exit_code != 0:
        raise SystemExit(f"mutate: the offline suite fails on the unmutated chart:\n{baseline.output[-4000:]}")
    costs = work / "test-costs.json"
    costs.write_text(json.dumps(baseline.costs))
    tests = list(baseline.passed)
    print(f"baseline: {len(tests)} tests pass on the unmutated chart in {baseline.seconds:.0f} s", flush=True)
    left_out: list[str] = []
    if not options.all_tests:
        kept = _template_sensitive(options, source, work, tests)
        left_out = [t for t in tests if t not in kept]
        tests = kept
    timeout = max(120.0, 3 * baseline.seconds)

    outcomes: list[Outcome] = []
    for n, mutant in enumerate(chosen, 1):
        outcome = _try(mutant, helm, source, render_copy, test_copy, scenarios, probes, original, suite, tests,
                       costs, timeout)  # fmt: skip
        outcomes.append(outcome)
        detail = outcome.killed_by or f"renders changed: {len(outcome.changed_values)} values files {outcome.changed_probes}"
        print(f"[{n}/{len(chosen)}] {outcome.status:<10} {outcome.file}:{outcome.line} {outcome.operator}: "
              f"{outcome.change[:110]}  {detail}", flush=True)  # fmt: skip

    report = _report(options, generated, chosen, scenarios, outcomes, baseline, tests, time.monotonic() - started)
    report["tests_left_out"] = left_out
    options.report.parent.mkdir(parents=True, exist_ok=True)
    options.report.write_text(json.dumps(report, indent=1))
    _print_summary(report, options.report)
    return report


def _template_sensitive(options: Options, source: Path, work: Path, tests: list[str]) -> list[str]:
    """Drop the tests that pass on a chart whose every render fails and on one that renders nothing."""
    insensitive = set(tests)
    for kind in ("fail", "empty"):
        sentinel = work / f"sentinel-{kind}" / "chart"
        shutil.copytree(source, sentinel, symlinks=False)
        for template in (p for p in (sentinel / "templates").rglob("*") if p.is_file()):
            template.write_text("")
        if kind == "fail":
            (sentinel / "templates" / "deployment.yaml").write_text(SENTINEL_FAIL)
        result = run_suite(
            options.repo, environment(options.repo, sentinel, options.cache_bin), select=tests,
            stop_at_first_failure=False,
        )  # fmt: skip
        insensitive &= set(result.passed)
    kept = [t for t in tests if t not in insensitive]
    print(f"tests that can see a template: {len(kept)} of {len(tests)} "
          f"({len(insensitive)} pass whether every render fails or renders nothing)", flush=True)  # fmt: skip
    return kept


def _try(
    mutant: Mutant,
    helm: str,
    source: Path,
    render_copy: rendering.ChartCopy,
    test_copy: rendering.ChartCopy,
    scenarios: list[rendering.Scenario],
    probes: list[rendering.Scenario],
    original: dict[str, rendering.Render],
    suite: ForkedSuite,
    tests: list[str],
    costs: Path,
    timeout: float,
) -> Outcome:
    text = (source / mutant.path).read_text()
    mutated = mutant.apply(text)
    outcome = Outcome(mutant.id, f"chart/{mutant.path}", mutant.line, mutant.operator, mutant.change, "equivalent")
    start = time.monotonic()
    render_copy.write(mutant.path, mutated)
    try:
        for scenario in scenarios:
            result = rendering.render(helm, render_copy.dir, scenario)
            if result.parse_error:
                outcome.status = "invalid"
                outcome.killed_by = result.output[:200]
                return outcome
            if result != original[scenario.name]:
                outcome.changed_values.append(scenario.name)
                if not outcome.render_diff:
                    outcome.render_diff = rendering.describe_difference(original[scenario.name], result)
        if not outcome.changed_values:
            for probe in probes:
                result = rendering.render(helm, render_copy.dir, probe)
                if result != original[probe.name]:
                    outcome.changed_probes.append(probe.name)
                    outcome.render_diff = rendering.describe_difference(original[probe.name], result)
                    break
    finally:
        render_copy.write(mutant.path, text)
    if not (outcome.changed_values or outcome.changed_probes):
        outcome.seconds = time.monotonic() - start
        return outcome
    changed = set(outcome.changed_values)
    select = [t for t in tests if not (bound := _bound_scenarios(t, scenarios)) or bound & changed]
    outcome.tests_run = len(select)
    if select:
        test_copy.write(mutant.path, mutated)
        try:
            outcome.status, outcome.killed_by = _verdict(suite.run(select=select, costs=costs, timeout=timeout))
        finally:
            test_copy.write(mutant.path, text)
    else:
        outcome.status = "survived"
    outcome.seconds = time.monotonic() - start
    return outcome


def _bound_scenarios(nodeid: str, scenarios: list[rendering.Scenario]) -> set[str]:
    """The values files a test is parametrized with, by its id (values/gke.yaml, ci/default-values.yaml).

    Such a test renders only those files: when none of their renders changed, its inputs are
    those of the unmutated chart and it cannot fail, so it is not run.
    """
    params = nodeid.partition("[")[2]
    return {s.name for s in scenarios if s.name.removeprefix("chart/") in params}


def _verdict(suite: SuiteRun) -> tuple[str, str]:
    if suite.exit_code is None:
        return "timeout", "the suite ran out of time"
    if suite.exit_code == 0:
        return "survived", ""
    if suite.exit_code in (1, 2) and suite.failed:
        return "killed", suite.failed[0]
    return "error", f"pytest exit code {suite.exit_code}: {suite.output.strip().splitlines()[-1:]}"


def _git_commit(repo: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _report(
    options: Options,
    generated: list[Mutant],
    chosen: list[Mutant],
    scenarios: list[rendering.Scenario],
    outcomes: list[Outcome],
    baseline: SuiteRun,
    tests: list[str],
    seconds: float,
) -> dict[str, Any]:
    status = Counter(o.status for o in outcomes)
    killed = status["killed"] + status["timeout"]
    total = killed + status["survived"]
    return {
        "commit": _git_commit(options.repo),
        "generated": len(generated),
        "generated_by_operator": dict(Counter(m.operator for m in generated)),
        "tried": len(chosen),
        "sample": options.sample,
        "seed": options.seed,
        "probes": options.probes,
        "values_files": [s.name for s in scenarios],
        "tests_per_mutant": len(tests),
        "test_file_seconds": {f: round(c, 1) for f, c in sorted(baseline.costs.items(), key=lambda fc: -fc[1])},
        "baseline_seconds": round(baseline.seconds, 1),
        "wall_seconds": round(seconds, 1),
        "status": dict(status),
        "equivalent_by_values_render": sum(1 for o in outcomes if o.status != "invalid" and not o.changed_values),
        "revived_by_probes": sum(1 for o in outcomes if o.changed_probes),
        "score": {"killed": killed, "total": total, "percent": round(100 * killed / total, 1) if total else None},
        "survivors": [asdict(o) for o in outcomes if o.status == "survived"],
        "mutants": [asdict(o) for o in outcomes],
    }


def _where(outcome: dict[str, Any], values_files: list[str]) -> str:
    if outcome["changed_values"] and set(outcome["changed_values"]) == set(values_files):
        return "every values file"
    return ", ".join(outcome["changed_values"] + [p for p in outcome["changed_probes"]])


def _print_summary(report: dict[str, Any], path: Path) -> None:
    print()
    print(f"Surviving template mutants ({len(report['survivors'])}):")
    for s in report["survivors"]:
        print(f"  {s['file']}:{s['line']}  [{s['operator']}] {s['change']}")
        print(f"      renders changed: {_where(s, report['values_files'])}")
        for line in s["render_diff"]:
            print(f"        {line}")
    status = report["status"]
    score = report["score"]
    print()
    print(f"tried {report['tried']} of {report['generated']} mutants (sample {report['sample'] or 'all'}, seed {report['seed']})")
    print(f"  invalid (template does not parse, not counted): {status.get('invalid', 0)}")
    print(f"  equivalent by render (no render changed, skipped): {status.get('equivalent', 0)}"
          f"  [identical for every values file: {report['equivalent_by_values_render']}, "
          f"of which a probe told apart and tested: {report['revived_by_probes']}]")  # fmt: skip
    if status.get("error"):
        print(f"  errors (suite did not run properly, not counted): {status['error']}")
    print(f"score: {score['killed']} killed / {score['total']} = {score['percent']}%"
          f"  (timeouts counted as killed: {status.get('timeout', 0)})")  # fmt: skip
    print(f"wall time {report['wall_seconds'] / 60:.1f} min; report: {path}")
