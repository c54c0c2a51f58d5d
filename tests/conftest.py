"""Repo-wide pytest set-up: the `cluster` marker and the one fixture that gives tests a cluster.

The cluster is, in this order of preference:
- `--kubeconfig PATH` (the option comes from pytest-kind): the current context of that
  kubeconfig, so the same tests run on kind or a real cloud cluster;
- `--kind`: a kind cluster made by pytest-kind (needs Docker and `kind` on PATH);
- otherwise the local control plane (`wandb_launch.controlplane`): etcd, kube-apiserver
  and kube-controller-manager on 127.0.0.1, no kubelet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .paths import CACHE_BIN, REPO, VENV_BIN

if TYPE_CHECKING:
    import kubernetes.client

_STARTUP_SECONDS = pytest.StashKey[float]()
_NODES_STARTUP_SECONDS = pytest.StashKey[float]()
# Simulated nodes of the `nodes_cluster`: enough for a drain to move the agent elsewhere.
SIMULATED_NODES = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cluster", "where cluster tests run")
    group.addoption(
        "--kind",
        action="store_true",
        help="run cluster tests on a kind cluster made by pytest-kind (needs Docker and kind); "
        "--kubeconfig PATH uses an existing cluster instead; default: the local control plane",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster: needs a Kubernetes API server (the `cluster` fixture: local control plane, "
        "--kubeconfig or --kind); deselect with -m 'not cluster'",
    )
    config.addinivalue_line(
        "markers",
        "kubelet: needs nodes that run pods (kind or a real cluster); skipped on the local control plane",
    )


@dataclass
class Cluster:
    """A cluster the tests may change: its kubeconfig, where it came from, and whether pods run."""

    kubeconfig: Path
    source: str  # "local control plane", "kubeconfig", "kind"
    has_kubelet: bool
    startup_seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Pods reach phases, but on KWOK nodes: no container runs (wandb_launch.controlplane.nodes).
    simulated_nodes: bool = False
    # The API server's audit log of service accounts' requests, when it keeps one.
    audit_log: Path | None = None

    def api_client(self) -> kubernetes.client.ApiClient:
        """A new client of the kubeconfig's current context (each test may hold its own)."""
        import kubernetes.config

        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes (helm, wandb-launch) that should target this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def helm(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        helm = shutil.which("helm")
        if helm is None:
            pytest.fail("helm is not on PATH: run `make tools` and put ~/.cache/wandb-launch/bin on PATH")
        result = subprocess.run(
            [helm, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result


def _any_node_ready(kubeconfig: Path) -> bool:
    import kubernetes.client
    import kubernetes.config

    with kubernetes.config.new_client_from_config(config_file=str(kubeconfig)) as client:
        nodes = kubernetes.client.CoreV1Api(client).list_node().items
    return any(
        condition.type == "Ready" and condition.status == "True"
        for node in nodes
        for condition in (node.status.conditions or [])
    )


def _docker_and_kind_present() -> bool:
    if shutil.which("kind") is None or shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubeconfig_option = request.config.getoption("kubeconfig", default=None)
    if request.config.getoption("kind"):
        if not _docker_and_kind_present():
            pytest.fail("--kind needs `kind` on PATH and a working `docker info`; drop --kind to use the local control plane")
        kind = request.getfixturevalue("kind_cluster")
        yield Cluster(Path(kind.kubeconfig_path), "kind", has_kubelet=True)
        return
    if kubeconfig_option:
        kubeconfig = Path(kubeconfig_option).expanduser().resolve()
        if not kubeconfig.is_file():
            pytest.fail(f"--kubeconfig {kubeconfig}: no such file")
        yield Cluster(kubeconfig, "kubeconfig", has_kubelet=_any_node_ready(kubeconfig))
        return

    from wandb_launch.controlplane import ControlPlaneError, LocalControlPlane

    control_plane = LocalControlPlane(tmp_path_factory.mktemp("control-plane"))
    try:
        control_plane.start()
    except ControlPlaneError as error:
        pytest.fail(f"local control plane did not start: {error}", pytrace=False)
    request.config.stash[_STARTUP_SECONDS] = control_plane.startup_seconds or 0.0
    try:
        yield Cluster(
            control_plane.kubeconfig,
            "local control plane",
            has_kubelet=False,
            startup_seconds=control_plane.startup_seconds,
            details={"server": control_plane.server, "logs": str(control_plane.logs_dir)},
        )
    finally:
        control_plane.stop()


@pytest.fixture(scope="session")
def nodes_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster where pods reach phases. With --kind or --kubeconfig: that cluster (its
    nodes are real). Otherwise a second local control plane, apart from `cluster`, with
    kube-scheduler, KWOK and SIMULATED_NODES simulated nodes, and the API server's audit log
    of service accounts' requests: a pod's phase there comes from KWOK, no container runs."""
    if request.config.getoption("kind"):
        # Not getfixturevalue("cluster"): tests/nodes and tests/agent name this fixture `cluster`.
        yield Cluster(Path(request.getfixturevalue("kind_cluster").kubeconfig_path), "kind", has_kubelet=True)
        return
    kubeconfig_option = request.config.getoption("kubeconfig", default=None)
    if kubeconfig_option:
        kubeconfig = Path(kubeconfig_option).expanduser().resolve()
        yield Cluster(kubeconfig, "kubeconfig", has_kubelet=_any_node_ready(kubeconfig))
        return

    from wandb_launch.controlplane import ControlPlaneError, LocalControlPlane

    control_plane = LocalControlPlane(tmp_path_factory.mktemp("control-plane-nodes"), nodes=SIMULATED_NODES, audit=True)
    try:
        control_plane.start()
    except ControlPlaneError as error:
        pytest.fail(f"local control plane with simulated nodes did not start: {error}", pytrace=False)
    request.config.stash[_NODES_STARTUP_SECONDS] = control_plane.startup_seconds or 0.0
    try:
        yield Cluster(
            control_plane.kubeconfig,
            "local control plane with simulated nodes",
            has_kubelet=False,
            startup_seconds=control_plane.startup_seconds,
            details={"server": control_plane.server, "logs": str(control_plane.logs_dir)},
            simulated_nodes=True,
            audit_log=control_plane.audit_log,
        )
    finally:
        control_plane.stop()


@pytest.fixture
def needs_kubelet(cluster: Cluster) -> None:
    """Use in tests that need pods to run (image pulls, `helm test`)."""
    if not cluster.has_kubelet:
        pytest.skip(f"no kubelet on the {cluster.source}: pods are admitted but never run")


def pytest_report_header(config: pytest.Config) -> list[str]:
    if config.getoption("kind"):
        return ["cluster tests: a kind cluster (pytest-kind)"]
    if config.getoption("kubeconfig", default=None):
        return [f"cluster tests: the current context of {config.getoption('kubeconfig')}"]
    return ["cluster tests: the local control plane (etcd, kube-apiserver, kube-controller-manager; no kubelet)"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    startup = config.stash.get(_STARTUP_SECONDS, None)
    if startup is not None:
        terminalreporter.write_line(f"local control plane: start to ready in {startup:.1f} s")
    startup = config.stash.get(_NODES_STARTUP_SECONDS, None)
    if startup is not None:
        terminalreporter.write_line(
            f"local control plane with {SIMULATED_NODES} simulated nodes (KWOK; no container runs): "
            f"start to ready in {startup:.1f} s"
        )


# The plugin manifest must load on both Helm majors (install-tools builds helm and helm4).
@pytest.fixture(scope="module", params=["helm", "helm4"])
def helm_plugin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`helm plugin install ./plugin` into a throwaway Helm home; returns helm(*args) there."""
    binary = shutil.which(request.param, path=f"{CACHE_BIN}:{os.environ.get('PATH', '')}")
    if binary is None:
        pytest.fail(f"{request.param} is not built: run `make tools` (hack/install-tools.sh)")
    home = tmp_path_factory.mktemp(f"{request.param}-home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELM_") and k != "KUBECONFIG"},
        # Plugins go to the default $HELM_DATA_HOME/plugins: Helm 4 installs there even when
        # HELM_PLUGINS points elsewhere (and then lists HELM_PLUGINS).
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        # The venv's wandb-launch is found on PATH, so the install hook makes no venv.
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
        )

    installed = run("plugin", "install", str(REPO / "plugin"))
    assert installed.returncode == 0, installed.stderr
    assert f"using {VENV_BIN / 'wandb-launch'}" in installed.stdout
    return run
