"""Adopting an agent applied by hand from the guide's manifests (launch-on-kubernetes.ja.md).

The manifests are read from the guide itself and applied through the API server; tests
move them from namespace `wandb` to a namespace of their own and fill the guide's TODO
training namespace. As written they apply, but describe an agent that cannot start
(GUIDE_FIXES says why); `adopt` names the first problem in one line. With the fixes, adopt
turns them into values and lists what --apply would remove and keep.

The switch itself (`--apply`) needs our agent's pod to become Ready: it runs on simulated
nodes, with the SDK's own agent launching a run through the adopted release
(tests/agent/test_adopted.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from ..clirun import one_line_error, run_cli
from .adoption import GUIDE_FIXES, GuideAgent, create_secret, existing, require_reference
from .kube import create_namespace, delete_namespace, unique_name

pytestmark = pytest.mark.cluster

API_KEY = "guide-test-api-key-0000000000000000000000000000000000"
DESTINATION = "us-central1-docker.pkg.dev/my-project/launch-images/runs"


@pytest.fixture
def guide_agent(cluster, admin) -> Iterator[Any]:
    require_reference()
    made: list[GuideAgent] = []

    def make(fixed: bool) -> GuideAgent:
        made.append(GuideAgent(cluster, admin, fixed, API_KEY))
        return made[-1]

    yield make
    for agent in made:
        agent.cleanup()


def test_the_guide_as_written_applies_but_its_agent_cannot_start(guide_agent) -> None:
    agent = guide_agent(fixed=False)
    kinds = [(d["kind"], d["metadata"]["name"]) for d in agent.docs]
    # Fix 1: without `---`, the agent namespace's RoleBinding is lost: its Role is bound by nothing.
    assert ("RoleBinding", "wandb-launch-role-binding") not in kinds
    assert ("Role", "wandb-launch-agent") in kinds
    # Fix 2: the Deployment mounts a ConfigMap no manifest defines.
    deployment = next(d for d in agent.docs if d["kind"] == "Deployment")
    mounted = [v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]]
    assert mounted == ["wandb-launch-configmap"]
    assert "wandb-launch-configmap" not in [name for kind, name in kinds if kind == "ConfigMap"]
    # All of it was accepted by the API server (apply() above), the placeholder image too.
    assert len(existing(agent.admin, agent.refs())) == len(agent.docs)

    result = agent.adopt()
    assert result.code == 2
    line = one_line_error(result)
    assert (
        f"deployment {agent.namespace}/launch-agent: mounts its launch config from configmap "
        f"{agent.namespace}/wandb-launch-configmap, which does not exist (the agent never started)"
    ) in line
    assert len(GUIDE_FIXES) == 3


def test_the_fixed_guide_is_adopted(guide_agent, admin, tmp_path: Path) -> None:
    """A dry run: the values, each key's fate, and what --apply would remove or keep."""
    agent = guide_agent(fixed=True)

    # The guide's registry block names no whole repository (and spells image-name image_name):
    # the chart's rule for kaniko names the value to give.
    refused = agent.adopt()
    assert refused.code == 2
    line = one_line_error(refused)
    assert "launchConfig.builder.destination is required when builder.type is kaniko" in line
    assert "give the missing or right value with -f FILE" in line

    overlay = tmp_path / "destination.yaml"
    overlay.write_text(yaml.safe_dump({"launchConfig": {"builder": {"destination": DESTINATION}}}))
    values_file = tmp_path / "adopted.yaml"
    dry = agent.adopt("-f", str(overlay), "--values-out", str(values_file), "-o", "json")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    values = yaml.safe_load(values_file.read_text())
    assert values == report["values"]
    assert values["namespace"] == {"create": False, "name": agent.namespace}
    assert values["serviceAccount"] == {"create": False, "name": "wandb-launch-serviceaccount"}
    assert values["apiKey"] == {"existingSecret": "wandb-api-key", "existingSecretKey": "password"}
    assert sorted(values["targetNamespaces"]) == sorted([agent.namespace, agent.target])
    assert values["baseUrl"] == "https://api.wandb.ai"
    assert values["launchConfig"] == {
        "maxJobs": -1,
        "queues": ["default"],
        "environment": {"type": "gcp", "region": "us-central1"},
        "builder": {"type": "kaniko", "buildContextStore": "gs://my-bucket/...", "destination": DESTINATION},
    }
    # As the API server stored them (1000m is 1); requests = limits, as the server defaulted them.
    assert values["resources"] == {"limits": {"memory": "2Gi", "cpu": "1"}, "requests": {"memory": "2Gi", "cpu": "1"}}
    keys = {k["key"]: k for k in report["keys"]}
    assert keys["launch-config.yaml: base_url"]["to"] == "baseUrl"
    assert "image-name" in keys["launch-config.yaml: registry"]["note"]
    assert keys["container securityContext"]["outcome"] == "refused"
    actions = {o["object"]: o["action"] for o in report["oldObjects"]}
    cluster_role = f"job-creator-{agent.namespace}"
    assert actions == {
        f"Deployment {agent.namespace}/launch-agent": "remove",
        f"ConfigMap {agent.namespace}/wandb-launch-agent-config": "remove",
        f"Secret {agent.namespace}/wandb-api-key": "keep",
        f"ServiceAccount {agent.namespace}/wandb-launch-serviceaccount": "keep",
        f"RoleBinding {agent.namespace}/wandb-launch-role-binding": "remove",
        f"RoleBinding {agent.target}/wandb-launch-cluster-role-binding": "remove",
        f"Role {agent.namespace}/wandb-launch-agent": "remove",
        f"ClusterRole {cluster_role}": "remove",
        f"Namespace {agent.namespace}": "keep",
    }
    # A dry run changes nothing.
    assert len(existing(admin, agent.refs())) == len(agent.docs)
    assert API_KEY not in dry.out + dry.err + values_file.read_text()


