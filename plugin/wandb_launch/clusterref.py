"""Which release a command works on: cluster, kube context, namespace, release, helm binary.

Built once from flags and Helm's plugin env by the CLI layer (`clusterargs.cluster_ref`);
library code takes this value (or plain values), never parsed arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

# The release name when none is given: the chart's name, as in `helm install wandb-launch ./chart`.
DEFAULT_RELEASE = "wandb-launch"


@dataclass(frozen=True)
class ClusterRef:
    """A Helm release on a cluster, and the helm binary that manages it."""

    kubeconfig: str | None = None  # None: $KUBECONFIG / ~/.kube/config, else in-cluster
    context: str | None = None  # None: the kubeconfig's current context
    namespace: str = "default"  # the release's namespace (helm -n)
    release: str = DEFAULT_RELEASE
    helm: str = "helm"
