"""The agent pod and the `helm test` pod are wired to what exists: every mount has its
volume and every volume a mount, every volume's source is an object the chart renders or
the values name, the env names the SDK reads name the chart's objects (read by the SDK's
own kaniko builder), git finds its credentials through the rendered env and files (the real
`git credential fill`), and the scheduling and security values reach the pods."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.utils import parse_quantity
from wandb_launch.toolcache import cache_dir

from .chartlib import ALL_VALUES, CHART, objects_of, one, rendered, scenario_values, tool

APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


def agent_ns(docs: list[dict[str, Any]]) -> str:
    return one(docs, "Deployment")["metadata"]["namespace"]


def agent_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]


def all_pods(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [("agent", agent_pod(docs))] + [(p["metadata"]["name"], p["spec"]) for p in objects_of(docs, "Pod")]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def in_agent_ns(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    ns = agent_ns(docs)
    return {o["metadata"]["name"]: o for o in objects_of(docs, kind) if o["metadata"].get("namespace") == ns}


def test_every_mount_has_its_volume_and_every_volume_is_mounted(docs: list[dict[str, Any]]) -> None:
    """A mount without a volume is refused by the API server; a volume nobody mounts is a
    file the container never sees (a secret, a PVC, a config the agent reads)."""
    for pod_name, spec in all_pods(docs):
        volumes = [v["name"] for v in spec.get("volumes", [])]
        assert len(volumes) == len(set(volumes)), f"{pod_name}: two volumes of one name: {volumes}"
        mounted: set[str] = set()
        for container in spec["containers"] + spec.get("initContainers", []):
            paths = [m["mountPath"] for m in container.get("volumeMounts", [])]
            assert len(paths) == len(set(paths)), f"{pod_name}/{container['name']}: one path mounted twice"
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{pod_name}/{container['name']}: mount {mount} has no volume"
                mounted.add(mount["name"])
        assert set(volumes) == mounted, f"{pod_name}: volumes no container mounts: {set(volumes) - mounted}"


def test_every_volume_source_exists(values_file: Path, docs: list[dict[str, Any]]) -> None:
    """Each config map, secret and claim a pod mounts is one the chart renders in the agent
    namespace (with the keys the pod picks) or one the values name as existing."""
    values = scenario_values(values_file)
    config_maps, secrets, claims = (in_agent_ns(docs, k) for k in ("ConfigMap", "Secret", "PersistentVolumeClaim"))
    extra = values["extraVolumes"]
    given_config_maps = {values["caBundle"]["configMapName"]} - {""}
    given_secrets = {values["git"]["existingSecret"], *(k["name"] for k in values["git"]["sshAuthSecrets"])} - {""}
    given_claims = {values["kaniko"]["pvc"]["existingClaim"]} - {""}

    def check(source: dict[str, Any], kind: str, name: str, where: str) -> None:
        rendered_objects, given = {
            "configMap": (config_maps, given_config_maps),
            "secret": (secrets, given_secrets),
        }[kind]
        if name in rendered_objects:
            data = rendered_objects[name].get("data", {})
            for item in source.get("items", []):
                assert item["key"] in data, f"{where}: {kind} {name} has no key {item['key']}"
        else:
            assert name in given, f"{where}: {kind} {name} is neither rendered nor named by the values"

    for pod_name, spec in all_pods(docs):
        for volume in spec.get("volumes", []):
            where = f"{pod_name} volume {volume['name']}"
            if volume in extra:
                continue
            if "configMap" in volume:
                check(volume["configMap"], "configMap", volume["configMap"]["name"], where)
            elif "secret" in volume:
                check(volume["secret"], "secret", volume["secret"]["secretName"], where)
            elif "projected" in volume:
                for source in volume["projected"]["sources"]:
                    ((kind, projected),) = source.items()
                    check(projected, kind, projected["name"], where)
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert claim in claims or claim in given_claims, f"{where}: claim {claim} does not exist"
            else:
                assert set(volume) == {"name", "emptyDir"}, f"{where}: unexpected source {volume}"
                assert parse_quantity(volume["emptyDir"]["sizeLimit"]) > 0, where


def test_scratch_volumes_are_sized_by_the_values(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    sizes = {v["name"]: v["emptyDir"].get("sizeLimit") for v in agent_pod(docs)["volumes"] if "emptyDir" in v}
    assert sizes["home"] == values["scratchSizeLimits"]["home"] and sizes["tmp"] == values["scratchSizeLimits"]["tmp"]
    for pod in objects_of(docs, "Pod"):
        for volume in pod["spec"]["volumes"]:
            if "emptyDir" in volume:
                assert volume["emptyDir"]["sizeLimit"] == values["tests"]["scratchSizeLimit"], volume["name"]


def test_resources_are_quantities_with_requests_within_limits(values_file: Path, docs: list[dict[str, Any]]) -> None:
    """The values' resources reach the pods as given, and the kubelet could admit them:
    quantities the Kubernetes client parses, every request within its limit, the scratch
    volumes within the ephemeral-storage limit."""
    values = scenario_values(values_file)
    wanted = {"agent": values["resources"]}
    wanted.update({p["metadata"]["name"]: values["tests"]["resources"] for p in objects_of(docs, "Pod")})
    for pod_name, spec in all_pods(docs):
        (container,) = spec["containers"]
        resources = container["resources"]
        assert resources == wanted[pod_name], pod_name
        limits = {k: parse_quantity(v) for k, v in resources["limits"].items()}
        for name, request in resources["requests"].items():
            assert name not in limits or parse_quantity(request) <= limits[name], f"{pod_name}: {name}"
        scratch = sum(parse_quantity(v["emptyDir"]["sizeLimit"]) for v in spec["volumes"] if "emptyDir" in v)
        assert scratch <= limits["ephemeral-storage"], pod_name


def test_scheduling_and_security_values_reach_the_pods(values_file: Path, docs: list[dict[str, Any]]) -> None:
    """Where the pods may run and as whom: what the values say, in the agent pod; the test
    pod runs beside it (same node constraints, pull secrets, security) on its own resources."""
    values = scenario_values(values_file)
    agent = agent_pod(docs)
    for key in ("nodeSelector", "tolerations", "affinity", "imagePullSecrets", "priorityClassName"):
        assert agent.get(key) == (values[key] or None), key
    assert agent["securityContext"] == values["podSecurityContext"]
    assert agent["containers"][0]["securityContext"] == values["securityContext"]
    for pod in objects_of(docs, "Pod"):
        spec = pod["spec"]
        for key in ("nodeSelector", "tolerations", "imagePullSecrets"):
            assert spec.get(key) == (values[key] or None), f"test pod {key}"
        assert spec["securityContext"] == values["podSecurityContext"]
        assert spec["containers"][0]["securityContext"] == values["securityContext"]
        assert spec["containers"][0].get("env") == (values["extraEnv"] or None)


def test_pods_get_the_service_account_token(docs: list[dict[str, Any]]) -> None:
    """The agent calls the API server with its token, and the test pod asks it what that
    token may do: both pods ask for it themselves, since an existing service account
    (serviceAccount.create=false) may turn automounting off."""
    for pod_name, spec in all_pods(docs):
        assert spec.get("automountServiceAccountToken") is True, pod_name
    for account in objects_of(docs, "ServiceAccount"):
        assert account.get("automountServiceAccountToken", True) is True


def test_namespace_carries_the_values_labels_and_annotations(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)["namespace"]
    for namespace in objects_of(docs, "Namespace"):
        metadata = namespace["metadata"]
        assert metadata.get("annotations") == (values["annotations"] or None)
        assert values["labels"].items() <= metadata["labels"].items()


# --- The names the SDK reads from the agent's environment ---------------------------------

SDK_READS = """
import importlib, json, os, sys
import wandb.sdk.launch.builder.kaniko_builder as kaniko
out = []
for env in json.load(sys.stdin):
    for name in [n for n in os.environ if n.startswith("WANDB_LAUNCH_")]:
        del os.environ[name]
    os.environ.update(env)
    kaniko = importlib.reload(kaniko)
    out.append({"pvc_name": kaniko.PVC_NAME, "pvc_mount_path": kaniko.PVC_MOUNT_PATH,
                "docker_config_secret": kaniko.DOCKER_CONFIG_SECRET,
                "service_account": kaniko.SERVICE_ACCOUNT_NAME})
