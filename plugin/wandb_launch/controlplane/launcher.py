"""A local Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager as
plain processes on 127.0.0.1, with no kubelet and no containers.

What it gives: the API server's own validation, RBAC and Node authorization, the default
admission plugins (PodSecurity included), TokenRequest, and the controllers that turn a
Deployment into ReplicaSets and Pods, a Job into Pods, and clean up namespaces and
dependents. Pods are admitted and stay Pending: nothing runs them. Started with `nodes=N`,
it also runs kube-scheduler and KWOK with N simulated nodes (nodes.py): pods are scheduled
and get phases written by KWOK, still with no container running.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from .binaries import find_control_plane_binaries
from .errors import ControlPlaneError
from .audit import write_policy
from .kubeconfig import write_kubeconfig
from .nodes import NODE_CONTROLLERS, start_simulated_nodes
from .ports import free_ports
from .probe import Probe
from .process import ManagedProcess, stop_process_group

SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service takes the range's first address
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_START_ATTEMPTS = 3

# What the agent's installs and runs need: Deployments -> ReplicaSets -> Pods, Jobs -> Pods
# and their TTL clean-up, namespace deletion, owner-reference garbage collection, the
# `default` service account of every namespace, legacy SA token secrets, the
# kube-root-ca.crt ConfigMap projected into pods, the aggregated admin/edit/view roles,
# the removal of the protection finalizers the StorageObjectInUseProtection admission
# plugin puts on every PVC and PV (without it, a kaniko-context PVC never goes away), and
# ResourceQuota usage (without it, the quota admission plugin refuses every pod of a
# namespace with a quota: "status unknown for quota").
CONTROLLERS: tuple[str, ...] = (
    "job-controller",
    "deployment-controller",
    "replicaset-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-token-controller",
    "serviceaccount-controller",
    "ttl-after-finished-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "resourcequota-controller",
)

# Readiness beyond /readyz: objects that exist only once bootstrap and controllers have run.
_READY_OBJECTS: tuple[tuple[str, str], ...] = (
    ("the default namespace", "/api/v1/namespaces/default"),
    ("the bootstrap RBAC roles", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:kube-controller-manager"),
    ("the bootstrap RBAC bindings", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:kube-controller-manager"),
    ("the default service account (serviceaccount controller)", "/api/v1/namespaces/default/serviceaccounts/default"),
)


def _stop_all(pids: list[int], workdir_to_remove: Path | None) -> None:
    """Finalizer: no reference to the LocalControlPlane, so it also runs at interpreter exit."""
    for pid in reversed(pids):
        stop_process_group(pid, grace_seconds=5.0)
    if workdir_to_remove is not None:
        shutil.rmtree(workdir_to_remove, ignore_errors=True)


class LocalControlPlane:
    """Start with `with LocalControlPlane() as cp:` (or start()/stop()); then use `cp.kubeconfig`.

    `workdir` holds certificates, kubeconfigs, the etcd data and the process logs. Without
    one, a temporary directory is made and removed on stop. With one, the caller keeps the
    logs and certificates; the etcd data is removed on stop.
    """

    def __init__(
        self, workdir: Path | str | None = None, *, timeout_seconds: float = 90.0,
        nodes: int = 0, audit: bool = False,
    ) -> None:
        """`nodes` > 0 adds kube-scheduler, KWOK and that many simulated Nodes (see
        nodes.py); `audit` makes the API server log service accounts' requests (audit.py)."""
        self._owns_workdir = workdir is None
        self.nodes = nodes
        self.audit = audit
        self._workdir = Path(workdir) if workdir is not None else None
        self.timeout_seconds = timeout_seconds
        self.server = ""
        self.startup_seconds: float | None = None
        self._processes: list[ManagedProcess] = []
        self._pids: list[int] = []
        self._finalizer: weakref.finalize | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ControlPlaneError("the local control plane has no working directory before start()")
        return self._workdir

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (user in group system:masters), credentials embedded."""
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        """The API server's audit log (JSON lines); written only when started with audit=True."""
        return self.logs_dir / "audit.log"

    @property
    def logs_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def ca_cert(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        if self._processes:
            raise ControlPlaneError("the local control plane is already started")
        begin = time.monotonic()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except ControlPlaneError as error:
                # A port is free when the OS hands it out; another process may bind it
                # before our server does. Then new ports, new try.
                if "address already in use" not in str(error) or attempt == _START_ATTEMPTS:
                    raise
        self.startup_seconds = time.monotonic() - begin

    def _start_once(self) -> None:
        binaries = find_control_plane_binaries()
        # Imported here: `cryptography` is needed only once a control plane really starts.
        from .pki import generate_pki

        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="wandb-launch-control-plane-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._finalizer = weakref.finalize(
            self, _stop_all, self._pids, self.workdir if self._owns_workdir else None
        )
        try:
            pki = generate_pki(self.workdir / "pki", service_ip=SERVICE_IP)
            etcd_client, etcd_peer, apiserver_port, controller_manager_port, scheduler_port, kwok_port = free_ports(6)
            self.server = f"https://127.0.0.1:{apiserver_port}"

            etcd = self._spawn("etcd", [
                str(binaries["etcd"]),
                "--name=wandb-launch-local",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=wandb-launch-local=http://127.0.0.1:{etcd_peer}",
                # A throwaway store: losing it on a power cut costs nothing, fsync costs start-up time.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ])
            etcd_probe = Probe(f"http://127.0.0.1:{etcd_client}")
            self._wait("etcd to be healthy", lambda: '"health":"true"' in etcd_probe.get("/health")[1], etcd)

            apiserver = self._spawn("kube-apiserver", [
                str(binaries["kube-apiserver"]),
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={apiserver_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.apiserver.cert}",
                f"--tls-private-key-file={pki.apiserver.key}",
                f"--client-ca-file={pki.ca.cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki.service_account_public_key}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                "--authorization-mode=Node,RBAC",
                # The default plugins (PodSecurity, ServiceAccount, NamespaceLifecycle, ...)
                # stay on; NodeRestriction goes with Node authorization, as on real clusters.
                "--enable-admission-plugins=NodeRestriction",
                # Endpoints may not hold loopback addresses, so the `kubernetes` Service gets
                # none (nothing in-cluster runs to use it); this keeps the log free of retries.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
                *self._optional_apiserver_flags(),
            ])
            admin_probe = Probe(self.server, ca_cert=pki.ca.cert, client_cert=pki.admin.cert, client_key=pki.admin.key)
            self._wait("kube-apiserver /readyz", lambda: admin_probe.ok("/readyz"), apiserver)

            write_kubeconfig(
                self.kubeconfig, server=self.server, ca_cert=pki.ca.cert,
                client_cert=pki.admin.cert, client_key=pki.admin.key, user="wandb-launch-admin",
            )
            controller_manager_kubeconfig = write_kubeconfig(
                self.workdir / "controller-manager.kubeconfig", server=self.server, ca_cert=pki.ca.cert,
                client_cert=pki.controller_manager.cert, client_key=pki.controller_manager.key,
                user="system:kube-controller-manager",
            )
            controller_manager = self._spawn("kube-controller-manager", [
                str(binaries["kube-controller-manager"]),
                f"--kubeconfig={controller_manager_kubeconfig}",
                f"--authentication-kubeconfig={controller_manager_kubeconfig}",
                f"--authorization-kubeconfig={controller_manager_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={controller_manager_port}",
                f"--cert-dir={self.workdir / 'controller-manager-certs'}",
                f"--controllers={','.join(CONTROLLERS + (NODE_CONTROLLERS if self.nodes else ()))}",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca.cert}",
                # Each controller acts as its own service account, so RBAC sees it as on a real cluster.
                "--use-service-account-credentials=true",
                # One instance: leader election would only add a lease round-trip to start-up.
                "--leader-elect=false",
                "--v=1",
            ])
            controller_manager_probe = Probe(f"https://127.0.0.1:{controller_manager_port}")
            self._wait("kube-controller-manager /healthz", lambda: controller_manager_probe.ok("/healthz"), controller_manager)
            for what, path in _READY_OBJECTS:
                self._wait(what, lambda path=path: admin_probe.ok(path), controller_manager)
            if self.nodes:
                start_simulated_nodes(
                    workdir=self.workdir, server=self.server, kubeconfig=self.kubeconfig,
                    spawn=self._spawn, wait=self._wait, count=self.nodes, ca=pki.ca, admin=admin_probe,
                    scheduler_port=scheduler_port, kwok_port=kwok_port,
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (also after a failed start) and remove what start() made."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        self._pids.clear()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._workdir is None:
            return
        if self._owns_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        else:
            shutil.rmtree(self._workdir / "etcd-data", ignore_errors=True)

    @property
    def running(self) -> bool:
        return bool(self._processes) and all(p.exit_code() is None for p in self._processes)

    def process_ids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self._processes if p.pid is not None}

    # -- helpers ---------------------------------------------------------------------
    def _optional_apiserver_flags(self) -> list[str]:
        flags = []
        if self.audit:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            flags += [
                f"--audit-policy-file={write_policy(self.workdir / 'audit-policy.yaml')}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                # Written before the response is sent: a test reads it right after a request.
                "--audit-log-mode=blocking",
                "--audit-log-maxsize=0",
            ]
        if self.nodes:
            # Simulated nodes have only an InternalIP (127.0.0.1, KWOK's server): no name
            # lookup of a node's hostname, no connection to any other address.
            flags.append("--kubelet-preferred-address-types=InternalIP")
        return flags

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.logs_dir / f"{name}.log")
        process.start()
        self._processes.append(process)
        assert process.pid is not None
        self._pids.append(process.pid)
        return process

    def _wait(self, what: str, condition: Callable[[], bool], newest: ManagedProcess) -> None:
        """Poll `condition`; fail at once if any process exits, with the log tails."""
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            if condition():
                return
            for process in self._processes:
                code = process.exit_code()
                if code is not None:
                    raise ControlPlaneError(
                        f"{process.name} exited with code {code} while waiting for {what}\n{self._log_tails()}"
                    )
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"timed out after {self.timeout_seconds:.0f} s waiting for {what} "
                    f"(last started: {newest.name})\n{self._log_tails()}"
                )
            time.sleep(0.1)

    def _log_tails(self) -> str:
        return "\n".join(
            f"--- last lines of {p.log_path} ---\n{p.tail()}" for p in self._processes
        )
