"""What the chart renders: the agent pod, its secrets, namespaces and disruption budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..paths import VALUES_DIR
from .chartlib import (
    AZURE_STORAGE_KEY_PLACEHOLDER,
    CHART,
    RELEASE,
    helm_template,
    launch_config,
    objects_of,
    one,
    rendered,
    scenario_values,
)

CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())


def agent_ns(docs: list[dict[str, Any]]) -> str:
    return one(docs, "Deployment")["metadata"]["namespace"]


def pods(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of the agent and of the helm test pod."""
    found = [("agent", one(docs, "Deployment")["spec"]["template"]["spec"])]
    found += [(p["metadata"]["name"], p["spec"]) for p in objects_of(docs, "Pod")]
    return found


def test_every_namespaced_object_names_its_namespace(docs: list[dict[str, Any]]) -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace"), f"{doc['kind']}/{doc['metadata']['name']}"


def test_pods_meet_pod_security_restricted(docs: list[dict[str, Any]]) -> None:
    """The restricted profile's rules, for the agent and the test pod, in every scenario."""
    for name, spec in pods(docs):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
            assert not spec.get(key), name
        assert not any("hostPath" in v for v in spec.get("volumes", [])), name
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), name
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert not sc.get("privileged"), name
            assert "ports" not in container or not any(p.get("hostPort") for p in container["ports"]), name


