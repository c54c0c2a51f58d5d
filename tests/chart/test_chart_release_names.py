"""Names, labels and selectors: what tells a release's objects apart and finds them.

The plugin (and `kubectl -l`) finds a release's objects by its release selector, the
Deployment and the disruption budget find the agent pod by the agent selector, and two
releases in one namespace must neither share an object nor select each other's pods.
Every release name Helm accepts (1 to 53 characters) and a 63-character namespace render
names and label values the API server accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chartlib import CHART, RELEASE, helm_template, objects_of, one, scenario_values

CI = CHART / "ci"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingAdmissionPolicy",
                  "MutatingAdmissionPolicyBinding"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Every option on, with the stopped-runs policy (cluster-scoped, named after the release too).
ALL_OPTIONS = ["-f", str(CI / "all-options-values.yaml"), "--set", "stoppedRuns.deletePods=true"]


def render(*args: str, release: str = RELEASE, namespace: str = "default") -> list[dict[str, Any]]:
    result = helm_template(*args, release=release, namespace=namespace)
    assert result.returncode == 0, f"release {release!r} in {namespace!r}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    return selector.items() <= (labels or {}).items()


def names_map(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [cm for cm in objects_of(docs, "ConfigMap") if "names.yaml" in cm.get("data", {})]
    return yaml.safe_load(found["data"]["names.yaml"])


def parse_selector(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(","))


def key(doc: dict[str, Any]) -> tuple[str, str | None, str]:
    return doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]


def test_the_release_selector_finds_every_object(docs: list[dict[str, Any]]) -> None:
    """`status`, `cleanup` and `kubectl -l` find a release's objects by this selector (the
    names ConfigMap publishes it): every object carries it, with the release's instance."""
    selector = parse_selector(names_map(docs)["releaseSelector"])
    assert selector["app.kubernetes.io/instance"] == RELEASE
    for doc in docs:
        assert selects(selector, doc["metadata"].get("labels")), f"{key(doc)} is not selected by {selector}"


