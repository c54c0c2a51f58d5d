"""The kaniko build Job exactly as the SDK's KanikoBuilder._create_kaniko_job makes it
(wandb 0.31.0, sdk/launch/builder/kaniko_builder.py), for the default case: no
kaniko-config, no PVC, no docker-config secret, no credentials secret, a non-Azure registry.

Why not call the SDK: its module imports boto3, the Google Artifact Registry client and the
Azure SDKs at import time (the `wandb[launch]` extra), whose pins conflict with the
Kubernetes client this project uses. What matters for admission is the pod spec below,
and the SDK sets no securityContext at all: build pods run as root.
"""

from __future__ import annotations

from typing import Any

# kaniko_builder.py defaults.
DEFAULT_KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.11.0"
DEFAULT_BUILD_JOB_NAME = "wandb-launch-container-build"
BUILD_TIMEOUT_SECONDS = 1800
DOCKERFILE_NAME = "Dockerfile.wandb"  # builder/build.py _WANDB_DOCKERFILE_NAME


def kaniko_build_job(
    *, namespace: str, run_id: str, repository: str, image_tag: str, build_context_store: str,
    service_account: str = "default", env: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Job the agent creates in its own namespace to build a run's image.

    `service_account` is $WANDB_LAUNCH_SERVICE_ACCOUNT_NAME; `env` is what the registry
    adds (ECR: AWS_REGION)."""
    job_name = f"{DEFAULT_BUILD_JOB_NAME}-{run_id}"
    args = {
        "--context": f"{build_context_store.rstrip('/')}/{run_id}.tgz",
        "--dockerfile": DOCKERFILE_NAME,
        "--destination": image_tag.replace("https://", ""),
        "--cache": "true",
        "--cache-repo": repository.replace("https://", ""),
        "--snapshot-mode": "redo",
        "--compressed-caching": "false",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"namespace": namespace, "name": job_name, "labels": {"wandb": "launch"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"wandb": "launch"}},
                "spec": {
                    "restartPolicy": "Never",
                    "activeDeadlineSeconds": BUILD_TIMEOUT_SECONDS,
                    "serviceAccountName": service_account,
                    "containers": [{
                        "args": [f"{name}={value}" for name, value in args.items()],
                        "name": "wandb-container-build",
                        "image": DEFAULT_KANIKO_IMAGE,
                        "volumeMounts": [],
                        "env": list(env or []),
                    }],
                    "volumes": [],
                },
            },
        },
    }


def kaniko_build_pod(job: dict[str, Any]) -> dict[str, Any]:
    """The pod the job controller makes from the Job's template (what Pod Security judges)."""
    template = job["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": job["metadata"]["namespace"],
            "name": job["metadata"]["name"] + "-pod",
            "labels": dict(template["metadata"]["labels"]),
        },
        "spec": template["spec"],
    }