def test_agent_deployment(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    template = spec["template"]
    annotations = template["metadata"]["annotations"]
    assert len(annotations["checksum/config"]) == 64 and len(annotations["checksum/secret"]) == 64
    assert "checksum/secret" not in deployment["metadata"].get("annotations", {})
    (container,) = template["spec"]["containers"]
    if not values["image"]["tag"] and not values["image"]["digest"]:
        assert container["image"] == f"wandb/launch-agent:{CHART_YAML['appVersion']}"
    env = {e["name"]: e for e in container["env"]}
    api_key = env["WANDB_API_KEY"]["valueFrom"]["secretKeyRef"]
    if values["apiKey"]["existingSecret"]:
        assert api_key == {"name": values["apiKey"]["existingSecret"], "key": values["apiKey"]["existingSecretKey"]}
    else:
        assert api_key == {"name": f"wandb-api-key-{RELEASE}", "key": "password"}
    assert env["WANDB_BASE_URL"]["value"] == values["baseUrl"]
    assert env["WANDB_RELEASE_NAME"]["value"] == RELEASE
    assert env["WANDB_LAUNCH_SERVICE_ACCOUNT_NAME"]["value"] == template["spec"]["serviceAccountName"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/home/launch_agent/.config/wandb"]["readOnly"] is True
    assert {"/home/launch_agent", "/tmp"} <= set(mounts)
    assert container["resources"]["limits"] and container["resources"]["requests"]


def test_api_key_secret_in_agent_and_target_namespaces(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    secrets = [s for s in objects_of(docs, "Secret") if s["metadata"]["name"] == f"wandb-api-key-{RELEASE}"]
    if values["apiKey"]["existingSecret"]:
        assert secrets == []
        return
    assert {s["metadata"]["namespace"] for s in secrets} == {agent_ns(docs), *values["targetNamespaces"]}
    assert all(set(s["data"]) == {"password"} for s in secrets)


def test_namespace_pod_security(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    namespaces = objects_of(docs, "Namespace")
    if not values["namespace"]["create"]:
        assert namespaces == []
        return
    (namespace,) = namespaces
    assert namespace["metadata"]["name"] == agent_ns(docs)
    labels = namespace["metadata"]["labels"]
    default = "baseline" if values["launchConfig"]["builder"]["type"] == "kaniko" else "restricted"
    assert labels["pod-security.kubernetes.io/enforce"] == (values["namespace"]["podSecurity"]["enforce"] or default)
    for mode in ("enforce", "warn", "audit"):
        assert f"pod-security.kubernetes.io/{mode}-version" in labels


def test_pdb_never_blocks_a_drain(docs: list[dict[str, Any]]) -> None:
    for pdb in objects_of(docs, "PodDisruptionBudget"):
        assert pdb["metadata"]["namespace"] == agent_ns(docs)
        max_unavailable = pdb["spec"]["maxUnavailable"]
        assert "minAvailable" not in pdb["spec"]
        # A percentage is rounded up for maxUnavailable, so any positive one allows the single replica to go.
        assert (int(max_unavailable.rstrip("%")) if isinstance(max_unavailable, str) else max_unavailable) >= 1
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]


def test_test_pod_is_the_agent_s_twin(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    test_pods = objects_of(docs, "Pod")
    if not test_pods:
        return
    (pod,) = test_pods
    agent = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["serviceAccountName"] == agent["serviceAccountName"]
    assert pod["spec"]["securityContext"] == agent["securityContext"]
    (check,), (agent_container,) = pod["spec"]["containers"], agent["containers"]
    assert check["image"] == agent_container["image"]
    assert check["securityContext"] == agent_container["securityContext"]
    command = check["command"]
    assert command[:2] == ["python3", "/opt/wandb-launch/helm_test_check.py"]
    flag = {command[i]: command[i + 1] for i in range(2, len(command) - 1) if command[i].startswith("--")}
    assert flag["--agent-namespace"] == agent_ns(docs)
    assert flag["--target-namespaces"] == ",".join(values["targetNamespaces"])
    assert flag["--config"] == "/home/launch_agent/.config/wandb/launch-config.yaml"
    # The chart's secret names (the check never derives them from the release name itself).
    assert flag["--api-key-secret"] == f"wandb-api-key-{RELEASE}"
    api_key = values["apiKey"]
    assert flag["--agent-api-key-secret"] == (api_key["existingSecret"] or f"wandb-api-key-{RELEASE}")
    assert flag["--agent-api-key-secret-key"] == (
        api_key["existingSecretKey"] if api_key["existingSecret"] else "password"
    )
    assert ("--additional-services" in command) == values["rbac"]["additionalServices"]
    config_volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "launch-config")
    assert config_volume == next(v for v in agent["volumes"] if v["name"] == "launch-config")
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= pod["metadata"]["labels"].items(), "test pod matches the agent selector"


def test_secret_checksum_follows_the_api_key() -> None:
    def checksum(key: str) -> str:
        result = helm_template("--set", f"apiKey.value={key}", "--set", "launchConfig.queues={q}")
        assert result.returncode == 0, result.stderr
        docs = [d for d in yaml.safe_load_all(result.stdout) if d]
        return one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]

    assert checksum("key-" + "1" * 40) != checksum("key-" + "2" * 40)


def test_build_credentials_secret_feeds_the_builder(values_file: Path, docs: list[dict[str, Any]]) -> None:
    values = scenario_values(values_file)
    builder = launch_config(docs)["builder"]
    secrets = {s["metadata"]["name"]: s for s in objects_of(docs, "Secret")}
    if values["kaniko"]["buildCredentials"]["value"]:
        name = builder["secret-name"]
        assert builder["secret-key"] == "credentials"
        assert secrets[name]["metadata"]["namespace"] == agent_ns(docs)
        assert set(secrets[name]["data"]) == {"credentials"}
    else:
        assert builder.get("secret-name", "") == values["launchConfig"]["builder"]["secretName"]


def test_selfcheck_config_map_carries_the_check_and_the_needs_unchanged(docs: list[dict[str, Any]]) -> None:
    maps = [cm for cm in objects_of(docs, "ConfigMap") if "helm_test_check.py" in cm.get("data", {})]
    if not objects_of(docs, "Pod"):
        assert maps == []
        return
    (selfcheck,) = maps
    assert selfcheck["data"]["helm_test_check.py"] == (CHART / "files" / "helm_test_check.py").read_text()
    assert selfcheck["data"]["agent-rbac.yaml"] == (CHART / "files" / "agent-rbac.yaml").read_text()
    (pod,) = objects_of(docs, "Pod")
    mounted = next(v for v in pod["spec"]["volumes"] if v["name"] == "selfcheck")
    assert mounted["configMap"]["name"] == selfcheck["metadata"]["name"]


def test_names_config_map_holds_the_names_the_objects_carry(docs: list[dict[str, Any]]) -> None:
    """What `status` and `verify` read instead of recomputing names: the rendered objects' own."""
    (names_map,) = [cm for cm in objects_of(docs, "ConfigMap") if "names.yaml" in cm.get("data", {})]
    names = yaml.safe_load(names_map["data"]["names.yaml"])
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert names["release"] == RELEASE
    assert names["agentNamespace"] == deployment["metadata"]["namespace"] == names_map["metadata"]["namespace"]
    assert names["deployment"] == deployment["metadata"]["name"]
    assert names["serviceAccount"] == pod["serviceAccountName"]
    assert (
        names["launchConfigMap"] == next(v for v in pod["volumes"] if v["name"] == "launch-config")["configMap"]["name"]
    )
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    key_ref = env["WANDB_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert (names["agentApiKeySecret"], names["agentApiKeySecretKey"]) == (key_ref["name"], key_ref["key"])
    assert names["apiKeySecret"] == f"wandb-api-key-{env['WANDB_RELEASE_NAME']['value']}"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert names["agentSelector"] == ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    assert set(names["releaseSelector"].split(",")) <= {f"{k}={v}" for k, v in deployment["metadata"]["labels"].items()}


def test_secrets_are_of_the_type_their_data_needs(docs: list[dict[str, Any]]) -> None:
    """A secret's type cannot change after it is created (an upgrade that fixes it fails), and
    the built-in types are what the API server checks the data against: the docker config
    for kaniko is a kubernetes.io/dockerconfigjson, every other secret of the chart Opaque."""
    for secret in objects_of(docs, "Secret"):
        wanted = "kubernetes.io/dockerconfigjson" if ".dockerconfigjson" in secret.get("data", {}) else "Opaque"
        assert secret.get("type", "Opaque") == wanted, secret["metadata"]["name"]


def test_the_azure_storage_key_is_where_the_kaniko_builder_reads_it() -> None:
    """The SDK's kaniko builder (wandb 0.31.0, kaniko_builder.py) gives build pods
    AZURE_STORAGE_ACCESS_KEY from secret azure-storage-access-key, key `password`, in
    namespace wandb: values/aks.yaml with the README's `--set kaniko.azureStorage.accessKey`
    puts that key there, base64 as a Secret's data must be."""
    import base64

    docs = rendered(VALUES_DIR / "aks.yaml")
    (secret,) = [s for s in objects_of(docs, "Secret") if s["metadata"]["name"] == "azure-storage-access-key"]
    assert secret["metadata"]["namespace"] == "wandb"
    assert base64.b64decode(secret["data"]["password"], validate=True).decode() == AZURE_STORAGE_KEY_PLACEHOLDER
