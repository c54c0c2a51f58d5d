"""wandb-launch: install, check and debug a W&B Launch agent on Kubernetes."""

__version__ = "0.1.1"
