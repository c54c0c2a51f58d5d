"""Run the SDK's own `wandb launch-agent` on this machine as the chart's agent pod.

As far as the API server can tell, the process *is* the pod the ReplicaSet created:
- it authenticates with a service-account token from TokenRequest bound to that Pod
  object (boundObjectRef kind Pod, as the kubelet asks for it), and finds it, the CA and
  its namespace at the fixed in-cluster path /var/run/secrets/kubernetes.io/serviceaccount,
  with KUBERNETES_SERVICE_HOST/PORT in its environment (the SDK's in-cluster config path);
- its environment is the live pod's, resolved as a kubelet would (value with $(VAR)
  references, secretKeyRef, configMapKeyRef, fieldRef, envFrom), plus what the kubelet and
  the image add (KUBERNETES_SERVICE_*, HOSTNAME, HOME, PATH);
- its files are the pod's volumes (configMap, secret, projected, emptyDir, PVC) at their
  mountPaths, read-only where the pod says so, in a root of its own.

How: a private mount and UTS namespace (`unshare --mount --uts`; we are root), in which a
root directory is assembled from read-only binds of this machine's /usr and a few /etc
files (standing in for the image's OS), the agent venv (standing in for the image's wandb),
and the pod's volumes at their mountPaths; the root itself is remounted read-only
(readOnlyRootFilesystem); then `chroot` as uid 1000, gid 0 (the pod's runAsUser /
runAsGroup), hostname = the pod's name, working directory /home/launch_agent. Why not
point the Kubernetes library's constants at other files: the SDK reads the fixed path
itself too (kaniko_builder.py reads .../serviceaccount/namespace at import time to pick the
namespace of its build Jobs), so only the real path is the real test. Nothing outside the
namespace changes; it goes away with the process.

What differs from a pod, said where it shows: the API server is reached at 127.0.0.1:<port>
(KUBERNETES_SERVICE_HOST/PORT), not through the `kubernetes` Service's 10.0.0.1:443 (there
is no kube-proxy); W&B is the fake at 127.0.0.1; no network namespace, no cgroup limits;
the image's OS is this machine's.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client

# The agent image (wandb/launch-agent): user launch_agent, uid 1000, gid 0; HOME and
# working directory /home/launch_agent; entrypoint `wandb launch-agent`.
IMAGE_USER = "launch_agent"
IMAGE_UID = 1000
IMAGE_GID = 0
IMAGE_HOME = "/home/launch_agent"
IMAGE_WORKDIR = IMAGE_HOME
IMAGE_ENTRYPOINT = ("wandb", "launch-agent")
IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The token lifetime the kubelet asks for (the API server extends it when it may).
KUBELET_TOKEN_SECONDS = 3607

# Files of this machine's /etc the image's OS would have (read-only binds); /etc itself is
# a directory of the pod root, so volumes may mount under it (/etc/wandb-launch/...).
_ETC_FROM_HOST = ("ssl", "ca-certificates", "ca-certificates.conf", "ld.so.cache", "ld.so.conf",
                  "ld.so.conf.d", "hosts", "nsswitch.conf", "localtime", "os-release", "mime.types")
_ENV_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class PodHarnessError(RuntimeError):
    """The pod cannot be reproduced here; the message says which part and why."""


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str  # absolute path inside the pod
    read_only: bool


def _b64(text: str) -> str:
    return base64.b64decode(text).decode()


def find_agent_pod(core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api,
                   namespace: str, deployment: str) -> kubernetes.client.V1Pod:
    """The Running, Ready pod of the Deployment's current ReplicaSet (not terminating)."""
    dep = apps.read_namespaced_deployment(deployment, namespace)
    selector = ",".join(f"{k}={v}" for k, v in dep.spec.selector.match_labels.items())
    revision = dep.metadata.annotations.get("deployment.kubernetes.io/revision")
    current = {
        rs.metadata.name
        for rs in apps.list_namespaced_replica_set(namespace, label_selector=selector).items
        if rs.metadata.annotations.get("deployment.kubernetes.io/revision") == revision
    }
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        owners = {o.name for o in pod.metadata.owner_references or []}
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if owners & current and pod.status.phase == "Running" and ready and not pod.metadata.deletion_timestamp:
            return pod
    raise PodHarnessError(f"no Running, Ready pod of deployment {namespace}/{deployment} (revision {revision})")


