"""Run every benchmark: cold start of each command, then verify against kubectl auth can-i."""

from __future__ import annotations

import argparse
import sys

from benchmarks import cold_start, verify_rbac


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", choices=("cold-start", "verify"), help="run one benchmark")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command for cold start (median)")
    parser.add_argument("--namespaces", type=int, default=100, help="target namespaces of the verify release")
    parser.add_argument(
        "--kubectl-calls", type=int, default=0, help="kubectl auth can-i calls to time (0: all of them)"
    )
    args = parser.parse_args(argv)
    if args.only in (None, "cold-start"):
        cold_start.main(repeat=args.repeat)
    if args.only in (None, "verify"):
        print()
        verify_rbac.main(namespaces=args.namespaces, kubectl_calls=args.kubectl_calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
