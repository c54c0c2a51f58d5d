"""checkov finds nothing to fail in any scenario; every skip in the chart carries its reason."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .chartlib import ALL_VALUES, rendered_text, tool, values_id

SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^CKV2?_K8S_\d+=[^=\s][^=]{10,}$")  # checkov splits on "="


def scenario_file_name(values_file: Path) -> str:
    return values_id(values_file).replace("/", "__")


@pytest.fixture(scope="session")
def checkov_summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One checkov run over every rendered scenario: {file name: {passed, failed, skipped, failures}}."""
    out = tmp_path_factory.mktemp("rendered")
    for values_file in ALL_VALUES:
        (out / scenario_file_name(values_file)).write_text(rendered_text(values_file))
    result = subprocess.run(
        # Not --quiet: its JSON drops the passed checks, which the per-file counts need.
        [tool("checkov"), "-d", str(out), "--framework", "kubernetes", "--compact", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    summaries: dict[str, dict[str, Any]] = {
        scenario_file_name(f): {"passed": 0, "failed": 0, "skipped": 0, "failures": []} for f in ALL_VALUES
    }
    for kind, key in (("passed_checks", "passed"), ("failed_checks", "failed"), ("skipped_checks", "skipped")):
        for check in report["results"][kind]:
            summary = summaries[Path(check["file_path"]).name]
            summary[key] += 1
            if key == "failed":
                summary["failures"].append(f"{check['check_id']} {check['resource']}: {check['check_name']}")
    return summaries


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_checkov_has_no_failures(values_file: Path, checkov_summaries: dict[str, dict[str, Any]]) -> None:
    summary = checkov_summaries[scenario_file_name(values_file)]
    print(
        f"checkov {values_id(values_file)}: passed={summary['passed']} failed={summary['failed']} "
        f"skipped={summary['skipped']}"
    )
    assert summary["passed"] > 0
    assert summary["failures"] == []


def test_every_skip_has_a_reason(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/"):
                assert SKIP_ANNOTATION.match(key), key
                assert SKIP_VALUE.match(value), f"{doc['kind']}/{doc['metadata']['name']}: {value}"
