"""Run every benchmark: cold start of each command, verify against kubectl auth can-i, and
ours against W&B's launch-agent chart at 10, 100 and 1,000 target namespaces."""

from __future__ import annotations

import argparse
import sys

from benchmarks import cold_start, scale, verify_rbac


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", choices=("cold-start", "verify", "scale"), help="run one benchmark")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command for cold start (median)")
    parser.add_argument("--namespaces", type=int, default=100, help="target namespaces of the verify release")
    parser.add_argument(
        "--kubectl-calls", type=int, default=0,
        help="kubectl calls to time, the rest scaled (0: all of them for verify, 200 for the scale benchmark)",
    )
    parser.add_argument(
        "--sizes", default="10,100,1000", help="target namespaces of the scale benchmark (comma-separated)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="rounds of the scale benchmark's cluster steps (install, upgrades, uninstall), each chart first in turn; median",
    )
    args = parser.parse_args(argv)
    if args.only in (None, "cold-start"):
        cold_start.main(repeat=args.repeat)
    if args.only in (None, "verify"):
        print()
        verify_rbac.main(namespaces=args.namespaces, kubectl_calls=args.kubectl_calls)
    if args.only in (None, "scale"):
        print()
        scale.main(sizes=[int(n) for n in args.sizes.split(",")], kubectl_calls=args.kubectl_calls or 200, rounds=args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
