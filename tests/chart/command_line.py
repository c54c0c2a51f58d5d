"""The README's install command line for a values file: the `--set` values it adds, as placeholders.

One definition for the offline tests (chartlib) and the template mutation run (mutation/render.py),
so both render the per-cloud files with the same input. This module must stay free of
tests.paths: that module fixes the chart the tests render (WANDB_LAUNCH_CHART) when first
imported, and the mutation run imports this one before its suite points the tests at a chart copy.
"""

from __future__ import annotations

from pathlib import Path

import yaml

# The install command of the README passes the key on the command line; ci files carry their own.
# A key in the SDK's format (check_api_key: 40+ characters after the first '-'), as the chart checks.
API_KEY_PLACEHOLDER = "test-placeholder-api-key-0000000000000000000000000000"
AZURE_STORAGE_KEY_PLACEHOLDER = "test-placeholder-azure-storage-key"


def command_line_values(values_file: Path) -> dict[str, str]:
    """What the README's install command adds to a per-cloud file (`--set KEY=VALUE`): the API
    key, and for kaniko on Azure the storage key (the chart refuses it on other clouds)."""
    if values_file.parent.name != "values":
        return {}
    values = {"apiKey.value": API_KEY_PLACEHOLDER}
    launch = (yaml.safe_load(values_file.read_text()) or {}).get("launchConfig") or {}
    if (launch.get("environment") or {}).get("type") == "azure" and (launch.get("builder") or {}).get("type") == "kaniko":
        values["kaniko.azureStorage.accessKey"] = AZURE_STORAGE_KEY_PLACEHOLDER
    return values


def value_args(values_file: Path) -> list[str]:
    """helm flags for a scenario: the file, plus the README's --set values for the per-cloud files."""
    args = ["-f", str(values_file)]
    for key, value in command_line_values(values_file).items():
        args += ["--set", f"{key}={value}"]
    return args