class PodResolver:
    """Reads what the kubelet would read for one pod: env sources, volume sources, a token."""

    def __init__(self, core: kubernetes.client.CoreV1Api, pod: kubernetes.client.V1Pod,
                 api_server: tuple[str, int]) -> None:
        self.core = core
        self.pod = pod
        self.namespace = pod.metadata.namespace
        self.api_server = api_server

    # -- sources ---------------------------------------------------------------------
    def _config_map(self, name: str, optional: bool) -> dict[str, str] | None:
        try:
            return self.core.read_namespaced_config_map(name, self.namespace).data or {}
        except kubernetes.client.ApiException as error:
            if error.status == 404 and optional:
                return None
            raise PodHarnessError(f"configMap {self.namespace}/{name}: {error.status} {error.reason}") from error

    def _secret(self, name: str, optional: bool) -> dict[str, str] | None:
        try:
            data = self.core.read_namespaced_secret(name, self.namespace).data or {}
        except kubernetes.client.ApiException as error:
            if error.status == 404 and optional:
                return None
            raise PodHarnessError(f"secret {self.namespace}/{name}: {error.status} {error.reason}") from error
        return {key: _b64(value) for key, value in data.items()}

    def _field(self, path: str) -> str:
        pod = self.pod
        simple = {
            "metadata.name": pod.metadata.name,
            "metadata.namespace": pod.metadata.namespace,
            "metadata.uid": pod.metadata.uid,
            "spec.nodeName": pod.spec.node_name,
            "spec.serviceAccountName": pod.spec.service_account_name,
            "status.hostIP": pod.status.host_ip,
            "status.podIP": pod.status.pod_ip,
        }
        if path in simple:
            return simple[path] or ""
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if match:
            values = (pod.metadata.labels if match.group(1) == "labels" else pod.metadata.annotations) or {}
            return values.get(match.group(2), "")
        raise PodHarnessError(f"fieldRef {path} is not resolved by this harness")

    def service_account_token(self, audience: str | None, seconds: int) -> str:
        """A token bound to the pod object, as the kubelet requests it for a projected volume."""
        spec: dict[str, Any] = {
            "expirationSeconds": seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.pod.metadata.name, "uid": self.pod.metadata.uid},
        }
        if audience:
            spec["audiences"] = [audience]
        result = self.core.create_namespaced_service_account_token(
            self.pod.spec.service_account_name, self.namespace, {"spec": spec},
        )
        return result.status.token

    # -- env -------------------------------------------------------------------------
    def environment(self, container: kubernetes.client.V1Container) -> dict[str, str]:
        """The container's environment as the kubelet and the runtime would set it."""
        host, port = self.api_server
        env: dict[str, str] = {
            # The image's ENV / user.
            "PATH": IMAGE_PATH,
            "HOME": IMAGE_HOME,
            "HOSTNAME": self.pod.metadata.name,
            # The kubelet adds the `kubernetes` Service's variables to every container, even
            # with enableServiceLinks: false. Here the server is at 127.0.0.1:<port>.
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": str(port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
            "KUBERNETES_PORT": f"tcp://{host}:{port}",
            f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        }
        for source in container.env_from or []:
            prefix = source.prefix or ""
            if source.config_map_ref is not None:
                data = self._config_map(source.config_map_ref.name, bool(source.config_map_ref.optional)) or {}
            elif source.secret_ref is not None:
                data = self._secret(source.secret_ref.name, bool(source.secret_ref.optional)) or {}
            else:
                raise PodHarnessError("envFrom source of an unknown kind")
            env.update({prefix + key: value for key, value in data.items()})
        for var in container.env or []:
            if var.value_from is None:
                env[var.name] = self._expand(var.value or "", env)
                continue
            source = var.value_from
            value: str | None
            if source.secret_key_ref is not None:
                ref = source.secret_key_ref
                value = (self._secret(ref.name, bool(ref.optional)) or {}).get(ref.key)
                if value is None and not ref.optional:
                    raise PodHarnessError(f"env {var.name}: key {ref.key} not in secret {ref.name}")
            elif source.config_map_key_ref is not None:
                ref = source.config_map_key_ref
                value = (self._config_map(ref.name, bool(ref.optional)) or {}).get(ref.key)
                if value is None and not ref.optional:
                    raise PodHarnessError(f"env {var.name}: key {ref.key} not in configMap {ref.name}")
            elif source.field_ref is not None:
                value = self._field(source.field_ref.field_path)
            else:
                raise PodHarnessError(f"env {var.name}: resourceFieldRef is not resolved by this harness")
            if value is not None:
                env[var.name] = value
        return env

    @staticmethod
    def _expand(value: str, env: dict[str, str]) -> str:
        """$(VAR) references to variables defined before; $$ escapes, unknown ones stay."""
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            return env.get(match.group(1), match.group(0))

        return _ENV_REFERENCE.sub(replace, value)

    # -- volumes ---------------------------------------------------------------------
    def _write_files(self, directory: Path, data: dict[str, str], items: list[Any] | None, mode: int | None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        chosen = [(item.key, item.path, item.mode) for item in items] if items else [(k, k, None) for k in data]
        for key, path, item_mode in chosen:
            if key not in data:
                raise PodHarnessError(f"volume item {key} not in its source")
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[key])
            target.chmod(item_mode or mode or 0o644)

    def materialize(self, volume: kubernetes.client.V1Volume, directory: Path) -> None:
        """Write one volume's files into `directory`, as the kubelet would."""
        if volume.empty_dir is not None:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # the kubelet makes emptyDirs world-writable
        elif volume.config_map is not None:
            source = volume.config_map
            data = self._config_map(source.name, bool(source.optional)) or {}
            self._write_files(directory, data, source.items, source.default_mode)
        elif volume.secret is not None:
            source = volume.secret
            data = self._secret(source.secret_name, bool(source.optional)) or {}
            self._write_files(directory, data, source.items, source.default_mode)
        elif volume.persistent_volume_claim is not None:
            # No storage runs here: the claim's volume is a directory of its own, shared by
            # every pod of this harness that mounts the claim.
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)
        elif volume.projected is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for source in volume.projected.sources:
                if source.service_account_token is not None:
                    token = source.service_account_token
                    seconds = token.expiration_seconds or KUBELET_TOKEN_SECONDS
                    self._write_files(directory, {"t": self.service_account_token(token.audience, seconds)},
                                      [_Item("t", token.path)], volume.projected.default_mode)
                elif source.config_map is not None:
                    data = self._config_map(source.config_map.name, bool(source.config_map.optional)) or {}
                    self._write_files(directory, data, source.config_map.items, volume.projected.default_mode)
                elif source.secret is not None:
                    data = self._secret(source.secret.name, bool(source.secret.optional)) or {}
                    self._write_files(directory, data, source.secret.items, volume.projected.default_mode)
                elif source.downward_api is not None:
                    for item in source.downward_api.items:
                        if item.field_ref is None:
                            raise PodHarnessError("downwardAPI resourceFieldRef is not resolved by this harness")
                        self._write_files(directory, {"v": self._field(item.field_ref.field_path)},
                                          [_Item("v", item.path)], item.mode or volume.projected.default_mode)
                else:
                    raise PodHarnessError(f"projected volume {volume.name}: a source kind this harness does not provide")
        else:
            raise PodHarnessError(f"volume {volume.name}: a kind this harness does not provide")


