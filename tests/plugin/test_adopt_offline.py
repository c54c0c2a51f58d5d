"""`adopt` without a cluster: every value key of W&B's launch-agent chart has a fate, launch
configs in the SDK's spelling become structured values, and bad flags are one line each."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from wandb_launch.adopt import launchconfig, official
from wandb_launch.adopt.model import OUTCOMES, REFUSED, Adoption, ObjectRef
from wandb_launch.adopt_cmd import identity_instructions, seconds
from wandb_launch.errors import InputError

from ..clirun import one_line_error, run_cli
from ..paths import OFFICIAL_CHART

RELEASE = "la"
NAMESPACE = "wandb"
LIVE = official.Live(secrets={(NAMESPACE, f"wandb-api-key-{RELEASE}"): frozenset({"password"})})
TARGET = official.Target(release="wandb-launch")


def official_values(*overlays: dict[str, Any]) -> dict[str, Any]:
    if not (OFFICIAL_CHART / "values.yaml").is_file():
        pytest.skip(f"{OFFICIAL_CHART} not found; set WANDB_LAUNCH_REFERENCE")
    values = yaml.safe_load((OFFICIAL_CHART / "values.yaml").read_text())
    for overlay in overlays:
        values.update(overlay)
    return values


def adopt(values: dict[str, Any], user: dict[str, Any] | None = None, live: official.Live = LIVE) -> Adoption:
    return official.map_values(
        values, user or {}, release=RELEASE, source=f"release {NAMESPACE}/{RELEASE}", target=TARGET, live=live
    )


def test_every_key_of_the_official_values_has_a_fate() -> None:
    values = official_values()
    adoption = adopt(values)
    keys = official.value_keys(values)
    fates = {o.key: o for o in adoption.outcomes}
    assert len(keys) >= 25  # the walk reached the leaves (a walk that found nothing would pass below)
    assert [k for k in keys if k not in fates] == []
    for outcome in adoption.outcomes:
        assert outcome.outcome in OUTCOMES
        if outcome.outcome == REFUSED:
            assert outcome.note, f"{outcome.key} refused without a reason"
    assert set(official.KEYS) - {"volcano"} == set(keys)


def test_keys_the_old_chart_does_not_read_are_refused_by_name() -> None:
    adoption = adopt(official_values({"volcano": True, "agent": {**official_values()["agent"], "replicas": 2}}))
    fates = {o.key: o for o in adoption.outcomes}
    assert fates["volcano"].outcome == REFUSED
    assert fates["agent.replicas"].outcome == REFUSED
    assert "not a value of launch-agent 0.13.12" in fates["agent.replicas"].note


def test_no_secret_value_reaches_the_values() -> None:
    values = official_values(
        {
            "additionalSecretEnvVars": [{"name": "TOKEN", "value": "secret-env-value"}],
            "gitCreds": "https://u:git-token-value@github.com",
            "azureStorageAccessKey": "azure-key-value",
        }
    )
    values["agent"]["apiKey"] = "api-key-value"
    live = official.Live(
        secrets={
            (NAMESPACE, f"wandb-api-key-{RELEASE}"): frozenset({"password"}),
            (NAMESPACE, "git-creds"): frozenset({".git-credentials", ".gitconfig"}),
            ("wandb", "launch-agent-secret-env-vars"): frozenset({"TOKEN"}),
            ("wandb", "azure-storage-access-key"): frozenset({"password"}),
        }
    )
    adoption = adopt(values, live=live)
    text = yaml.safe_dump(adoption.values)
    for secret in ("secret-env-value", "git-token-value", "azure-key-value", "api-key-value"):
        assert secret not in text
    assert {(str(c.source), str(c.target), c.after_removal) for c in adoption.copies} == {
        (f"Secret {NAMESPACE}/wandb-api-key-{RELEASE}", f"Secret {NAMESPACE}/wandb-launch-adopted-api-key", False),
        (f"Secret {NAMESPACE}/git-creds", f"Secret {NAMESPACE}/wandb-launch-adopted-git-credentials", False),
        ("Secret wandb/launch-agent-secret-env-vars", f"Secret {NAMESPACE}/wandb-launch-adopted-env", False),
        ("Secret wandb/azure-storage-access-key", "Secret wandb/azure-storage-access-key", True),
    }


def test_defaults_of_the_old_chart_give_way_and_user_choices_stay() -> None:
    values = official_values()
    by_default = {o.key: o for o in adopt(values).outcomes}
    assert by_default["agent.imagePullPolicy"].outcome == "default"
    assert by_default["agent.resources"].outcome == "default"
    chosen = adopt(values, user={"agent": {"imagePullPolicy": "Always", "resources": {}}})
    assert chosen.values["image"]["pullPolicy"] == "Always"
    assert chosen.values["resources"]["requests"] == chosen.values["resources"]["limits"]


def test_the_targets_include_the_agent_namespace_as_the_old_chart_binds_it() -> None:
    adoption = adopt(official_values({"additionalTargetNamespaces": ["team-a", "default"]}))
    assert adoption.values["targetNamespaces"] == ["team-a", "default", NAMESPACE]


def test_volcano_rights_only_where_the_cluster_serves_them() -> None:
    served = official.Live(served_groups=frozenset({"batch.volcano.sh"}), secrets=LIVE.secrets)
    assert adopt(official_values(), live=served).values["rbac"]["extraRules"] == [official.VOLCANO_RULE]
    assert "rbac" not in adopt(official_values()).values


def test_an_external_key_that_is_missing_is_one_line() -> None:
    values = official_values()
    values["agent"]["useExternalWandbSecret"] = True
    with pytest.raises(InputError, match="agent.useExternalWandbSecret is true but secret wandb/wandb-api-key-la"):
        adopt(values, live=official.Live())


def config(text: str) -> tuple[dict[str, Any], str | None, Adoption]:
    adoption = Adoption("hand-applied", "test", "wandb", ObjectRef("Deployment", "a", "wandb"), {})
    values, base_url = launchconfig.to_values(yaml.safe_load(text), adoption, where="test", prefix="")
    return values, base_url, adoption


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("queue: q1\nqueues: [q0]", {"queues": ["q0", "q1"]}),
        (
            "queues: [q]\nregistry: {type: ecr, uri: 1.dkr.ecr.us-east-1.amazonaws.com/r}",
            {"queues": ["q"], "builder": {"destination": "1.dkr.ecr.us-east-1.amazonaws.com/r"}},
        ),
        (
            "queues: [q]\nenvironment: {type: gcp, region: r1}\nregistry: {type: gcr, project: p, repository: repo, image-name: img}",
            {
                "queues": ["q"],
                "environment": {"type": "gcp", "region": "r1"},
                "builder": {"destination": "r1-docker.pkg.dev/p/repo/img"},
            },
        ),
        (
            "queues: [q]\nbuilder: {type: kaniko, destination: d, build-job-name: j, extra-thing: 1}",
            {
                "queues": ["q"],
                "builder": {"type": "kaniko", "destination": "d", "buildJobName": "j"},
                "extraConfig": {"builder": {"extra-thing": 1}},
            },
        ),
        (
            "queues: [q]\nenvironment: {type: aws, region: us-east-1, profile: x}",
            {
                "queues": ["q"],
                "environment": {"type": "aws", "region": "us-east-1"},
                "extraConfig": {"environment": {"profile": "x"}},
            },
        ),
    ],
    ids=["singular-queue", "registry-uri", "registry-gar-parts", "builder-extra", "environment-extra"],
)
def test_launch_configs_become_structured_values(text: str, expected: dict[str, Any]) -> None:
    values, _, _ = config(text)
    assert values == expected


def test_unknown_launch_config_keys_are_refused_and_base_url_moves() -> None:
    values, base_url, adoption = config("queues: [q]\nbase_url: https://w.example.com\nrunner: {type: k8s}")
    assert base_url == "https://w.example.com"
    fates = {o.key: o for o in adoption.outcomes}
    assert fates["runner"].outcome == REFUSED and "AgentConfig" in fates["runner"].note


def test_a_docker_builder_is_refused() -> None:
    with pytest.raises(InputError, match="builder.type is docker"):
        config("queues: [q]\nbuilder: {type: docker}")


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("wandb/launch-agent:0.17.3", ("wandb/launch-agent", "0.17.3", "")),
        ("registry:5000/mirror/launch-agent", ("registry:5000/mirror/launch-agent", "", "")),
        ("r.io/a@sha256:abc", ("r.io/a", "", "sha256:abc")),
    ],
)
def test_image_references(ref: str, parts: tuple[str, str, str]) -> None:
    assert official.split_image(ref) == parts


def test_durations() -> None:
    assert [seconds(t) for t in ("300", "300s", "5m", "1m30s", "1h")] == [300, 300, 300, 90, 3600]
    with pytest.raises(InputError, match="--timeout"):
        seconds("soon")


def test_identity_instructions_name_the_binding() -> None:
    gke = identity_instructions("iam.gke.io/gcp-service-account=a@proj.iam.gserviceaccount.com", "wandb", "ours")
    assert "--member 'serviceAccount:proj.svc.id.goog[wandb/ours]'" in gke
    assert "system:serviceaccount:wandb:ours" in identity_instructions(
        "eks.amazonaws.com/role-arn=arn:aws:iam::1:role/r", "wandb", "ours"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from-release", "a", "--from-deployment", "ns/b"],
            "--from-release: and --from-deployment both given; give one of them",
        ),
        (["--from-deployment", "b"], "--from-deployment: 'b' is not NAMESPACE/NAME"),
        (["--from-namespace", "ns"], "--from-namespace: given without --from-release"),
        (["--apply"], "--values-out: --apply installs from a values file you keep"),
        (["--from-release", "a", "--target-namespace", "t"], "--target-namespace: is for agents applied by hand"),
        (["--timeout", "soon"], "--timeout: 'soon' is not a duration"),
        (["--settle", "-1"], "--settle: -1.0 is negative"),
    ],
)
def test_bad_flags_are_one_line_before_any_cluster(argv: list[str], message: str) -> None:
    result = run_cli("adopt", *argv, "--kubeconfig", "/nonexistent/kubeconfig")
    assert result.code == 2
    assert message in one_line_error(result)
