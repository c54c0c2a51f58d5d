"""`python -m mutation templates|python`: the two halves of `make mutate`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("WANDB_LAUNCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wandb-launch")
REPORTS = REPO / "build" / "mutate"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    templates = commands.add_parser("templates", help="mutate chart/templates with our mutator; test each mutant")
    templates.add_argument("--sample", type=int, default=100, metavar="N",
                           help="try N mutants drawn with --seed (default 100, about 25 min; 0: all)")
    templates.add_argument("--seed", type=int, default=12, help="seed of the sample (default 12)")
    templates.add_argument("--only", action="append", default=[], metavar="GLOB",
                           help="only templates matching GLOB (e.g. 'templates/role.yaml'); repeatable")  # fmt: skip
    templates.add_argument("--no-probes", dest="probes", action="store_false",
                           help="compare renders of the values files only (mutation/probes.yaml left out)")  # fmt: skip
    templates.add_argument("--all-tests", action="store_true",
                           help="run every offline test per mutant, also those no template can change")  # fmt: skip
    templates.add_argument("--list", action="store_true", help="print the mutants and exit")
    templates.add_argument("--report", type=Path, default=REPORTS / "templates.json", help="JSON report path")
    templates.add_argument("--workdir", type=Path, help="where the chart copies go (default: a temp dir)")
    templates.add_argument("--keep", action="store_true", help="keep the work directory")

    python = commands.add_parser("python", help="mutmut over plugin/wandb_launch, running tests/plugin")
    python.add_argument("--sample", type=int, default=1000, metavar="N",
                        help="try N mutants drawn with --seed (default 1000, about 10 min; 0: all)")
    python.add_argument("--seed", type=int, default=12, help="seed of the sample (default 12)")
    python.add_argument("--only", action="append", default=[], metavar="MODULE",
                        help="only mutants of MODULE (e.g. wandb_launch.inputs, or wandb_launch_chart_helm_test_check "
                             "for the chart's in-cluster check); repeatable; --sample then draws among them")  # fmt: skip
    python.add_argument("--cluster-tests", action="append", default=[], metavar="PATH",
                        help="run these tests (e.g. tests/cluster/test_in_cluster_check.py) too, besides the offline "
                             "ones, against a local control plane started once for the run; repeatable")  # fmt: skip
    python.add_argument("--max-children", type=int, default=2, help="mutmut's parallel test processes (default 2)")
    python.add_argument("--report", type=Path, default=REPORTS / "python.json", help="JSON report path")
    python.add_argument("--stage", type=Path, default=REPORTS / "python",
                        help="staging directory mutmut runs in (default build/mutate/python)")  # fmt: skip

    args = parser.parse_args(argv)
    if args.command == "templates":
        from mutation import templates_run

        options = templates_run.Options(
            repo=REPO, cache_bin=CACHE / "bin", sample=args.sample, seed=args.seed, probes=args.probes,
            all_tests=args.all_tests, only=args.only, report=args.report, workdir=args.workdir, keep=args.keep,
        )  # fmt: skip
        if args.list:
            mutants = templates_run.choose(templates_run.all_mutants(REPO / "chart", args.only), args.sample, args.seed)
            for m in mutants:
                print(f"chart/{m.path}:{m.line}  [{m.operator}] {m.change}")
            print(f"{len(mutants)} mutants")
            return 0
        report = templates_run.run(options)
        return 0 if report["status"].get("error", 0) == 0 else 1
    from mutation import python_run

    return python_run.run(
        repo=REPO, stage=args.stage, sample=args.sample, seed=args.seed, only=args.only, cluster_tests=args.cluster_tests,
        max_children=args.max_children, report=args.report, cache_bin=CACHE / "bin",
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
