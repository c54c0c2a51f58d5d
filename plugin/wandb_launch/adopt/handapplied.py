"""An agent applied by hand (the guide's manifests, or anything like them) as this chart's values.

Found from its Deployment: the container that runs the agent, the launch config it mounts,
its env and arguments, its service account and that account's bindings (the namespaces
where the API server's authorizer lets it create Jobs are its targets), and the secret its
API key comes from. The old objects are listed: removed after the switch (Deployment,
launch ConfigMap, bindings and roles nobody else uses), or kept with the reason (the API-key
secret and the service account, which our agent goes on using; the namespace it runs in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wandb_launch import kube
from wandb_launch.adopt import launchconfig
from wandb_launch.adopt.model import MAPPED, REFUSED, Adoption, ObjectRef, OldObject, set_path
from wandb_launch.adopt.official import PUBLIC_IMAGE, Target, split_image
from wandb_launch.errors import InputError

AGENT_IMAGE_NAMES = ("launch-agent", "launch-agent-dev")
HOME = "/home/launch_agent"
# The size limit an adopted emptyDir without one gets (the chart's own scratch home's default).
EMPTY_DIR_SIZE_LIMIT = "1Gi"
CONFIG_DIR = f"{HOME}/.config/wandb"
CONFIG_FILE = f"{CONFIG_DIR}/launch-config.yaml"
# Paths the chart mounts itself (a volume of the old agent there cannot be carried over).
CHART_MOUNTS = (HOME, "/tmp", CONFIG_DIR, "/etc/wandb-launch")
# Env the chart sets itself from its own values.
CHART_ENV = {"WANDB_RELEASE_NAME", "WANDB_LAUNCH_SERVICE_ACCOUNT_NAME"}
# Roles Kubernetes ships: never removed, whoever else binds them.
BUILT_IN_CLUSTER_ROLES = {"admin", "edit", "view", "cluster-admin"}
# `wandb launch-agent` options (wandb/cli/cli.py) and where they go.
AGENT_FLAGS = {
    "-q": "queue",
    "--queue": "queue",
    "-e": "entity",
    "--entity": "entity",
    "-j": "max-jobs",
    "--max-jobs": "max-jobs",
    "-c": "config",
    "--config": "config",
    "-u": "url",
    "--url": "url",
}


def runs_agent(container: Mapping[str, Any]) -> bool:
    """A container running `wandb launch-agent`: W&B's agent image (or a mirror of it), the
    command, or a volume where the agent reads its launch config."""
    repository, _, _ = split_image(str(container.get("image", "")))
    if repository.rsplit("/", 1)[-1] in AGENT_IMAGE_NAMES:
        return True
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    if "launch-agent" in words:
        return True
    return any(
        m.get("mountPath", "").rstrip("/") in (CONFIG_DIR, CONFIG_FILE) for m in container.get("volumeMounts") or []
    )


def is_helm_managed(obj: Mapping[str, Any]) -> bool:
    return "meta.helm.sh/release-name" in ((obj.get("metadata") or {}).get("annotations") or {})


def find_deployments(api: Any) -> list[dict[str, Any]]:
    """Deployments in any namespace with a container that runs the agent, not made by helm."""
    status, listing, _ = kube.request(api, "GET", "/apis/apps/v1/deployments")
    if status != 200:
        raise InputError("--kubeconfig", f"cannot list Deployments (HTTP {status})", "run adopt as a cluster admin")
    return [
        d
        for d in listing.get("items", [])
        if not is_helm_managed(d) and any(runs_agent(c) for c in d["spec"]["template"]["spec"].get("containers", []))
    ]


def _get(api: Any, path: str) -> dict[str, Any] | None:
    status, body, _ = kube.request(api, "GET", path)
    if status == 404:
        return None
    if status != 200:
        raise InputError("--kubeconfig", f"GET {path} answered HTTP {status}", "run adopt as a cluster admin")
    return body


class _Reader:
    """One hand-applied agent, read and mapped."""

    def __init__(self, api: Any, deployment: dict[str, Any], target: Target, adoption: Adoption) -> None:
        self.api, self.d, self.target, self.a = api, deployment, target, adoption
        self.ns = deployment["metadata"]["namespace"]
        self.pod = deployment["spec"]["template"]["spec"]
        agents = [c for c in self.pod.get("containers", []) if runs_agent(c)]
        self.c = agents[0]
        self.out = adoption.values
        self.consumed_volumes: set[str] = set()
        self.kept: list[OldObject] = []

    def put(self, path: str, value: Any) -> None:
        set_path(self.out, path, value)

    def builds_with_kaniko(self) -> bool:
        """Does the adopted launch config build with kaniko (the chart's default builder is noop)?"""
        return ((self.out.get("launchConfig") or {}).get("builder") or {}).get("type") == "kaniko"

    def where(self) -> str:
        return f"deployment {self.ns}/{self.d['metadata']['name']}"

    # --- arguments and launch config ----------------------------------------------------

    def agent_flags(self) -> dict[str, list[str]]:
        words = [*(self.c.get("command") or []), *(self.c.get("args") or [])]
        if "launch-agent" in words:
            words = words[words.index("launch-agent") + 1 :]
        flags: dict[str, list[str]] = {}
        i = 0
        while i < len(words):
            word = words[i]
            flag, eq, inline = word.partition("=")
            if flag in AGENT_FLAGS:
                value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
                flags.setdefault(AGENT_FLAGS[flag], []).append(value)
                i += 1 if eq else 2
                continue
            self.a.outcome(f"args {word}", REFUSED, "", "not an option adopt knows of `wandb launch-agent`")
            i += 1
        return flags

    def config_source(self, path: str) -> tuple[str, str, str] | None:
        """(kind, name, key) of the ConfigMap or Secret holding the config file at `path`."""
        volumes = {v["name"]: v for v in self.pod.get("volumes") or []}
        for mount in self.c.get("volumeMounts") or []:
            mount_path = mount["mountPath"].rstrip("/")
            if mount.get("subPath") and mount_path == path:
                file_key, inside = mount["subPath"], ""
            elif path.startswith(mount_path + "/"):
                file_key, inside = None, path[len(mount_path) + 1 :]
            else:
                continue
            volume = volumes.get(mount["name"]) or {}
            self.consumed_volumes.add(mount["name"])
            for kind, spec_key, name_key in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                spec = volume.get(spec_key)
                if spec is None:
                    continue
                key = file_key or inside
                for item in spec.get("items") or []:
                    if item["path"] == (file_key or inside):
                        key = item["key"]
                return kind, spec[name_key], key
            raise InputError(
                self.where(),
                f"mounts its launch config from volume {mount['name']}, neither a ConfigMap nor a Secret",
                "put launch-config.yaml into a ConfigMap first",
            )
        return None

    def launch_config(self, flags: Mapping[str, list[str]]) -> None:
        import base64

        import yaml

        path = (flags.get("config") or [CONFIG_FILE])[-1]
        source = self.config_source(path)
        config: Any = {}
        if source is None:
            self.a.outcome(
                "launch-config.yaml", MAPPED, "launchConfig", f"no file mounted at {path}: the agent's defaults"
            )
        else:
            kind, name, key = source
            path_kind = "configmaps" if kind == "ConfigMap" else "secrets"
            obj = _get(self.api, f"/api/v1/namespaces/{self.ns}/{path_kind}/{name}")
            if obj is None:
                raise InputError(
                    self.where(),
                    f"mounts its launch config from {kind.lower()} {self.ns}/{name}, which does not exist (the agent never started)",
                    "create it, or point the Deployment at the one that holds launch-config.yaml",
                )
            data = obj.get("data") or {}
            if key not in data:
                raise InputError(
                    self.where(),
                    f"{kind.lower()} {self.ns}/{name} has no key {key!r} for its launch config",
                    "fix the Deployment's volume",
                )
            text = data[key] if kind == "ConfigMap" else base64.b64decode(data[key]).decode()
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError:
                raise InputError(
                    f"{kind.lower()} {self.ns}/{name}", f"key {key} is not valid YAML", "fix it first"
                ) from None
            self.kept.append(OldObject(ObjectRef(kind, name, self.ns), True, "the old agent's launch config"))
        where = f"launch-config.yaml of {self.where()}"
        launch, base_url = launchconfig.to_values(config, self.a, where=where, prefix="launch-config.yaml: ")
        # The SDK's order: file, then env (WANDB_ENTITY, WANDB_LAUNCH_MAX_JOBS), then flags.
        env = {e["name"]: e.get("value") for e in self.c.get("env") or [] if "value" in e}
        if env.get("WANDB_ENTITY"):
            launch["entity"] = env["WANDB_ENTITY"]
        if env.get("WANDB_LAUNCH_MAX_JOBS"):
            launch["maxJobs"] = int(env["WANDB_LAUNCH_MAX_JOBS"])
        if flags.get("queue"):
            launch["queues"] = list(dict.fromkeys(flags["queue"]))
            self.a.outcome("args --queue", MAPPED, "launchConfig.queues", "the flag wins over the file, as in the SDK")
        if flags.get("entity"):
            launch["entity"] = flags["entity"][-1]
            self.a.outcome("args --entity", MAPPED, "launchConfig.entity")
        if flags.get("max-jobs"):
            launch["maxJobs"] = int(flags["max-jobs"][-1])
            self.a.outcome("args --max-jobs", MAPPED, "launchConfig.maxJobs")
        if flags.get("url"):
            base_url = flags["url"][-1]
            self.a.outcome("args --url", MAPPED, "baseUrl")
        if "config" in flags:
            self.a.outcome("args --config", MAPPED, "launchConfig", f"read from {path}")
        self.put("launchConfig", launch)
        if base_url:
            self.put("baseUrl", base_url)

    # --- env ------------------------------------------------------------------------------

    def env(self) -> None:
        for item in self.c.get("env") or []:
            name = item["name"]
            key = f"env {name}"
            ref = item.get("valueFrom") or {}
            if name == "WANDB_API_KEY":
                secret = ref.get("secretKeyRef")
                if not secret:
                    raise InputError(
                        self.where(),
                        "sets WANDB_API_KEY as a literal value, not from a secret",
                        f"move it into a secret (kubectl -n {self.ns} create secret generic wandb-api-key "
                        "--from-literal=password=...), reference it from the Deployment, then run adopt again",
                    )
                self.put(
                    "apiKey", {"existingSecret": secret["name"], "existingSecretKey": secret.get("key", "password")}
                )
                self.kept.append(
                    OldObject(
                        ObjectRef("Secret", secret["name"], self.ns), False, "our agent reads its API key from it"
                    )
                )
                self.a.outcome(key, MAPPED, "apiKey.existingSecret", f"your secret {secret['name']} (kept)")
            elif name == "WANDB_BASE_URL":
                value = item.get("value")
                cm = ref.get("configMapKeyRef")
                if cm:
                    obj = _get(self.api, f"/api/v1/namespaces/{self.ns}/configmaps/{cm['name']}") or {}
                    value = (obj.get("data") or {}).get(cm["key"])
                if value:
                    self.put("baseUrl", value)
                    self.a.outcome(key, MAPPED, "baseUrl")
                else:
                    self.a.outcome(
                        key, REFUSED, "baseUrl", "not a literal or ConfigMap value; set baseUrl with -f FILE"
                    )
            elif name in ("WANDB_ENTITY", "WANDB_LAUNCH_MAX_JOBS") and "value" in item:
                self.a.outcome(
                    key,
                    MAPPED,
                    "launchConfig." + ("entity" if name == "WANDB_ENTITY" else "maxJobs"),
                    "env wins over the file, as in the SDK",
                )
            elif name in CHART_ENV:
                self.a.outcome(key, REFUSED, "", "the chart sets it itself (from the release and its service account)")
            elif name.startswith("WANDB_LAUNCH_KANIKO_") and not self.builds_with_kaniko():
                # The SDK reads these only in its kaniko builder; the chart refuses kaniko keys
                # with another builder (the agent would ignore them).
                self.a.outcome(key, REFUSED, "", "the agent builds no images (no kaniko builder), so it never reads it")
            elif name == "WANDB_LAUNCH_KANIKO_AUTH_SECRET" and "value" in item:
                self.put("kaniko.dockerConfig.existingSecret", item["value"])
                self.a.outcome(key, MAPPED, "kaniko.dockerConfig.existingSecret", "your secret (kept)")
            elif name == "WANDB_LAUNCH_KANIKO_PVC_NAME" and "value" in item:
                self.put("kaniko.pvc.existingClaim", item["value"])
                self.a.outcome(key, MAPPED, "kaniko.pvc.existingClaim", "your PVC (kept)")
                for v in self.pod.get("volumes") or []:
                    if (v.get("persistentVolumeClaim") or {}).get("claimName") == item["value"]:
                        self.consumed_volumes.add(v["name"])
            elif name == "WANDB_LAUNCH_KANIKO_PVC_MOUNT_PATH" and "value" in item:
                self.put("kaniko.pvc.mountPath", item["value"])
                self.a.outcome(key, MAPPED, "kaniko.pvc.mountPath")
            else:
                self.out.setdefault("extraEnv", []).append(item)
                self.a.outcome(key, MAPPED, "extraEnv")
        if self.c.get("envFrom"):
            self.put("extraEnvFrom", self.c["envFrom"])
            self.a.outcome("envFrom", MAPPED, "extraEnvFrom")

    # --- volumes, pod, container ----------------------------------------------------------

    def volumes(self) -> None:
        volumes = {v["name"]: v for v in self.pod.get("volumes") or []}
        extra_volumes, extra_mounts = [], []
        for mount in self.c.get("volumeMounts") or []:
            name = mount["name"]
            if name in self.consumed_volumes:
                continue
            path = mount["mountPath"].rstrip("/") or "/"
            clash = [p for p in CHART_MOUNTS if path == p or (p == "/etc/wandb-launch" and path.startswith(p))]
            if clash:
                self.a.outcome(f"volume {name} at {path}", REFUSED, "", "the chart mounts its own volume there")
                continue
            volume = volumes.get(name)
            note = ""
            if volume is not None and "emptyDir" in volume and not (volume["emptyDir"] or {}).get("sizeLimit"):
                # The chart gives every emptyDir a size limit (it counts toward ephemeral storage).
                volume = {**volume, "emptyDir": {**(volume["emptyDir"] or {}), "sizeLimit": EMPTY_DIR_SIZE_LIMIT}}
                note = f"emptyDir given sizeLimit {EMPTY_DIR_SIZE_LIMIT} (the chart requires one): change it in the values if it needs more"
            if volume is not None and volume not in extra_volumes:
                extra_volumes.append(volume)
            extra_mounts.append(mount)
            self.a.outcome(f"volume {name} at {path}", MAPPED, "extraVolumes, extraVolumeMounts", note)
        if extra_volumes:
            self.put("extraVolumes", extra_volumes)
            self.put("extraVolumeMounts", extra_mounts)

    def pod_settings(self) -> None:
        for field, ours in (
            ("nodeSelector", "nodeSelector"),
            ("tolerations", "tolerations"),
            ("affinity", "affinity"),
            ("priorityClassName", "priorityClassName"),
            ("imagePullSecrets", "imagePullSecrets"),
        ):
            if self.pod.get(field):
                self.put(ours, self.pod[field])
                self.a.outcome(f"pod {field}", MAPPED, ours)
        template = self.d["spec"]["template"]["metadata"]
        selector = (self.d["spec"].get("selector") or {}).get("matchLabels") or {}
        labels = {
            k: v
            for k, v in (template.get("labels") or {}).items()
            if k not in selector and not k.startswith("app.kubernetes.io/")
        }
        dropped = sorted(set(template.get("labels") or {}) - set(labels))
        if labels:
            self.put("podLabels", labels)
        if labels or dropped:
            self.a.outcome(
                "pod labels",
                MAPPED,
                "podLabels",
                f"dropped {', '.join(dropped)}: the old Deployment's selector (or the chart's own)" if dropped else "",
            )
        annotations = {
            k: v for k, v in (template.get("annotations") or {}).items() if not k.startswith("kubectl.kubernetes.io/")
        }
        if annotations:
            self.put("podAnnotations", annotations)
            self.a.outcome("pod annotations", MAPPED, "podAnnotations")
        for field in ("securityContext",):
            if self.pod.get(field):
                self.a.outcome(
                    f"pod {field}",
                    REFUSED,
                    "podSecurityContext",
                    "the chart's own (Pod Security restricted) replaces it",
                )
        if self.c.get("securityContext"):
            self.a.outcome(
                "container securityContext",
                REFUSED,
                "securityContext",
                "the chart's own (restricted, read-only root filesystem) replaces it",
            )
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if self.pod.get(field):
                self.a.outcome(
                    f"pod {field}", REFUSED, "", "the agent needs no host namespace; Pod Security restricted forbids it"
                )
        for other in self.pod.get("containers") or []:
            if other is not self.c:
                self.a.outcome(
                    f"container {other['name']}", REFUSED, "", "a second container: the chart runs the agent alone"
                )
        for init in self.pod.get("initContainers") or []:
            self.a.outcome(f"initContainer {init['name']}", REFUSED, "", "the chart's agent needs no init container")
        replicas = self.d["spec"].get("replicas", 1)
        if replicas != 1:
            self.a.outcome(
                "replicas",
                REFUSED,
                "",
                f"{replicas} replicas: the chart runs one agent (two would pop the same queues)",
            )

    def container_settings(self) -> None:
        ref = str(self.c.get("image", ""))
        repository, tag, digest = split_image(ref)
        if repository != PUBLIC_IMAGE:
            self.put("image.repository", repository)
        if self.target.keep_image:
            if digest:
                self.put("image.digest", digest)
            elif tag:
                self.put("image.tag", tag)
            self.a.outcome("container image", MAPPED, "image", f"{ref} kept (--keep-image)")
        else:
            self.a.outcome(
                "container image",
                MAPPED,
                "image.repository" if repository != PUBLIC_IMAGE else "image",
                f"{ref} -> the chart's pinned tag; --keep-image keeps {ref}",
            )
        if self.c.get("imagePullPolicy"):
            self.put("image.pullPolicy", self.c["imagePullPolicy"])
            self.a.outcome("container imagePullPolicy", MAPPED, "image.pullPolicy")
        resources = dict(self.c.get("resources") or {})
        if resources:
            if resources.get("limits") and not resources.get("requests"):
                resources["requests"] = dict(resources["limits"])
            self.put("resources", resources)
            self.a.outcome("container resources", MAPPED, "resources")

    # --- service account, RBAC, other objects -------------------------------------------------

    def service_account(self) -> str:
        name = self.pod.get("serviceAccountName") or self.pod.get("serviceAccount") or "default"
        if name == "default":
            self.a.outcome(
                "pod serviceAccountName",
                REFUSED,
                "serviceAccount",
                "the namespace's default account: our agent gets an account of its own",
            )
            return name
        sa = _get(self.api, f"/api/v1/namespaces/{self.ns}/serviceaccounts/{name}")
        if sa is None:
            raise InputError(
                self.where(),
                f"runs as service account {self.ns}/{name}, which does not exist",
                "create it or fix the Deployment",
            )
        # Our agent runs as the same account (workload identity trusts it by name); the chart does not own it.
        self.put("serviceAccount", {"create": False, "name": name})
        self.kept.append(
            OldObject(
                ObjectRef("ServiceAccount", name, self.ns),
                False,
                "our agent runs as it (cloud identity trusts it by name); its old bindings go",
            )
        )
        annotations = (sa.get("metadata") or {}).get("annotations") or {}
        note = f"its annotations stay ({', '.join(sorted(annotations))})" if annotations else ""
        self.a.outcome("pod serviceAccountName", MAPPED, "serviceAccount.name (create false)", note)
        return name


def _binds(binding: Mapping[str, Any], namespace: str, name: str) -> bool:
    return any(
        s.get("kind") == "ServiceAccount"
        and s.get("name") == name
        and (s.get("namespace") or binding["metadata"].get("namespace")) == namespace
        for s in binding.get("subjects") or []
    )


def _can_create_jobs(api: Any, namespace: str, service_account: str, where: str) -> bool:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{service_account}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            "resourceAttributes": {"namespace": where, "verb": "create", "group": "batch", "resource": "jobs"},
        },
    }
    status, answer, _ = kube.request(api, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
    if status != 201:
        raise InputError(
            "--kubeconfig",
            f"the API server refused a SubjectAccessReview (HTTP {status})",
            "run adopt as a cluster admin",
        )
    return bool(answer["status"].get("allowed"))


def rbac(
    api: Any, adoption: Adoption, namespace: str, service_account: str, targets: Sequence[str] | None
) -> tuple[list[str], list[OldObject]]:
    """(target namespaces, old RBAC objects): every binding of the service account, removed
    when it binds nobody else; roles removed when no binding is left that uses them."""
    status, role_bindings, _ = kube.request(api, "GET", "/apis/rbac.authorization.k8s.io/v1/rolebindings")
    status2, cluster_bindings, _ = kube.request(api, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
    if status != 200 or status2 != 200:
        raise InputError(
            "--kubeconfig", "cannot list RoleBindings and ClusterRoleBindings", "run adopt as a cluster admin"
        )
    all_bindings = [*role_bindings.get("items", []), *cluster_bindings.get("items", [])]
    ours = [b for b in all_bindings if _binds(b, namespace, service_account)]
    cluster_wide = [b for b in ours if "namespace" not in b["metadata"]]
    if service_account == "default":
        ours, cluster_wide = [], []  # the namespace's default account: its bindings are not the agent's
    if targets is None:
        if cluster_wide and _can_create_jobs(api, namespace, service_account, ""):
            names = ", ".join(b["metadata"]["name"] for b in cluster_wide)
            raise InputError(
                "--target-namespace",
                f"clusterrolebinding {names} lets the agent create Jobs in every namespace; the chart grants rights per namespace",
                "name the namespaces its runs go to with --target-namespace (repeatable)",
            )
        candidates = sorted({b["metadata"]["namespace"] for b in ours if b["metadata"].get("namespace")} | {namespace})
        targets = [ns for ns in candidates if _can_create_jobs(api, namespace, service_account, ns)]
        adoption.outcome(
            "rolebindings",
            MAPPED,
            "targetNamespaces",
            "namespaces where the API server lets the account create Jobs: " + (", ".join(targets) or "none"),
        )
    else:
        adoption.outcome("rolebindings", MAPPED, "targetNamespaces", "from --target-namespace")
    objects: list[OldObject] = []
    removed: set[tuple[str, str]] = set()  # (namespace or "", binding name)
    for b in ours:
        meta = b["metadata"]
        kind = "RoleBinding" if meta.get("namespace") else "ClusterRoleBinding"
        others = [
            f"{s.get('kind')} {s.get('name')}"
            for s in b.get("subjects") or []
            if not _binds({**b, "subjects": [s]}, namespace, service_account)
        ]
        ref = ObjectRef(kind, meta["name"], meta.get("namespace", ""))
        if others:
            objects.append(OldObject(ref, False, f"binds {', '.join(others)} too"))
        else:
            objects.append(OldObject(ref, True, "binds only the old agent's account"))
            removed.add((meta.get("namespace", ""), meta["name"]))
    remaining = [b for b in all_bindings if (b["metadata"].get("namespace", ""), b["metadata"]["name"]) not in removed]
    roles: dict[ObjectRef, None] = {}
    for b in ours:
        if (b["metadata"].get("namespace", ""), b["metadata"]["name"]) not in removed:
            continue
        role = b["roleRef"]
        scope = b["metadata"].get("namespace", "") if role["kind"] == "Role" else ""
        roles[ObjectRef(role["kind"], role["name"], scope)] = None
    for ref in roles:
        users = [
            b["metadata"]["name"]
            for b in remaining
            if b["roleRef"]["kind"] == ref.kind
            and b["roleRef"]["name"] == ref.name
            and (ref.kind == "ClusterRole" or b["metadata"].get("namespace") == ref.namespace)
        ]
        if ref.kind == "ClusterRole" and (ref.name in BUILT_IN_CLUSTER_ROLES or ref.name.startswith("system:")):
            objects.append(OldObject(ref, False, "built into Kubernetes"))
        elif users:
            objects.append(OldObject(ref, False, f"still bound by {', '.join(sorted(users)[:3])}"))
        elif _get(api, ref.path) is not None:
            objects.append(OldObject(ref, True, "only the old agent's bindings used it"))
    return list(targets), objects


def _pod_spec_uses_config_map(spec: Mapping[str, Any], name: str) -> bool:
    for volume in spec.get("volumes") or []:
        if (volume.get("configMap") or {}).get("name") == name:
            return True
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("configMap") or {}).get("name") == name:
                return True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if any((e.get("configMapRef") or {}).get("name") == name for e in container.get("envFrom") or []):
            return True
        if any(
            ((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") == name
            for e in container.get("env") or []
        ):
            return True
    return False


def _config_map_users(api: Any, namespace: str, name: str, deployment: str) -> list[str]:
    """Other workloads in the namespace whose pods mount or read the ConfigMap."""
    users = []
    for kind, path in (
        ("deployment", "apps/v1/namespaces/{ns}/deployments"),
        ("statefulset", "apps/v1/namespaces/{ns}/statefulsets"),
        ("daemonset", "apps/v1/namespaces/{ns}/daemonsets"),
    ):
        for item in kube.list_items(api, "/apis/" + path.format(ns=namespace)):
            if kind == "deployment" and item["metadata"]["name"] == deployment:
                continue
            if _pod_spec_uses_config_map(item["spec"]["template"]["spec"], name):
                users.append(f"{kind} {item['metadata']['name']}")
    return users


def _disruption_budgets(api: Any, namespace: str, labels: Mapping[str, str]) -> list[OldObject]:
    found = []
    for pdb in kube.list_items(api, f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"):
        match = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
        if (
            match
            and all(labels.get(k) == v for k, v in match.items())
            and not (pdb["spec"]["selector"].get("matchExpressions"))
        ):
            found.append(
                OldObject(
                    ObjectRef("PodDisruptionBudget", pdb["metadata"]["name"], namespace),
                    True,
                    "selects the old agent's pods",
                )
            )
    return found


def read(api: Any, deployment: dict[str, Any], target: Target, targets: Sequence[str] | None = None) -> Adoption:
    """Our values for a hand-applied agent's Deployment (a Deployment object, as the API returns it)."""
    meta = deployment["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if not any(runs_agent(c) for c in deployment["spec"]["template"]["spec"].get("containers", [])):
        images = ", ".join(c.get("image", "?") for c in deployment["spec"]["template"]["spec"].get("containers", []))
        raise InputError(
            "--from-deployment",
            f"deployment {ns}/{name} runs {images}, not the launch agent (wandb/launch-agent)",
            "name the Deployment that runs `wandb launch-agent`",
        )
    adoption = Adoption(
        kind="hand-applied",
        source=f"deployment {ns}/{name} (applied by hand)",
        agent_namespace=ns,
        deployment=ObjectRef("Deployment", name, ns),
        values={"namespace": {"create": False, "name": ns}},
    )
    adoption.outcome("namespace", MAPPED, "namespace.name", "the agent stays in its namespace (kept)")
    reader = _Reader(api, deployment, target, adoption)
    flags = reader.agent_flags()
    reader.launch_config(flags)
    reader.env()
    if "apiKey" not in adoption.values:
        raise InputError(
            reader.where(),
            "has no WANDB_API_KEY from a secret",
            "reference the API-key secret from the Deployment (env WANDB_API_KEY valueFrom secretKeyRef), then run adopt again",
        )
    reader.volumes()
    reader.pod_settings()
    reader.container_settings()
    service_account = reader.service_account()
    found_targets, rbac_objects = rbac(api, adoption, ns, service_account, targets)
    if not found_targets:
        raise InputError(
            "--target-namespace",
            f"the agent's account {ns}/{service_account} may create Jobs in no namespace",
            "name the namespaces its runs go to with --target-namespace (repeatable)",
        )
    adoption.values["targetNamespaces"] = found_targets
    objects = [OldObject(adoption.deployment, True, "the old agent")]
    for kept in reader.kept:
        if kept.ref.kind == "ConfigMap" and kept.remove:
            users = _config_map_users(api, ns, kept.ref.name, name)
            kept = OldObject(kept.ref, False, f"also used by {', '.join(users)}") if users else kept
        objects.append(kept)
    objects += rbac_objects
    objects += _disruption_budgets(api, ns, deployment["spec"]["template"]["metadata"].get("labels") or {})
    objects.append(OldObject(ObjectRef("Namespace", ns), False, "our agent runs there"))
    adoption.old_objects = list({o.ref: o for o in objects}.values())
    return adoption
