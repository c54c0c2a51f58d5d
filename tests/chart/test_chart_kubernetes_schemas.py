"""Rendered objects validate strictly against the oldest and newest Kubernetes the chart supports."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from .chartlib import OLDEST_KUBERNETES

NEWEST_KUBERNETES = kubernetes_validate.utils.latest_version()


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
def test_objects_validate_strictly(docs: list[dict[str, Any]], version: str) -> None:
    errors = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{name}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{name}: {error.message}")
    assert not errors, "\n".join(errors)


def test_newest_is_at_least_the_test_control_plane() -> None:
    assert tuple(int(p) for p in NEWEST_KUBERNETES.split(".")[:2]) >= (1, 36)
