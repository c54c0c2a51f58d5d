"""`python -m wandb_launch.controlplane`: start a local control plane and keep it until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .errors import ControlPlaneError
from .launcher import LocalControlPlane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wandb_launch.controlplane",
        description="Start etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 (no kubelet: pods stay Pending).",
    )
    parser.add_argument("--workdir", type=Path, help="keep certificates, kubeconfig and logs here (default: a temporary directory, removed on exit)")
    parser.add_argument("--nodes", type=int, default=0, help="also run kube-scheduler and KWOK with this many simulated nodes (pods get phases; no container runs)")
    parser.add_argument("--audit", action="store_true", help="the API server logs service accounts' requests to <workdir>/logs/audit.log")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with LocalControlPlane(args.workdir, nodes=args.nodes, audit=args.audit) as control_plane:
            print(f"control plane ready in {control_plane.startup_seconds:.1f} s at {control_plane.server}")
            print(f"export KUBECONFIG={control_plane.kubeconfig}")
            print("Ctrl-C stops it.", flush=True)
            try:
                stopped.wait()
            except KeyboardInterrupt:
                pass
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
