"""The Python half of `make mutate`: mutmut over plugin/wandb_launch, running tests/plugin.

mutmut names a mutant's module from its path below the project root, dropping only a `src/`
prefix, and puts `mutants/` (or `mutants/src`) first on sys.path. Our package lives in
plugin/wandb_launch, so mutmut runs in a staging directory (build/mutate/python) where it is
laid out as src/wandb_launch, next to links to tests/, chart/, values/ ... of the checkout.
The settings are [tool.mutmut] in pyproject.toml (paths are the staging layout's).

The chart's in-cluster check (chart/files/helm_test_check.py, run by the `helm test` pod and
loaded by `chartfiles` under the module name wandb_launch_chart_helm_test_check) is mutated
too: it is staged as src/wandb_launch_chart_helm_test_check.py, so mutmut gives its mutants
that module name, and a conftest.py at the staging root makes `chartfiles` hand out that
(mutated) module instead of loading the chart's file.

Tests that run the `wandb-launch` console script in a child process import the installed
(unmutated) package: only in-process tests (the `cli` fixture, direct imports) can kill a
mutant, and mutmut only runs, per mutant, the tests that called the mutated function.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

# Linked into the staging directory, as the tests read them from the repository root.
LINKED = ("tests", "chart", "values", "hack", "plugin", "ct.yaml", "ct-lint")
# mutmut's exit codes (mutmut/stats.py, 3.8.1): 1 and 3 are kills, 0 a survivor.
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check", None: "not checked"}  # fmt: skip

# chartfiles' module name for the chart's files/helm_test_check.py.
IN_CLUSTER_CHECK = "wandb_launch_chart_helm_test_check"
_CONFTEST = f"""# Written by mutation/python_run.py: chartfiles hands out the in-cluster check mutmut mutated
# (mutants/src/{IN_CLUSTER_CHECK}.py, first on sys.path) instead of loading the chart's copy.
# Only for the chart's own file, wherever a test copies the chart: a file that differs (a
# test's chart with another check, to see that --chart's check is the one used) loads as itself.
from pathlib import Path

import {IN_CLUSTER_CHECK} as _in_cluster_check
from wandb_launch import chartfiles

_chart_check = (Path(__file__).parent / "chart" / "files" / "helm_test_check.py").read_bytes()
_load_file = chartfiles._load
chartfiles._load = lambda path: _in_cluster_check if path.read_bytes() == _chart_check else _load_file(path)
"""

_SHOW = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name) for name in json.load(sys.stdin)}))
"""

# mutmut has no "generate only" command; a sample needs the names first. These are the
# generation steps of `mutmut run` (mutmut 3.8.1, pinned in pyproject.toml's `mutate` extra).
_GENERATE = """
import os, sys
import mutmut.__main__ as m
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir
m.set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir()
copy_also_copy_files()
m.create_mutants(int(sys.argv[1]))
"""


