"""`helm plugin install ./plugin` with the real helm binary, then `helm launch ...`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ..paths import REPO


@pytest.fixture(scope="module")
def helm(helm_plugin):
    return helm_plugin


def test_plugin_is_listed(helm) -> None:
    listed = helm("plugin", "list")
    assert listed.returncode == 0
    version = yaml.safe_load((REPO / "chart" / "Chart.yaml").read_text())["version"]
    assert any(line.split()[:2] == ["launch", version] for line in listed.stdout.splitlines()), listed.stdout


def test_help_lists_the_same_commands(helm) -> None:
    result = helm("launch", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("values", "install", "upgrade", "status", "verify", "preview-job", "demo"):
        assert command in result.stdout


def test_values_through_helm(helm, tmp_path: Path) -> None:
    out = tmp_path / "local.yaml"
    result = helm("launch", "values", "--spec", "values/specs/local.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (REPO / "values/local.yaml").read_text()


def test_bad_input_keeps_exit_code_2_through_helm(helm) -> None:
    result = helm("launch", "values", "--cloud", "mars")
    assert result.returncode != 0
    assert "--cloud: unknown cloud 'mars'" in result.stderr


def test_helm_global_flags_reach_the_cli(helm, dead_kubeconfig: Path) -> None:
    # helm turns --kube-context / --kubeconfig into HELM_KUBECONTEXT / KUBECONFIG for plugins.
    kubeconfig = dead_kubeconfig
    result = helm("--kubeconfig", str(kubeconfig), "--kube-context", "elsewhere", "launch", "status")
    assert "--kube-context: no cluster configured" in result.stderr and "elsewhere" in result.stderr
    result = helm("--kubeconfig", str(kubeconfig), "launch", "status")
    assert "no cluster reachable at https://127.0.0.1:9" in result.stderr


def test_plugin_manifest_is_helm3_form() -> None:
    manifest = yaml.safe_load((REPO / "plugin/plugin.yaml").read_text())
    assert manifest["name"] == "launch"
    assert manifest["command"] == "$HELM_PLUGIN_DIR/bin/helm-launch"
    assert "apiVersion" not in manifest, "the Helm 4-only form would not load on Helm 3"
