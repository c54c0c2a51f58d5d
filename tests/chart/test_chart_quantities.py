"""The chart reads resource quantities (to refuse a request above its limit) as Kubernetes
does: its `wandb-launch.quantity` helper, rendered from a copy of the chart for every
suffix, decimal and exponent form, agrees with the Kubernetes client's parse_quantity; and a
request equal to its limit in another spelling is accepted, one byte more refused."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
import yaml
from kubernetes.utils import parse_quantity

from .chartlib import API_KEY_PLACEHOLDER, CHART, REPO, helm_template, run_helm

VALID = ["0", "1", "2", "500m", "1.5", ".5", "1.", "100n", "1n", "5u", "250m", "1k", "1M", "1G", "1T", "1P",
         "1E", "1Ki", "1Mi", "1.5Gi", "1Gi", "2Ti", "1Pi", "1Ei", "1e3", "1E3", "1e-2", "1e+2", "12e0", "3E-1",
         "0.5Mi", "64Mi", "1073741824"]
INVALID = ["2 GB", "1KB", "-1", "1.2.3", "Gi", "", "1e", "1gi", "0x10"]
PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: quantity-probe
data:
{{- range $i, $q := list %s }}
  {{ printf "q%%d" $i }}: {{ include "wandb-launch.quantity" $q | quote }}
{{- end }}
"""


@pytest.fixture(scope="module")
def helper_reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the chart's quantity helper makes of each quantity ("" for none)."""
    copy = tmp_path_factory.mktemp("chart") / "wandb-launch"
    shutil.copytree(CHART, copy, symlinks=False)
    quantities = VALID + INVALID
    (copy / "templates" / "quantity-probe.yaml").write_text(PROBE % " ".join(f'"{q}"' for q in quantities))
    result = run_helm("template", "probe", str(copy), "--show-only", "templates/quantity-probe.yaml",
                      "-f", str(CHART / "ci" / "default-values.yaml"))
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)["data"]
    return {q: data[f"q{i}"] for i, q in enumerate(quantities)}


@pytest.mark.parametrize("quantity", VALID)
def test_the_chart_reads_a_quantity_as_kubernetes_does(helper_reads: dict[str, str], quantity: str) -> None:
    expected = parse_quantity(quantity)
    read = Decimal(helper_reads[quantity])
    # The helper prints six decimals: below a micro-unit only the rounding is left.
    assert abs(read - expected) <= Decimal("0.000001") + expected * Decimal("1e-12"), (quantity, read, expected)


@pytest.mark.parametrize("quantity", INVALID)
def test_the_chart_reads_no_value_from_what_is_not_a_quantity(helper_reads: dict[str, str], quantity: str) -> None:
    assert helper_reads[quantity] == ""


@pytest.mark.parametrize(("request_", "limit", "accepted"), [
    ("1Gi", "1073741824", True),
    ("1Gi", "1073741823", False),
    ("1000Mi", "1000Mi", True),
    ("1k", "1000", True),
    ("1k", "999", False),
    ("1500m", "1.5", True),
    ("2e3", "2k", True),
    ("2001", "2e3", False),
])
def test_a_request_within_its_limit_in_any_spelling(request_: str, limit: str, accepted: bool) -> None:
    result = helm_template("-f", str(REPO / "values" / "gke.yaml"), "--set", f"apiKey.value={API_KEY_PLACEHOLDER}",
                           "--set-string", f"resources.requests.memory={request_},resources.limits.memory={limit}")
    if accepted:
        assert result.returncode == 0, result.stderr
    else:
        assert f"resources.requests.memory {request_} is more than resources.limits.memory {limit}" in result.stderr


def test_probe_quantities_parse_in_kubernetes() -> None:
    """The table above means what it says: each VALID entry is a non-negative quantity for
    the Kubernetes client, each INVALID one is not (or is negative)."""
    for quantity in VALID:
        assert parse_quantity(quantity) >= 0
    for quantity in INVALID:
        try:
            assert parse_quantity(quantity) < 0, quantity
        except ValueError:
            pass

