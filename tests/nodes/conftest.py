"""Tests on a cluster whose pods reach phases: `cluster` is the `nodes_cluster` here (a local
control plane with kube-scheduler and KWOK's simulated nodes; skipped on --kind/--kubeconfig).
The cluster tests' fixtures (admin client, namespaces, releases) are reused as they are."""

from __future__ import annotations

import pytest

from ..cluster.conftest import admin, install_release, make_namespace, pytest_runtest_makereport  # noqa: F401


@pytest.fixture(scope="session")
def cluster(nodes_cluster):
    if not nodes_cluster.simulated_nodes:
        # On real nodes the real agent starts, and with the tests' placeholder API key it
        # never becomes Ready; the kind workflow's `ct install` (a real key) covers --wait there.
        pytest.skip(f"these tests use simulated nodes; the {nodes_cluster.source} runs the real agent image")
    return nodes_cluster
