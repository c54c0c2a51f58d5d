"""The chart's `helm test` pod: admitted by the server where the agent runs; run for real
only where a kubelet runs it (kind in .github/workflows/, or --kubeconfig to a real cluster)."""

from __future__ import annotations

import kubernetes.client
import pytest

from ..paths import VALUES_DIR
from .kube import POD_SECURITY_ENFORCE

pytestmark = pytest.mark.cluster


def test_helm_test_pod_is_admitted_in_the_restricted_agent_namespace(admin, install_release) -> None:
    release = install_release(VALUES_DIR / "local.yaml")
    core = kubernetes.client.CoreV1Api(admin)
    assert core.read_namespace(release.agent_namespace).metadata.labels[POD_SECURITY_ENFORCE] == "restricted"
    pod = release.test_pod()
    # Server-side dry run: schema, ServiceAccount and PodSecurity admission, nothing stored.
    created = core.create_namespaced_pod(release.agent_namespace, pod, dry_run="All")
    assert created.spec.service_account_name == release.service_account


@pytest.mark.kubelet
def test_helm_test_passes(install_release, needs_kubelet) -> None:
    release = install_release(VALUES_DIR / "local.yaml")
    result = release.helm("test", release.name, "--logs", "--timeout", "5m", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