@dataclass(frozen=True)
class _Item:
    key: str
    path: str
    mode: int | None = None


def _python_home(venv: Path) -> Path:
    """The Python installation a venv was made from (pyvenv.cfg `home` is its bin/)."""
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    raise PodHarnessError(f"{venv}/pyvenv.cfg names no home")


class AgentPodProcess:
    """`wandb launch-agent` of `venv` running as `pod` (see the module docstring)."""

    def __init__(self, core: kubernetes.client.CoreV1Api, pod: kubernetes.client.V1Pod, *,
                 venv: Path, workdir: Path, api_server: tuple[str, int], container: str = "agent") -> None:
        self.pod = pod
        self.venv = venv
        self.workdir = workdir
        self.resolver = PodResolver(core, pod, api_server)
        (self.container,) = [c for c in pod.spec.containers if c.name == container]
        self.log_path = workdir / "agent.log"
        # The user name the API server gives the process's requests (its token's service account).
        self.user = f"system:serviceaccount:{pod.metadata.namespace}:{pod.spec.service_account_name}"
        self._process: subprocess.Popen[bytes] | None = None

    # -- the pod's filesystem ------------------------------------------------------------
    def _host_mounts(self, root: Path) -> list[Mount]:
        """What stands in for the image's OS: this machine's /usr, some /etc files, the
        agent venv and the Python it was made from (read-only)."""
        mounts = [Mount(Path("/usr"), "/usr", True)]
        for name in _ETC_FROM_HOST:
            host = Path("/etc") / name
            if host.is_symlink():
                (root / "etc").mkdir(parents=True, exist_ok=True)
                os.symlink(os.readlink(host), root / "etc" / name)
            elif host.exists():
                mounts.append(Mount(host, f"/etc/{name}", True))
        etc = self.workdir / "image-etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/sh\n{IMAGE_USER}:x:{IMAGE_UID}:{IMAGE_GID}::{IMAGE_HOME}:/bin/sh\n"
        )
        (etc / "group").write_text("root:x:0:\n")
        mounts += [Mount(etc / "passwd", "/etc/passwd", True), Mount(etc / "group", "/etc/group", True)]
        mounts += [Mount(self.venv, str(self.venv), True), Mount(_python_home(self.venv), str(_python_home(self.venv)), True)]
        return mounts

    def _volume_mounts(self) -> list[Mount]:
        volumes = {v.name: v for v in self.pod.spec.volumes or []}
        made: dict[str, Path] = {}
        mounts = []
        for mount in self.container.volume_mounts or []:
            if mount.name not in volumes:
                raise PodHarnessError(f"volumeMount {mount.name} has no volume")
            if mount.name not in made:
                directory = self.workdir / "volumes" / mount.name
                self.resolver.materialize(volumes[mount.name], directory)
                made[mount.name] = directory
            source = made[mount.name] / mount.sub_path if mount.sub_path else made[mount.name]
            mounts.append(Mount(source, mount.mount_path, bool(mount.read_only)))
        return sorted(mounts, key=lambda m: m.target.count("/"))

    def _script(self, root: Path, host: list[Mount], volumes: list[Mount], argv: list[str]) -> str:
        q = shlex.quote
        lines = ["set -eu", f"root={q(str(root))}", 'mount --bind "$root" "$root"']
        for name in ("bin", "sbin", "lib", "lib64"):  # merged-/usr symlinks of the image's OS
            target = Path("/") / name
            if target.is_symlink():
                lines.append(f'[ -e "$root/{name}" ] || ln -s {q(os.readlink(target))} "$root/{name}"')
        lines += ['mkdir -p "$root/proc" "$root/dev" "$root/sys"',
                  'mount --bind /proc "$root/proc"', 'mount --rbind /dev "$root/dev"', 'mount --rbind /sys "$root/sys"']
        protected = [m.target for m in host]
        # Shallow targets first, so a host path under a pod volume (the agent venv in a tools
        # cache under /tmp or a HOME) is bound on top of that volume, not hidden by it.
        for mount in sorted(host + volumes, key=lambda m: m.target.rstrip("/").count("/")):
            if mount in volumes and any(mount.target == p or mount.target.startswith(p.rstrip("/") + "/") for p in protected):
                raise PodHarnessError(f"mountPath {mount.target} lies in this machine's {mount.target} (read-only here)")
            target = f'"$root"{q(mount.target)}'
            make = f"mkdir -p {target}" if mount.source.is_dir() else f"mkdir -p \"$(dirname {target})\" && touch {target}"
            lines += [make, f"mount --bind {q(str(mount.source))} {target}"]
            if mount.read_only:
                lines.append(f"mount -o remount,bind,ro {target}")
        # readOnlyRootFilesystem: the root is read-only, its volume mounts keep their mode.
        lines += ['mount -o remount,bind,ro "$root"', f"hostname {q(self.pod.metadata.name)}"]
        inner = 'cd "$1" && shift && exec "$@"'
        lines.append(
            f'exec chroot --userspec={IMAGE_UID}:{IMAGE_GID} --groups={IMAGE_GID} "$root" '
            f"/bin/sh -c {q(inner)} sh {q(IMAGE_WORKDIR)} " + " ".join(q(a) for a in argv)
        )
        return "\n".join(lines) + "\n"

    def argv(self) -> list[str]:
        """The image's entrypoint, or the pod's command, then the pod's args."""
        command = list(self.container.command or IMAGE_ENTRYPOINT)
        return command + list(self.container.args or [])

    def start(self) -> AgentPodProcess:
        if shutil.which("unshare") is None or os.geteuid() != 0:
            raise PodHarnessError("running the agent as its pod needs root and unshare(1) (util-linux)")
        root = self.workdir / "root"
        root.mkdir(parents=True)
        host = self._host_mounts(root)
        volumes = self._volume_mounts()
        env = self.resolver.environment(self.container)
        env["PATH"] = f"{self.venv}/bin:{env['PATH']}"  # the image's wandb is on its PATH
        script = self._script(root, host, volumes, self.argv())
        (self.workdir / "pod.sh").write_text(script)
        self.env = env
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                ["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", str(self.workdir / "pod.sh")],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd="/",
            )
        return self

    # -- while it runs ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "".join(deque(self.log().splitlines(keepends=True), maxlen=lines))

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        """Poll `condition`; fail with the agent's log tail if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if not self.running:
                raise AssertionError(f"the agent exited ({self._process.returncode if self._process else '?'}) "
                                     f"while waiting for {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; agent log:\n{self.tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)
        except ProcessLookupError:
            pass
