"""The CLI as a program: help, lazy imports, and clusters that are not there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wandb_launch.cli import COMMANDS

from .conftest import one_line_error, run_process

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


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """A well-formed kubeconfig whose server is a closed port on this machine."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: dead, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: dead}}]\n"
    )
    return path


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
    bad = tmp_path / "bad.yaml"
    bad.write_text("launchConfig:\n  queues: [q]\n  builder: {type: kaniko, destination: myacr.azurecr.io/team/img}\n")
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
    monkeypatch.setenv("WANDB_LAUNCH_TEST_KEY", "secret-value-123")
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
    assert "secret-value-123" not in result.out + result.err


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