print(json.dumps(out))
"""


@cache
def sdk_reads() -> dict[Path, dict[str, Any]]:
    """What the SDK's kaniko builder (wandb[launch] at the chart's appVersion, the agent's
    own environment) reads from each scenario's agent env: one process for all of them."""
    python = cache_dir() / f"agent-venv-wandb-{APP_VERSION}" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run hack/build-agent-venv.sh (make test does)", pytrace=False)
    envs = [env_of(agent_pod(rendered(v))["containers"][0]) for v in ALL_VALUES]
    result = subprocess.run(
        [str(python), "-c", SDK_READS], input=json.dumps(envs), capture_output=True, text=True, check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip(ALL_VALUES, json.loads(result.stdout)))


def test_the_sdk_reads_the_kaniko_objects_the_chart_makes(values_file: Path, docs: list[dict[str, Any]]) -> None:
    """The build context claim, where the agent finds it mounted, and the docker config
    secret, as the SDK's kaniko builder reads them: the objects the chart renders or the
    values name, present exactly when the values ask for them."""
    values = scenario_values(values_file)
    read = sdk_reads()[values_file]
    agent = agent_pod(docs)
    assert read["service_account"] == agent["serviceAccountName"]

    pvc = values["kaniko"]["pvc"]
    if pvc["create"] or pvc["existingClaim"]:
        claims = in_agent_ns(docs, "PersistentVolumeClaim")
        assert read["pvc_name"] in claims or read["pvc_name"] == pvc["existingClaim"], read
        (volume,) = [v for v in agent["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == read["pvc_name"]]
        (mount,) = [m for m in agent["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
        assert read["pvc_mount_path"] == mount["mountPath"].rstrip("/") == pvc["mountPath"].rstrip("/")
    else:
        assert read["pvc_name"] is None

    docker = values["kaniko"]["dockerConfig"]
    if docker["json"]:
        secret = in_agent_ns(docs, "Secret")[read["docker_config_secret"]]
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == json.loads(docker["json"])
    else:
        assert read["docker_config_secret"] == (docker["existingSecret"] or None)


# --- git's credentials ----------------------------------------------------------------------


def git_credentials_for(values_file: Path) -> tuple[str, str, str] | None:
    """(host, user, token) the scenario's git credentials hold, or a made-up store line for an
    existing secret (whose content the chart never sees); None without git credentials."""
    git = scenario_values(values_file)["git"]
    line = git["credentials"] or ("https://store-user:store-token@git.example.com" if git["existingSecret"] else "")
    if not line:
        return None
    user_token, host = line.removeprefix("https://").rsplit("@", 1)
    user, token = user_token.split(":", 1)
    return host, user, token


def materialize(docs: list[dict[str, Any]], spec: dict[str, Any], mount_path: str, root: Path, fallback: str) -> Path:
    """Writes the files the pod sees under mount_path into root (from the rendered secret, or
    `fallback` for an existing secret) and returns root/mount_path."""
    container = spec["containers"][0]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == mount_path]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    source = volume["secret"]
    secret = in_agent_ns(docs, "Secret").get(source["secretName"])
    target = root / mount_path.lstrip("/")
    target.mkdir(parents=True)
    for item in source["items"]:
        data = base64.b64decode(secret["data"][item["key"]]).decode() if secret else fallback
        (target / item["path"]).write_text(data + "\n")
    return target


def test_git_finds_its_credentials_through_the_agent_env(values_file: Path, docs: list[dict[str, Any]],
                                                          tmp_path: Path) -> None:
    """The real `git credential fill`, with the agent's GIT_CONFIG_* env and the files its
    credentials mount holds, answers with the user and token of git.credentials."""
    wanted = git_credentials_for(values_file)
    container = agent_pod(docs)["containers"][0]
    env = env_of(container)
    if wanted is None:
        assert not any(name.startswith("GIT_CONFIG") for name in env)
        return
    host, user, token = wanted
    count = int(env["GIT_CONFIG_COUNT"])
    helper_values = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)]
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    (mount_path,) = [p for p in mounts if any(f"={p}/" in value for value in helper_values)]
    local = materialize(docs, agent_pod(docs), mount_path, tmp_path / "root", f"https://{user}:{token}@{host}")
    git_env = {name: value.replace(f"={mount_path}/", f"={local}/") for name, value in env.items()
               if name.startswith("GIT_CONFIG_")}
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [tool("git"), "credential", "fill"], input=f"protocol=https\nhost={host}\n\n", capture_output=True, text=True,
        check=False, env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                          "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", **git_env},
    )
    assert result.returncode == 0, result.stderr
    answer = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert (answer.get("username"), answer.get("password")) == (user, token)
