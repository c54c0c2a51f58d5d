"""Simulated nodes for the local control plane: kube-scheduler places pods, KWOK plays the
kubelet's part in the API (Node status, pod phases) and runs nothing.

What a pod on a simulated node goes through (the stages below, written for this project):
- bound to a node by the real kube-scheduler (resources, taints, cordons, PVC binding);
- `Pending` -> `Running` with every container ready, at once (probes are not run);
- owned by a Job: `Running` -> `Succeeded`, exit code 0, at once (unless annotated
  KEEP_RUNNING_ANNOTATION: then it stays `Running`, a run still at work);
- any other pod (the agent's, the `helm test` pod) stays `Running`: a test pod that
  "passes" here would be a check that never ran, so none does;
- deleted (eviction, drain, garbage collection): removed as a kubelet would after the
  grace period, at once.
No container, image pull, log, exec or network exists. Every place that shows a phase from
such a node says so (`SIMULATED_NOTE`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .binaries import find_binary
from .kubeconfig import write_kubeconfig
from .probe import Probe

if TYPE_CHECKING:
    from .pki import CertKey
    from .process import ManagedProcess

# KWOK manages the nodes carrying this annotation; `wandb-launch status` and the tests use
# it to tell a simulated node from a real one.
SIMULATED_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SIMULATED_NODE_VALUE = "fake"
SIMULATED_NOTE = "simulated node: no container ran"
NODE_NAME_PREFIX = "kwok-node-"

# Controllers a cluster with nodes adds: PodDisruptionBudget status (the eviction API reads
# it, so a drain depends on it) and PV/PVC binding (the scheduler waits for bound claims).
NODE_CONTROLLERS: tuple[str, ...] = ("disruption-controller", "persistentvolume-binder-controller")

# A Job's pod with this annotation stays Running (a run that is still training), e.g. to
# stop it from W&B; the annotation goes on the pod template (a queue config can set it).
KEEP_RUNNING_ANNOTATION = "simulated.wandb-launch.local/keep-running"

# The container-state message KWOK writes into terminated states, so `kubectl describe`
# and the agent's own view say it.
_TERMINATED_MESSAGE = f"{SIMULATED_NOTE} (KWOK)"

STAGES_YAML = f"""\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      conditions:
      - type: Ready
        status: "True"
        reason: KubeletReady
        message: "{SIMULATED_NOTE} (KWOK)"
        lastHeartbeatTime: {{{{ $now | Quote }}}}
        lastTransitionTime: {{{{ $now | Quote }}}}
      addresses:
      - type: InternalIP
        address: {{{{ NodeIP | Quote }}}}
      - type: Hostname
        address: {{{{ .metadata.name | Quote }}}}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{{{ NodePort }}}}
      allocatable:
        cpu: "16"
        memory: 64Gi
        ephemeral-storage: 100Gi
        pods: "110"
      capacity:
        cpu: "16"
        memory: 64Gi
        ephemeral-storage: 100Gi
        pods: "110"
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{{{ printf "kwok-%s" Version | Quote }}}}
        kubeProxyVersion: ""
        containerRuntimeVersion: none
        osImage: none
        kernelVersion: none
        machineID: ""
        systemUUID: ""
        bootID: ""
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-running
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ["Pending"]
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      conditions:
      - type: Initialized
        status: "True"
        lastTransitionTime: {{{{ $now | Quote }}}}
      - type: ContainersReady
        status: "True"
        lastTransitionTime: {{{{ $now | Quote }}}}
      - type: Ready
        status: "True"
        lastTransitionTime: {{{{ $now | Quote }}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - name: {{{{ .name | Quote }}}}
        image: {{{{ .image | Quote }}}}
        imageID: ""
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      initContainerStatuses:
      {{{{ range .spec.initContainers }}}}
      - name: {{{{ .name | Quote }}}}
        image: {{{{ .image | Quote }}}}
        imageID: ""
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            message: "{_TERMINATED_MESSAGE}"
            startedAt: {{{{ $now | Quote }}}}
            finishedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      hostIP: {{{{ NodeIPWith .spec.nodeName | Quote }}}}
      phase: Running
      startTime: {{{{ $now | Quote }}}}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: job-pod-succeeded
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ["Running"]
    - key: '.metadata.ownerReferences.[].kind'
      operator: In
      values: ["Job"]
    - key: '.metadata.annotations["{KEEP_RUNNING_ANNOTATION}"]'
      operator: DoesNotExist
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      conditions:
      - type: Ready
        status: "False"
        reason: PodCompleted
        lastTransitionTime: {{{{ $now | Quote }}}}
      - type: ContainersReady
        status: "False"
        reason: PodCompleted
        lastTransitionTime: {{{{ $now | Quote }}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - name: {{{{ .name | Quote }}}}
        image: {{{{ .image | Quote }}}}
        imageID: ""
        ready: false
        started: false
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            message: "{_TERMINATED_MESSAGE}"
            startedAt: {{{{ $now | Quote }}}}
            finishedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-deleted
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
"""


def is_simulated_node(annotations: dict[str, str] | None) -> bool:
    """True for a node KWOK manages (from the node's metadata.annotations)."""
    return (annotations or {}).get(SIMULATED_NODE_ANNOTATION) == SIMULATED_NODE_VALUE


def node_manifest(name: str) -> dict[str, Any]:
    """A Node object KWOK will manage: KWOK's annotation, the usual well-known labels."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {SIMULATED_NODE_ANNOTATION: SIMULATED_NODE_VALUE},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
    }


def _node_ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def start_simulated_nodes(
    *, workdir: Path, server: str, kubeconfig: Path,
    spawn: Callable[[str, list[str]], ManagedProcess], wait: Callable[..., None],
    count: int, ca: CertKey, admin: Probe, scheduler_port: int, kwok_port: int,
) -> None:
    """Start kube-scheduler and KWOK against the running API server, create `count` Nodes
    and wait until each is Ready. `spawn` starts a process the control plane owns (stopped
    with it); `wait(what, ready, process)` waits for a condition while that process lives."""
    # Imported here, as in the launcher: `cryptography` only once a control plane starts.
    from .pki import issue_certificate

    pki_dir = workdir / "pki"

    # The bootstrap RBAC policy grants the scheduler's rights to this exact user name.
    scheduler_cert = issue_certificate(ca, pki_dir, "scheduler", "system:kube-scheduler")
    scheduler_kubeconfig = write_kubeconfig(
        workdir / "scheduler.kubeconfig", server=server, ca_cert=ca.cert,
        client_cert=scheduler_cert.cert, client_key=scheduler_cert.key, user="system:kube-scheduler",
    )
    scheduler = spawn("kube-scheduler", [
        str(find_binary("kube-scheduler")),
        f"--kubeconfig={scheduler_kubeconfig}",
        f"--authentication-kubeconfig={scheduler_kubeconfig}",
        f"--authorization-kubeconfig={scheduler_kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={scheduler_port}",
        f"--cert-dir={workdir / 'scheduler-certs'}",
        "--leader-elect=false",
        "--v=1",
    ])
    scheduler_probe = Probe(f"https://127.0.0.1:{scheduler_port}")

    # KWOK is the simulator, not a cluster component under test: it acts as the admin. Its
    # server plays the kubelet's endpoint (logs, exec) at 127.0.0.1, so when the API server
    # proxies to a node (pods/log) it reaches KWOK on this machine, never another address.
    kwok_serving = issue_certificate(ca, pki_dir, "kwok", "kwok", server_ips=("127.0.0.1",))
    stages = workdir / "kwok-stages.yaml"
    stages.write_text(STAGES_YAML)
    kwok = spawn("kwok", [
        str(find_binary("kwok")),
        f"--kubeconfig={kubeconfig}",
        f"--config={stages}",
        f"--manage-nodes-with-annotation-selector={SIMULATED_NODE_ANNOTATION}={SIMULATED_NODE_VALUE}",
        f"--server-address=127.0.0.1:{kwok_port}",
        f"--tls-cert-file={kwok_serving.cert}",
        f"--tls-private-key-file={kwok_serving.key}",
        "--node-ip=127.0.0.1",
        f"--node-port={kwok_port}",
        "--node-lease-duration-seconds=0",
    ])
    kwok_probe = Probe(f"https://127.0.0.1:{kwok_port}")

    names = [f"{NODE_NAME_PREFIX}{i}" for i in range(count)]
    for name in names:
        status, body = admin.request("POST", "/api/v1/nodes", node_manifest(name))
        if status != 201:
            from .errors import ControlPlaneError

            raise ControlPlaneError(f"creating node {name} failed ({status}): {body}")
    wait("kube-scheduler /healthz", lambda: scheduler_probe.ok("/healthz"), scheduler)
    wait("KWOK /healthz", lambda: kwok_probe.ok("/healthz"), kwok)

    def all_ready() -> bool:
        listing = admin.json("/api/v1/nodes")
        ready = {n["metadata"]["name"] for n in (listing or {}).get("items", []) if _node_ready(n)}
        return set(names) <= ready

    wait(f"{count} simulated nodes to be Ready", all_ready, kwok)
    # The API server taints every new node not-ready (TaintNodesByCondition); the node
    # lifecycle controller lifts it once the node reports Ready. That controller is not run:
    # it would also mark nodes unreachable that send no heartbeats, which KWOK's stages here
    # do not. So lift the taint as it would, once.
    for name in names:
        status, body = admin.request("PATCH", f"/api/v1/nodes/{name}", {"spec": {"taints": None}},
                                     content_type="application/merge-patch+json")
        if status != 200:
            from .errors import ControlPlaneError

            raise ControlPlaneError(f"lifting the not-ready taint of node {name} failed ({status}): {body}")
