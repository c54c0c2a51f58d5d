"""What indexes and users read about the chart: Artifact Hub annotations that match the chart,
an icon and a changelog that exist, one version for chart, CLI and plugin."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import yaml

from .conftest import REPO, run, tool

CHART_YAML = yaml.safe_load((REPO / "chart/Chart.yaml").read_text())
ANNOTATIONS: dict[str, str] = CHART_YAML["annotations"]


def annotation(name: str) -> Any:
    return yaml.safe_load(ANNOTATIONS[f"artifacthub.io/{name}"])


def rendered_images(*args: str) -> set[str]:
    """Every container image of every object `helm template` renders (hooks and the test pod included)."""
    out = run(tool("helm"), "template", "wl", REPO / "chart", "-f", REPO / "values/local.yaml",
              "--set", "apiKey.value=metadata-test-key-00000000000000000000000000000000000", *args).stdout
    images = set()
    for doc in filter(None, yaml.safe_load_all(out)):
        spec = doc.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or spec
        for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            images.add(container["image"])
    return images


def test_images_annotation_lists_what_the_chart_runs() -> None:
    listed = {entry["image"] for entry in annotation("images")}
    assert listed == rendered_images()
    assert all(image.endswith(f":{CHART_YAML['appVersion']}") for image in listed)


def test_license_is_the_package_license() -> None:
    license_line = re.search(r'^license = "([^"]+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert license_line and ANNOTATIONS["artifacthub.io/license"] == license_line[1]


def test_links_and_icon_point_into_this_repository() -> None:
    home = CHART_YAML["home"].rstrip("/")
    owner_repo = home.removeprefix("https://github.com/")
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", owner_repo), home
    links = annotation("links")
    assert links and all(set(link) == {"name", "url"} and link["url"].startswith("https://") for link in links)
    # Links into this repository name files that exist here.
    for link in links:
        match = re.fullmatch(rf"{re.escape(home)}/(?:tree|blob)/main/(.+)", link["url"])
        if match:
            assert (REPO / match[1]).exists(), link
    icon = re.fullmatch(rf"https://raw\.githubusercontent\.com/{re.escape(owner_repo)}/main/(.+\.svg)", CHART_YAML["icon"])
    assert icon, CHART_YAML["icon"]
    assert ElementTree.parse(REPO / icon[1]).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert home in CHART_YAML["sources"]


def test_changes_annotation_is_the_changelog_of_this_version() -> None:
    from .test_chart_version import chart_version_module

    module = chart_version_module()
    paths = module.Paths(REPO)
    entries = module.changelog_entries(paths, str(CHART_YAML["version"]))
    assert entries, "chart/CHANGELOG.md has no entries for Chart.yaml's version"
    assert [(c["kind"], c["description"]) for c in annotation("changes")] == entries


def test_sign_key_is_left_to_the_release() -> None:
    """The fingerprint comes from the key that signs (hack/release_chart.py), never from a stale copy here."""
    assert "artifacthub.io/signKey" not in ANNOTATIONS
