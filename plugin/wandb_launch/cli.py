"""The `wandb-launch` command line (and `helm launch`, through plugin/bin/helm-launch).

Each subcommand lives in its own module with `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Those modules import only light things at module level, so `--help`
and the offline commands never pay for the SDK or the Kubernetes client.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from wandb_launch import __version__
from wandb_launch.errors import EXIT_INPUT, InputError

# name -> module (imported when the parser is built; each is light).
COMMANDS = {
    "values": "wandb_launch.values_cmd",
    "install": "wandb_launch.install_cmd",
    "upgrade": "wandb_launch.install_cmd",
    "status": "wandb_launch.status_cmd",
    "verify": "wandb_launch.verify_cmd",
    "preview-job": "wandb_launch.preview_cmd",
    "cleanup": "wandb_launch.cleanup_cmd",
    "adopt": "wandb_launch.adopt_cmd",
}
DEMO_HELP = "start a local control plane (unless a kube context is set), install the local values, verify, status"
# What a shell reports for a program killed by SIGPIPE: `wandb-launch status | head` ends like `yes | head`.
EXIT_BROKEN_PIPE = 128 + 13


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> Parser:
    parser = Parser(prog="wandb-launch", description="Install, check and debug a W&B Launch agent on Kubernetes.")
    parser.add_argument("--version", action="version", version=f"wandb-launch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        help_text = module.HELP if name != "upgrade" else module.UPGRADE_HELP
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command) if name != "upgrade" else module.add_arguments(command, upgrade=True)
        command.set_defaults(module=module_name, command=name)
    demo = sub.add_parser("demo", help=DEMO_HELP, description=DEMO_HELP, add_help=False)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER, help="see wandb-launch demo --help")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here (also after --help's exit), so a reader that went away is noticed
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): stop quietly; the interpreter's last flush
        # of stdout goes to /dev/null instead of printing a second traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        # The demo parses its own flags (--help included): hand them over untouched.
        return _run_demo(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        module = importlib.import_module(args.module)
        return int(module.run(args) or 0)
    except InputError as e:
        print(f"wandb-launch {args.command}: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"wandb-launch {args.command}: interrupted", file=sys.stderr)
        return 130


def _run_demo(argv: list[str]) -> int:
    try:
        demo = importlib.import_module("wandb_launch.demo")
        return int(demo.main(argv) or 0)
    except InputError as e:
        print(f"wandb-launch demo: error: {e}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