def stage_checkout(repo: Path, stage: Path) -> None:
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "src").mkdir(parents=True)
    # symlinks=True: the package's chart/ link stays a link (mutmut does not walk into it), so
    # the chart's files are not mutated, nor imported, as modules of the package.
    shutil.copytree(repo / "plugin" / "wandb_launch", stage / "src" / "wandb_launch", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(repo / "pyproject.toml", stage / "pyproject.toml")
    shutil.copy(repo / "chart" / "files" / "helm_test_check.py", stage / "src" / f"{IN_CLUSTER_CHECK}.py")
    # Beside it, as in the chart and the test pod: its default --rbac-needs is the file next to it.
    shutil.copy(repo / "chart" / "files" / "agent-rbac.yaml", stage / "src" / "agent-rbac.yaml")
    (stage / "conftest.py").write_text(_CONFTEST)
    for name in LINKED:
        (stage / name).symlink_to(repo / name)


def select_cluster_tests(pyproject: Path, tests: list[str], kubeconfig: Path) -> None:
    """The staged pyproject.toml runs the offline selection and `tests` (cluster tests) too,
    against the control plane of `kubeconfig`: a mutant counts as killed by either."""
    text = pyproject.read_text()
    selection = re.compile(r"^pytest_add_cli_args_test_selection = (.*)$", re.M)
    cli_args = re.compile(r'^pytest_add_cli_args = \[(.*)\]$', re.M)
    found = selection.search(text)
    if not found or not cli_args.search(text):
        raise SystemExit("mutate: pyproject.toml's [tool.mutmut] has no pytest_add_cli_args(_test_selection) line")
    offline: list[str] = json.loads(found.group(1))
    # The offline selection's `-m "not cluster"` would drop the cluster tests; tests/plugin
    # and tests/chart hold none, so it can go.
    paths = [arg for i, arg in enumerate(offline) if arg != "-m" and (i == 0 or offline[i - 1] != "-m")]
    text = selection.sub(lambda _: f"pytest_add_cli_args_test_selection = {json.dumps([*paths, *tests])}", text)
    text = cli_args.sub(lambda m: f'pytest_add_cli_args = [{m.group(1)}, "--kubeconfig", {json.dumps(str(kubeconfig))}]', text)
    pyproject.write_text(text)


def mutant_names(stage: Path) -> list[str]:
    names: list[str] = []
    for meta in sorted((stage / "mutants").rglob("*.py.meta")):
        names.extend(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def results(stage: Path) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for meta in sorted((stage / "mutants").rglob("*.py.meta")):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def run(
    *, repo: Path, stage: Path, sample: int, seed: int, max_children: int, report: Path, cache_bin: Path,
    only: list[str] | None = None, cluster_tests: list[str] | None = None,
) -> int:
    """`cluster_tests`: run these tests too (besides the offline selection of pyproject.toml)
    against a local control plane started here once for the whole run (`--kubeconfig` to pytest)."""
    started = time.monotonic()
    if cluster_tests:
        from wandb_launch.controlplane import LocalControlPlane

        control_plane = LocalControlPlane(stage.parent / "python-control-plane")
        control_plane.start()
        try:
            return _run(repo=repo, stage=stage, sample=sample, seed=seed, max_children=max_children, report=report,
                        cache_bin=cache_bin, only=only, cluster_tests=cluster_tests,
                        kubeconfig=control_plane.kubeconfig, started=started)  # fmt: skip
        finally:
            control_plane.stop()
    return _run(repo=repo, stage=stage, sample=sample, seed=seed, max_children=max_children, report=report,
                cache_bin=cache_bin, only=only, started=started)  # fmt: skip


def _run(
    *, repo: Path, stage: Path, sample: int, seed: int, max_children: int, report: Path, cache_bin: Path,
    only: list[str] | None, started: float, cluster_tests: list[str] | None = None, kubeconfig: Path | None = None,
) -> int:
    bin_dir = Path(sys.executable).parent
    mutmut = bin_dir / "mutmut"
    if not mutmut.exists():
        raise SystemExit("mutate: mutmut is not installed; run `make mutate` (it installs the `mutate` extra)")
    stage_checkout(repo, stage)
    if cluster_tests and kubeconfig:
        select_cluster_tests(stage / "pyproject.toml", cluster_tests, kubeconfig)
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_LAUNCH_CHART", "KUBECONFIG")}
    if cluster_tests:
        # One control plane for every mutant's session: releases the tests share stay
        # installed for the next session (tests/cluster/test_in_cluster_check.py).
        env["WANDB_LAUNCH_TEST_KEEP_RELEASES"] = "1"
    env["PATH"] = f"{cache_bin}{os.pathsep}{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    chosen: list[str] = []
    if sample or only:
        generated = subprocess.run(
            [sys.executable, "-c", _GENERATE, str(max_children)], cwd=stage, env=env, capture_output=True, text=True
        )
        if generated.returncode != 0:
            raise SystemExit(f"mutate: mutmut could not generate mutants:\n{generated.stdout}{generated.stderr}")
        every = mutant_names(stage)
        pool = [name for name in every if not only or _module(name) in only]
        if not pool:
            raise SystemExit(f"mutate: no mutants in {', '.join(only or [])}; modules are named as wandb_launch.inputs")
        chosen = sorted(random.Random(seed).sample(pool, min(sample, len(pool)))) if sample else pool
        print(f"python mutants: {len(every)} generated, {len(pool)} in scope, {len(chosen)} tried (seed {seed})",
              flush=True)  # fmt: skip
    log = stage / "mutmut-run.log"
    with log.open("w") as out:
        code = subprocess.run(
            [str(mutmut), "run", "--max-children", str(max_children), *chosen],
            cwd=stage, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
        ).returncode  # fmt: skip
    exit_codes = results(stage)
    if chosen:
        exit_codes = {name: exit_codes[name] for name in chosen}
    if code != 0 or not exit_codes:
        print(log.read_text()[-4000:])
        raise SystemExit(f"mutate: mutmut run failed ({code}); log: {log}")
    statuses = {name: STATUS.get(c, "suspicious") for name, c in exit_codes.items()}
    survivors = sorted(name for name, status in statuses.items() if status == "survived")
    diffs = _diffs(stage, env, survivors)
    counts = Counter(statuses.values())
    killed = counts["killed"] + counts["timeout"]
    # A mutant no test even calls is not caught either: it counts against the score.
    total = killed + counts["survived"] + counts["no tests"]
    data: dict[str, Any] = {
        "generated": len(mutant_names(stage)),
        "tried": len(exit_codes),
        "sample": sample,
        "only": only or [],
        "tests": cluster_tests or "offline (pyproject.toml's [tool.mutmut])",
        "seed": seed,
        "status": dict(counts),
        "score": {"killed": killed, "total": total, "percent": round(100 * killed / total, 1) if total else None},
        "wall_seconds": round(time.monotonic() - started, 1),
        "by_module": _by_module(statuses),
        "survivors": [{"name": name, "where": _where(repo, name, diffs[name]), "diff": diffs[name]} for name in survivors],
        "no_tests": sorted(name for name, status in statuses.items() if status == "no tests"),
    }
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(data, indent=1))
    _print(data, report)
    return 0


def _module(name: str) -> str:
    """wandb_launch.selfcheck.xǁClassǁmethod__mutmut_3 / wandb_launch.cli.x_main__mutmut_1 -> wandb_launch.selfcheck"""
    parts = name.split(".")
    return ".".join(p for p in parts[: next(i for i, p in enumerate(parts) if p.startswith(("x_", "xǁ")))])


def _by_module(statuses: dict[str, str]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for name, status in statuses.items():
        table.setdefault(_module(name), Counter())[status] += 1
    return {module: dict(counts) for module, counts in sorted(table.items())}


def _diffs(stage: Path, env: dict[str, str], names: list[str]) -> dict[str, str]:
    """The changed lines of each mutant (`mutmut show`, for all of them in one process)."""
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW], input=json.dumps(names), cwd=stage, env=env, capture_output=True, text=True
    )
    if shown.returncode != 0:
        return {name: f"(mutmut show failed: {shown.stderr.strip()[-200:]})" for name in names}
    diffs: dict[str, str] = json.loads(shown.stdout.splitlines()[-1])
    return {
        name: "\n".join(line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))
        for name, diff in diffs.items()
    }


