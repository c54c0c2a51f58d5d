"""Tests on a cluster whose pods reach phases: `cluster` is the `nodes_cluster` here (a local
control plane with kube-scheduler and KWOK's simulated nodes, unless --kind/--kubeconfig).
The cluster tests' fixtures (admin client, namespaces, releases) are reused as they are."""

from __future__ import annotations

import pytest

from cluster.conftest import admin, install_release, make_namespace, pytest_runtest_makereport  # noqa: F401


@pytest.fixture(scope="session")
def cluster(nodes_cluster):
    return nodes_cluster