def test_the_agent_selector_selects_the_agent_pod_only(values_file: Path, docs: list[dict[str, Any]]) -> None:
    """The API server refuses a Deployment whose selector does not match its pod template;
    the pod's labels and annotations from the values reach it."""
    values = scenario_values(values_file)
    deployment = one(docs, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == parse_selector(names_map(docs)["agentSelector"])
    template = deployment["spec"]["template"]["metadata"]
    assert selects(selector, template["labels"])
    assert values["podLabels"].items() <= template["labels"].items()
    assert values["podAnnotations"].items() <= template["annotations"].items()
    for doc in docs:
        if doc is not deployment:
            assert not selects(selector, doc["metadata"].get("labels")), f"{key(doc)} has the agent pod's labels"


@pytest.mark.parametrize("values_args", [
    ["-f", str(CI / "default-values.yaml")],
    [*ALL_OPTIONS, "--set", "namespace.create=false,namespace.name=,namespace.labels=null,namespace.annotations=null,serviceAccount.name="],
], ids=["default", "all-options"])
def test_two_releases_in_one_namespace_stay_apart(values_args: list[str]) -> None:
    """No object of one is an object of the other, and neither release's selectors pick
    the other's objects (its agent pod included). Names the values give (serviceAccount.name)
    and the SDK's fixed azure-storage-access-key are the user's to keep apart."""
    first, second = (render(*values_args, release=name, namespace="shared") for name in ("team-a", "team-b"))
    assert not {key(d) for d in first} & {key(d) for d in second}
    for mine, theirs in ((first, second), (second, first)):
        release_selector = parse_selector(names_map(mine)["releaseSelector"])
        agent_selector = one(mine, "Deployment")["spec"]["selector"]["matchLabels"]
        their_pod = one(theirs, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert not selects(agent_selector, their_pod)
        for doc in theirs:
            assert not selects(release_selector, doc["metadata"].get("labels")), key(doc)


def check_names(docs: list[dict[str, Any]], release: str) -> None:
    """Names the API server accepts, namespaced ones within 63 characters (the chart's
    promise: DNS-label and label-value safe) but the API-key secret's, whose name the SDK
    derives (wandb-api-key-<release>, up to 67 characters: a valid secret name), label
    values within 63, no two objects of a kind sharing a name, and every reference (a
    binding's role, a pod's config map, secret or claim, the service account) resolved."""
    assert len({key(d) for d in docs}) == len(docs)
    for doc in docs:
        name = doc["metadata"]["name"]
        where = f"release {release!r}: {doc['kind']} {name}"
        assert DNS_SUBDOMAIN.match(name) and len(name) <= 253, where
        if doc["kind"] not in CLUSTER_SCOPED and name != f"wandb-api-key-{release}":
            assert len(name) <= 63, where
        if doc["kind"] == "Namespace":
            assert DNS_LABEL.match(name) and len(name) <= 63, where
        for label, value in (doc["metadata"].get("labels") or {}).items():
            assert LABEL_VALUE.match(str(value)) and len(str(value)) <= 63, f"{where}: label {label}={value}"
    release_selector = parse_selector(names_map(docs)["releaseSelector"])
    for doc in docs:
        assert selects(release_selector, doc["metadata"].get("labels")), f"release {release!r}: {key(doc)} unselected"
    objects = {key(d) for d in docs}
    ns = one(docs, "Deployment")["metadata"]["namespace"]
    for binding in objects_of(docs, "RoleBinding"):
        ref = binding["roleRef"]
        scope = None if ref["kind"] == "ClusterRole" else binding["metadata"]["namespace"]
        assert (ref["kind"], scope, ref["name"]) in objects, f"release {release!r}: {key(binding)} -> {ref}"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert ("ServiceAccount", ns, pod["serviceAccountName"]) in objects
    for volume in pod["volumes"]:
        if "configMap" in volume and volume["name"] != "ca-bundle":
            assert ("ConfigMap", ns, volume["configMap"]["name"]) in objects, volume
        if "secret" in volume:
            assert ("Secret", ns, volume["secret"]["secretName"]) in objects, volume
        if "persistentVolumeClaim" in volume:
            assert ("PersistentVolumeClaim", ns, volume["persistentVolumeClaim"]["claimName"]) in objects, volume


# 1 and 53 characters (Helm's bounds), the chart's own name, and 53-character names with a
# '-' or '.' where a name cut to fit 63 characters would end.
RELEASE_NAMES = ["a", "wandb-launch", "r" * 53, "x" * 41 + "-" + "y" * 11, "x" * 41 + "." + "y" * 11,
                 "x" * 49 + "-" + "yyy", "team.a-" + "z" * 46]


@pytest.mark.parametrize("release", RELEASE_NAMES, ids=lambda r: f"{len(r)}-{r[:12]}")
def test_every_release_name_renders_valid_names(release: str) -> None:
    assert 1 <= len(release) <= 53
    check_names(render(*ALL_OPTIONS, release=release), release)


def test_a_63_character_namespace_renders_valid_names() -> None:
    namespace = "n" * 63
    docs = render("-f", str(CI / "namespaced-rbac-values.yaml"), "--set", "namespace.name=", "--set",
                  "stoppedRuns.deletePods=true", "--set", f"targetNamespaces={{{namespace},runs-a}}",
                  release="r" * 53, namespace=namespace)
    assert one(docs, "Deployment")["metadata"]["namespace"] == namespace
    check_names(docs, "r" * 53)
    docs = render(*ALL_OPTIONS, "--set", f"namespace.name={namespace}", release="r" * 53, namespace="m" * 63)
    (created,) = objects_of(docs, "Namespace")
    assert created["metadata"]["name"] == namespace
    check_names(docs, "r" * 53)


def test_names_of_digits_stay_strings() -> None:
    """A release, namespace and nameOverride of digits (valid names) stay strings where YAML
    would read a bare 1234 as a number: the API server refuses a label value that is not a
    string, and the plugin compares the names ConfigMap's entries with object names."""
    docs = render("-f", str(CI / "all-options-values.yaml"), "--set-string", "nameOverride=90",
                  "--set", "namespace.create=false,namespace.name=,namespace.labels=null,namespace.annotations=null",
                  "--set", "stoppedRuns.deletePods=true", release="1234", namespace="5678")
    for doc in docs:
        metadata = doc["metadata"]
        assert isinstance(metadata["name"], str) and isinstance(metadata.get("namespace", ""), str), key(doc)
        for label, value in (metadata.get("labels") or {}).items():
            assert isinstance(value, str), f"{key(doc)}: label {label}={value!r}"
    names = names_map(docs)
    assert all(isinstance(value, str) for value in names.values()), names
    assert (names["release"], names["releaseNamespace"], names["agentNamespace"]) == ("1234", "5678", "5678")
    check_names(docs, "1234")