def _where(repo: Path, name: str, diff: str) -> str:
    """plugin/wandb_launch/<module>.py (or chart/files/helm_test_check.py):<line of the first
    removed line>, found in the checkout."""
    module = _module(name)
    path = Path("chart/files/helm_test_check.py") if module == IN_CLUSTER_CHECK else Path("plugin", *module.split(".")).with_suffix(".py")
    removed = next((line[1:].strip() for line in diff.splitlines() if line.startswith("-") and line[1:].strip()), "")
    lines = (repo / path).read_text().splitlines() if (repo / path).is_file() else []
    number = next((i for i, line in enumerate(lines, 1) if removed and line.strip() == removed), 0)
    return f"{path}:{number}" if number else str(path)


def _print(data: dict[str, Any], report: Path) -> None:
    print(f"\nSurviving Python mutants ({len(data['survivors'])}):")
    for survivor in data["survivors"]:
        print(f"  {survivor['where']}  {survivor['name']}")
        for line in survivor["diff"].splitlines():
            print(f"      {line.strip()[:150]}")
    print("\nby module (killed / survived / no tests):")
    for module, counts in data["by_module"].items():
        print(f"  {module:<28} {counts.get('killed', 0) + counts.get('timeout', 0):>4} / "
              f"{counts.get('survived', 0):>4} / {counts.get('no tests', 0):>4}")  # fmt: skip
    counts = data["status"]
    score = data["score"]
    print(f"\ntried {data['tried']} of {data['generated']} mutants (sample {data['sample'] or 'all'}, seed {data['seed']})")
    print(f"  killed {counts.get('killed', 0)}, survived {counts.get('survived', 0)}, "
          f"no test calls the mutated function {counts.get('no tests', 0)} (counted as not killed)")  # fmt: skip
    print(f"score: {score['killed']} killed / {score['total']} = {score['percent']}%"
          f"  (timeouts counted as killed: {counts.get('timeout', 0)})")  # fmt: skip
    print(f"wall time {data['wall_seconds'] / 60:.1f} min; report: {report}")
