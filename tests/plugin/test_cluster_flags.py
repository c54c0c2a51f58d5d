"""The flags every cluster command shares (wandb_launch.clusterargs): Helm's plugin env as
their defaults, what `--help` says about them, and the release they name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wandb_launch.cli import build_parser
from wandb_launch.clusterargs import cluster_ref
from wandb_launch.clusterref import ClusterRef

from ..clirun import one_line_error

CLUSTER_COMMANDS = ["install", "upgrade", "status", "verify", "preview-job", "cleanup", "adopt"]
# Helm sets these for a plugin from its own flags (`helm launch status -n team --kube-context c`).
HELM_ENV = ("KUBECONFIG", "HELM_KUBECONTEXT", "HELM_NAMESPACE", "HELM_BIN")


@pytest.fixture
def no_helm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in HELM_ENV:
        monkeypatch.delenv(var, raising=False)


def _release(*argv: str) -> ClusterRef:
    """The release a command line names, as the command sees it."""
    return cluster_ref(build_parser().parse_args(list(argv)))


def _option_help(help_text: str) -> dict[str, str]:
    """`--help` output as {long option: its help sentence} (one line each at this width)."""
    helps = {}
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"  -", line):
            continue
        invocation, _, text = line.strip().partition("  ")
        long_option = re.findall(r"--[\w-]+", invocation)[-1]
        helps[long_option] = text.strip() or lines[i + 1].strip()
    return helps


@pytest.mark.usefixtures("no_helm_env")
@pytest.mark.parametrize("command", CLUSTER_COMMANDS)
def test_defaults_without_flags_or_env(command: str) -> None:
    argv = [command, "-"] if command == "preview-job" else [command]
    assert _release(*argv) == ClusterRef(
        kubeconfig=None, context=None, namespace="default", release="wandb-launch", helm="helm"
    )


@pytest.mark.usefixtures("no_helm_env")
@pytest.mark.parametrize("command", CLUSTER_COMMANDS)
def test_helm_plugin_env_is_the_default(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/etc/team/kubeconfig")
    monkeypatch.setenv("HELM_KUBECONTEXT", "team-ctx")
    monkeypatch.setenv("HELM_NAMESPACE", "team-a")
    monkeypatch.setenv("HELM_BIN", "/opt/helm/bin/helm")
    argv = [command, "-"] if command == "preview-job" else [command]
    assert _release(*argv) == ClusterRef(
        kubeconfig="/etc/team/kubeconfig",
        context="team-ctx",
        namespace="team-a",
        release="wandb-launch",
        helm="/opt/helm/bin/helm",
    )
    # A flag wins over the env, as with helm's own flags.
    assert _release(
        *argv, "--kubeconfig", "k", "--kube-context", "c", "-n", "ns", "--release", "r", "--helm-bin", "h"
    ) == ClusterRef(kubeconfig="k", context="c", namespace="ns", release="r", helm="h")


@pytest.mark.usefixtures("no_helm_env")
def test_empty_env_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in HELM_ENV:
        monkeypatch.setenv(var, "")
    assert _release("status") == ClusterRef()


def test_namespace_short_flag(no_helm_env: None) -> None:
    assert _release("status", "-n", "team-b").namespace == "team-b"
    assert _release("status", "--namespace", "team-c").namespace == "team-c"


def test_kube_context_from_helm_env_is_the_one_reported(cli, dead_kubeconfig: Path) -> None:
    """`helm launch status --kube-context nope`: Helm passes it as HELM_KUBECONTEXT, and the refusal names it."""
    kubeconfig = dead_kubeconfig
    result = cli("status", env={"KUBECONFIG": str(kubeconfig), "HELM_KUBECONTEXT": "nope"})
    assert result.code == 2
    line = one_line_error(result)
    # The kubeconfig of $KUBECONFIG, the context of $HELM_KUBECONTEXT.
    assert f"status: error: --kube-context: no cluster configured ({kubeconfig}: " in line
    assert "Expected object with name nope" in line


def test_helm_bin_from_helm_env_renders_the_values(cli, tmp_path: Path) -> None:
    """`values` renders the chart with the helm Helm runs us with ($HELM_BIN), not the first on PATH."""
    result = cli("values", "--cloud", "local", "--queue", "q", env={"HELM_BIN": str(tmp_path / "no-helm")})
    assert result.code == 2
    assert f"--helm-bin: '{tmp_path / 'no-helm'}' is not an executable; install helm or set HELM_BIN" in (
        one_line_error(result)
    )


@pytest.mark.parametrize("output", ["table", "json", "yaml"])
def test_output_formats(output: str, no_helm_env: None) -> None:
    assert build_parser().parse_args(["status", "-o", output]).output == output
    assert build_parser().parse_args(["status", "--output", output]).output == output


def test_output_default_is_table_and_others_refused(cli) -> None:
    assert build_parser().parse_args(["status"]).output == "table"
    result = cli("status", "-o", "xml")
    assert result.code == 2
    assert "argument -o/--output: invalid choice: 'xml' (choose from 'table', 'json', 'yaml')" in one_line_error(
        result
    )


@pytest.mark.parametrize("command", CLUSTER_COMMANDS)
def test_help_says_where_each_default_comes_from(cli, command: str) -> None:
    result = cli(command, "--help", env={"COLUMNS": "200"})
    assert result.code == 0
    assert "\ncluster:\n" in result.out, "the shared flags are grouped under `cluster`"
    helps = _option_help(result.out)
    assert helps["--kubeconfig"] == "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    assert helps["--kube-context"] == "kube context (default: $HELM_KUBECONTEXT, the current one)"
    assert helps["--namespace"] == "namespace of the Helm release (default: $HELM_NAMESPACE or default)"
    assert helps["--release"] == "Helm release name (default: wandb-launch)"
    assert helps["--helm-bin"] == "helm binary (default: $HELM_BIN or helm)"
    assert "-n NAMESPACE, --namespace NAMESPACE" in result.out
    if command != "preview-job":  # preview-job has its own --output (its table is the Job)
        assert helps["--output"] == "output format (default: table)"


def test_values_help_names_helm_bin(cli) -> None:
    result = cli("values", "--help", env={"COLUMNS": "200"})
    assert _option_help(result.out)["--helm-bin"] == "helm binary (default: $HELM_BIN or helm)"
