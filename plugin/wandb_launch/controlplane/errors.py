"""The one error the control-plane launcher raises."""

from __future__ import annotations


class ControlPlaneError(RuntimeError):
    """The local control plane could not be found, started or checked; the message says why."""
