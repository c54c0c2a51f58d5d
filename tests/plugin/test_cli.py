"""The CLI as a program: help, lazy imports, and clusters that are not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from wandb_launch.cli import COMMANDS

from ..clirun import one_line_error, run_process
from ..paths import REPO, VENV_BIN

HEAVY = ("wandb", "kubernetes", "pyhelm3", "pydantic")


@pytest.mark.parametrize("command", [*COMMANDS, "demo", "--version"])
def test_help_of_every_command(cli, command: str) -> None:
    result = cli(command, "--help") if command != "--version" else cli("--version")
    assert result.code == 0
    assert result.out.strip()


def _heavy_modules_after(argv: list[str]) -> list[str]:
    code = (
        "import sys\nfrom wandb_launch.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return json.loads(result.stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize("argv", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_imports_neither_sdk_nor_cluster_client(argv: list[str]) -> None:
    assert _heavy_modules_after(argv) == []


def test_values_pays_for_the_sdk_but_not_the_cluster_client() -> None:
    assert _heavy_modules_after(["values", "--cloud", "local", "--queue", "q"]) == ["pydantic", "wandb"]


def test_preview_without_server_does_not_import_the_cluster_client(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text("{}")
    assert "kubernetes" not in _heavy_modules_after(["preview-job", str(tmp_path / "q.json")])


@pytest.mark.parametrize("argv", [["status"], ["verify"], ["preview-job", "--server-dry-run", "-"]])
def test_no_cluster_reachable_is_exit_2(cli, dead_kubeconfig: Path, monkeypatch, argv: list[str]) -> None:
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("{}"))
    result = cli(*argv, "--kubeconfig", str(dead_kubeconfig))
    assert result.code == 2
    assert "no cluster reachable at https://127.0.0.1:9" in one_line_error(result)


def test_missing_kubeconfig_names_the_flag(cli, tmp_path: Path) -> None:
    result = cli("status", "--kubeconfig", str(tmp_path / "none"))
    assert result.code == 2
    line = one_line_error(result)
    assert "--kubeconfig: no cluster configured" in line and str(tmp_path / "none") in line


def test_install_checks_values_and_key_before_any_cluster(
    cli, tmp_path: Path, dead_kubeconfig: Path, monkeypatch
) -> None:
    # The chart's own rules first (rendered offline), with its one line ...
    refused = tmp_path / "refused.yaml"
    refused.write_text(
        "launchConfig:\n  queues: [q]\n  builder: {type: kaniko, destination: myacr.azurecr.io/team/img}\n"
    )
    result = cli("install", "-f", str(refused), "--api-key-env", "K", "--kubeconfig", str(dead_kubeconfig))
    assert result.code == 2
    assert f"--values {refused}: the chart refuses them: launchConfig.builder.buildContextStore is required" in (
        one_line_error(result)
    )
    # ... then the launch config it renders, by the agent's AgentConfig (extraConfig passes the chart's rules).
    bad = tmp_path / "bad.yaml"
    bad.write_text("launchConfig:\n  queues: [q]\n  extraConfig: {builder: {destination: myacr.azurecr.io/team/img}}\n")
    result = cli("install", "-f", str(bad), "--api-key-env", "K", "--kubeconfig", str(dead_kubeconfig))
    assert result.code == 2
    assert "launchConfig (from " in one_line_error(result) and "may not include a tag" in result.err
    monkeypatch.delenv("WANDB_LAUNCH_TEST_KEY", raising=False)
    result = cli(
        "install",
        "-f",
        "values/local.yaml",
        "--api-key-env",
        "WANDB_LAUNCH_TEST_KEY",
        "--kubeconfig",
        str(dead_kubeconfig),
    )
    assert "--api-key-env: environment variable WANDB_LAUNCH_TEST_KEY is not set" in one_line_error(result)
    result = cli("install", "-f", "values/aks.yaml", "--existing-secret", "k", "--kubeconfig", str(dead_kubeconfig))
    assert "--azure-storage-key-env: kaniko on Azure needs the storage account key" in one_line_error(result)
    # A key the SDK would refuse at login (check_api_key), refused before any cluster, never shown.
    monkeypatch.setenv("WANDB_LAUNCH_TEST_KEY", "secret-value-123")
    result = cli("install", "-f", "values/local.yaml", "--api-key-env", "WANDB_LAUNCH_TEST_KEY", "--kubeconfig", str(dead_kubeconfig))
    assert result.code == 2
    assert "--api-key-env: WANDB_LAUNCH_TEST_KEY does not hold a W&B API key: API key must have 40+ characters" in one_line_error(result)
    assert "secret-value-123" not in result.out + result.err
    key = "secret-value-" + "1234567890" * 4
    monkeypatch.setenv("WANDB_LAUNCH_TEST_KEY", key)
    result = cli(
        "install",
        "-f",
        "values/local.yaml",
        "--api-key-env",
        "WANDB_LAUNCH_TEST_KEY",
        "--kubeconfig",
        str(dead_kubeconfig),
    )
    assert result.code == 2 and "no cluster reachable" in one_line_error(result)
    assert key not in result.out + result.err


def test_unknown_values_file_for_install(cli) -> None:
    result = cli("install", "-f", "values/nope.yaml", "--api-key-env", "X")
    assert result.code == 2
    assert "--values values/nope.yaml: cannot read" in one_line_error(result)


def test_console_script_exit_code() -> None:
    result = run_process("values", "--cloud", "mars")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "wandb-launch values: error: --cloud: unknown cloud 'mars'; use one of: gke, eks, aks, local"
    )


def test_tables_align_and_colour_only_on_a_tty(monkeypatch) -> None:
    import io

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    from wandb_launch import output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    rows = [("fail", "rbac", "may not get pods"), ("ok", "pod-security", "admits run pods")]
    plain = output.table(("STATUS", "CHECK", "DETAIL"), rows, io.StringIO()).splitlines()
    assert [line.index(word) for line, word in zip(plain[1:], ("rbac", "pod-security"), strict=True)] == [8, 8]
    coloured = output.table(("STATUS", "CHECK", "DETAIL"), rows, Terminal())
    assert "\x1b[31mfail\x1b[0m" in coloured and "\x1b[" not in "\n".join(plain)


def test_values_layers_merge_as_helm_merges_them() -> None:
    """install hands helm one merged layer: maps merge key by key, the rest is replaced."""
    from wandb_launch.chartvalues import deep_merge

    assert deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": None}) == {
        "a": {"b": 1, "c": [2]},
        "d": None,
    }


@pytest.mark.parametrize(
    ("argv", "codes"),
    [
        # argparse itself swallows a failed write of --help and exits 0.
        (["--help"], {0, 141}),
        (["values", "--spec", "values/specs/gke.yaml"], {141}),
        (["preview-job", "-o", "yaml", "tests/plugin/queue-config.yaml"], {141}),
    ],
    ids=["help", "values", "preview-job"],
)
def test_a_closed_pipe_ends_quietly(argv: list[str], codes: set[int]) -> None:
    """`wandb-launch ... | head`: the reader is gone before the first write; no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(VENV_BIN / "wandb-launch"), *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode in codes  # 141: as for a tool killed by SIGPIPE (`yes | head`)
