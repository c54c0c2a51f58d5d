"""Fixtures of the offline chart tests (helpers live in chartlib.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .chartlib import ALL_VALUES, rendered, values_id


@pytest.fixture(params=ALL_VALUES, ids=values_id)
def values_file(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def docs(values_file: Path) -> list[dict[str, Any]]:
    return rendered(values_file)
