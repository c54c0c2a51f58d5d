"""The offline suite (tests/chart, tests/plugin) run against a chart copy, as the mutation run needs it.

WANDB_LAUNCH_CHART points the tests at the copy (tests/chart/chartlib.py, tests/plugin and the
plugin itself honour it). Cluster tests are left out (`-m "not cluster"`), and so is
test_ct_lint: ct lints the repository's chart/ by its ct.yaml, never the copy, and its
`helm lint` of chart/ci/*-values.yaml is what test_helm_lint_strict runs on the copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUITES = ("tests/chart", "tests/plugin")
NOT_ON_A_COPY = ("tests/chart/test_chart_lint.py::test_ct_lint",)


@dataclass(frozen=True)
class SuiteRun:
    exit_code: int | None  # None: timed out
    seconds: float
    failed: list[str]  # node ids of failed or erroring tests, in the order they failed
    passed: list[str]
    costs: dict[str, float] = field(default_factory=dict)  # seconds per test file
    output: str = ""


def environment(repo: Path, chart: Path, cache_bin: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "WANDB_LAUNCH_CHART") and not k.startswith("MUTATION_")}
    env.update(
        WANDB_LAUNCH_CHART=str(chart),
        PATH=f"{cache_bin}{os.pathsep}{env.get('PATH', '')}",
        # -p mutation.pytest_hooks imports this package from the checkout.
        PYTHONPATH=os.pathsep.join(filter(None, (str(repo), env.get("PYTHONPATH")))),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_suite(
    repo: Path,
    env: dict[str, str],
    *,
    select: list[str] | None = None,
    costs: Path | None = None,
    stop_at_first_failure: bool = True,
    timeout: float | None = None,
) -> SuiteRun:
    """pytest over both offline suites (or the `select`ed node ids) in a child process group of its own."""
    with tempfile.TemporaryDirectory(prefix="mutation-suite-") as scratch:
        results = Path(scratch) / "results.json"
        extra = {"MUTATION_RESULTS": str(results)}
        if select is not None:
            (Path(scratch) / "select.json").write_text(json.dumps(select))
            extra["MUTATION_SELECT"] = str(Path(scratch) / "select.json")
        if costs is not None:
            extra["MUTATION_TEST_COSTS"] = str(costs)
        args = [sys.executable, "-m", "pytest", *SUITES, "-m", "not cluster", "-q", "-p", "no:cacheprovider",
                "-p", "mutation.pytest_hooks", "-W", "ignore"]  # fmt: skip
        args += [f"--deselect={nodeid}" for nodeid in NOT_ON_A_COPY]
        if stop_at_first_failure:
            args.append("-x")
        start = time.monotonic()
        process = subprocess.Popen(
            args, cwd=repo, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            output, _ = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            code = None
        seconds = time.monotonic() - start
        data = json.loads(results.read_text()) if results.is_file() else {"passed": [], "failed": [], "costs": {}}
    return SuiteRun(code, seconds, data["failed"], data["passed"], data["costs"], output)


class ForkedSuite:
    """The suite run by pytest.main in a child forked from a process that has already collected it.

    Importing pytest, the SDK and the test modules costs seconds per run; forking a warm
    process pays it once (as mutmut does). Every mutant is tested against the same chart copy,
    so WANDB_LAUNCH_CHART is fixed before the test modules are imported.
    """

    def __init__(self, repo: Path, env: dict[str, str], scratch: Path) -> None:
        import pytest

        self.repo = repo
        self.scratch = scratch
        os.environ.clear()
        os.environ.update(env)
        os.chdir(repo)
        self.args = [*SUITES, "-m", "not cluster", "-q", "-p", "no:cacheprovider", "-p", "mutation.pytest_hooks",
                     "-W", "ignore", *(f"--deselect={nodeid}" for nodeid in NOT_ON_A_COPY)]  # fmt: skip
        with open(os.devnull, "w") as quiet:
            saved = os.dup(1), os.dup(2)
            os.dup2(quiet.fileno(), 1)
            os.dup2(quiet.fileno(), 2)
            try:
                pytest.main(["--collect-only", *self.args])
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)

    def run(
        self,
        *,
        select: list[str] | None = None,
        costs: Path | None = None,
        stop_at_first_failure: bool = True,
        timeout: float | None = None,
    ) -> SuiteRun:
        results, log = self.scratch / "results.json", self.scratch / "pytest.log"
        results.unlink(missing_ok=True)
        extra = {"MUTATION_RESULTS": str(results)}
        if select is not None:
            (self.scratch / "select.json").write_text(json.dumps(select))
            extra["MUTATION_SELECT"] = str(self.scratch / "select.json")
        if costs is not None:
            extra["MUTATION_TEST_COSTS"] = str(costs)
        args = [*self.args, *(["-x"] if stop_at_first_failure else [])]
        sys.stdout.flush()
        sys.stderr.flush()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: its own process group (helm and checkov die with it), output to the log
            exit_code = 3
            try:
                import pytest

                os.setpgid(0, 0)
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.environ.update(extra)
                exit_code = int(pytest.main(args))
            finally:
                os._exit(exit_code)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child did it first
        code: int | None = None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if timeout is not None and time.monotonic() - start > timeout:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)
        seconds = time.monotonic() - start
        data = json.loads(results.read_text()) if results.is_file() else {"passed": [], "failed": [], "costs": {}}
        return SuiteRun(code, seconds, data["failed"], data["passed"], data["costs"], log.read_text(errors="replace"))