def test_a_hand_applied_agent_with_flags_env_volumes_and_wide_rights(cluster, admin, tmp_path: Path) -> None:
    """Not the guide's shape: the agent's flags, env from a ConfigMap, kaniko env, an extra
    volume, a PodDisruptionBudget, a binding shared with another account, and a
    ClusterRoleBinding that lets it create Jobs everywhere (so the targets must be named)."""
    require_reference()
    ns = create_namespace(admin, unique_name("hand"), "baseline")
    target = create_namespace(admin, unique_name("hand-runs"), "baseline")
    core, apps = kubernetes.client.CoreV1Api(admin), kubernetes.client.AppsV1Api(admin)
    rbac = kubernetes.client.RbacAuthorizationV1Api(admin)
    wide = unique_name("launch-everywhere")
    try:
        create_secret(admin, ns, "launch-key", {"api-key": API_KEY})
        core.create_namespaced_service_account(
            ns,
            {
                "metadata": {
                    "name": "launcher",
                    "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/launch"},
                }
            },
        )
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": "launch-settings"}, "data": {"url": "https://wandb.example.com"}}
        )
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": "launch-config"}, "data": {"config.yaml": "max_jobs: 2\nqueues: [from-file]\n"}}
        )
        rbac.create_cluster_role_binding(
            {
                "metadata": {"name": wide},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"kind": "ServiceAccount", "name": "launcher", "namespace": ns}],
            }
        )
        rbac.create_namespaced_role_binding(
            target,
            {
                "metadata": {"name": "shared"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "launcher", "namespace": ns},
                    {"kind": "User", "name": "alice"},
                ],
            },
        )
        labels = {"app": "launcher", "team": "ml"}
        apps.create_namespaced_deployment(
            ns,
            {
                "metadata": {"name": "launcher"},
                "spec": {
                    "selector": {"matchLabels": {"app": "launcher"}},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "serviceAccountName": "launcher",
                            "nodeSelector": {"kubernetes.io/os": "linux"},
                            "containers": [
                                {
                                    "name": "agent",
                                    "image": "registry.example.com/wandb/launch-agent:0.31.0",
                                    "command": ["wandb", "launch-agent"],
                                    "args": [
                                        "--queue",
                                        "q1",
                                        "-q",
                                        "q2",
                                        "--entity",
                                        "my-team",
                                        "-j",
                                        "3",
                                        "--config",
                                        "/config/config.yaml",
                                    ],
                                    "env": [
                                        {
                                            "name": "WANDB_API_KEY",
                                            "valueFrom": {"secretKeyRef": {"name": "launch-key", "key": "api-key"}},
                                        },
                                        {
                                            "name": "WANDB_BASE_URL",
                                            "valueFrom": {"configMapKeyRef": {"name": "launch-settings", "key": "url"}},
                                        },
                                        {"name": "WANDB_LAUNCH_KANIKO_PVC_NAME", "value": "contexts"},
                                        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
                                        {"name": "WANDB_RELEASE_NAME", "value": "old"},
                                    ],
                                    "volumeMounts": [
                                        {"name": "config", "mountPath": "/config"},
                                        {"name": "scratch", "mountPath": "/scratch"},
                                        {"name": "contexts", "mountPath": "/contexts"},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "config", "configMap": {"name": "launch-config"}},
                                {"name": "scratch", "emptyDir": {}},
                                {"name": "contexts", "persistentVolumeClaim": {"claimName": "contexts"}},
                            ],
                        },
                    },
                },
            },
        )
        kubernetes.client.PolicyV1Api(admin).create_namespaced_pod_disruption_budget(
            ns,
            {
                "metadata": {"name": "launcher"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "launcher"}}},
            },
        )
        common = [
            "adopt",
            "--from-deployment",
            f"{ns}/launcher",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--release",
            unique_name("adopted"),
        ]

        everywhere = run_cli(*common)
        assert everywhere.code == 2
        assert f"clusterrolebinding {wide} lets the agent create Jobs in every namespace" in one_line_error(everywhere)

        result = run_cli(*common, "--target-namespace", target, "-o", "json")
        assert result.code == 0, result.err
        report = json.loads(result.out)
        values = report["values"]
        assert values["launchConfig"] == {"maxJobs": 3, "queues": ["q1", "q2"], "entity": "my-team"}
        assert values["baseUrl"] == "https://wandb.example.com"
        assert values["apiKey"] == {"existingSecret": "launch-key", "existingSecretKey": "api-key"}
        assert values["targetNamespaces"] == [target]
        assert values["serviceAccount"] == {"create": False, "name": "launcher"}
        # Its config builds nothing (no kaniko builder): the agent never read the PVC variable.
        assert "kaniko" not in values
        assert values["extraEnv"] == [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]
        assert values["extraVolumes"] == [
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "contexts", "persistentVolumeClaim": {"claimName": "contexts"}},
        ]
        assert values["extraVolumeMounts"] == [
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "contexts", "mountPath": "/contexts"},
        ]
        assert values["podLabels"] == {"team": "ml"}
        assert values["image"]["repository"] == "registry.example.com/wandb/launch-agent"
        keys = {k["key"]: k["outcome"] for k in report["keys"]}
        assert keys["env WANDB_RELEASE_NAME"] == "refused"
        assert keys["env WANDB_LAUNCH_KANIKO_PVC_NAME"] == "refused"
        assert keys["args --queue"] == "mapped"
        actions = {o["object"]: o["action"] for o in report["oldObjects"]}
        assert actions[f"ClusterRoleBinding {wide}"] == "remove"
        assert actions[f"RoleBinding {target}/shared"] == "keep"  # it binds alice too
        assert actions["ClusterRole edit"] == "keep"  # built into Kubernetes
        assert actions[f"PodDisruptionBudget {ns}/launcher"] == "remove"
        assert actions[f"ConfigMap {ns}/launch-config"] == "remove"
        assert actions[f"ServiceAccount {ns}/launcher"] == "keep"
        assert API_KEY not in result.out + result.err
    finally:
        rbac.delete_cluster_role_binding(wide)
        for name in (ns, target):
            delete_namespace(admin, name)
