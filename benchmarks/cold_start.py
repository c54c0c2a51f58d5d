"""Cold start of every command, process start to exit, next to `helm template` of the chart."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from benchmarks.common import CLI, REPO, time_process, tool

# Commands that need neither the SDK nor a cluster: the 0.3 s budget.
LIGHT_BUDGET_SECONDS = 0.3


def cases(workdir: Path) -> list[tuple[str, list[str], bool]]:
    """(label, argv, light?) for every command; cluster commands are timed up to their --help."""
    queue = workdir / "queue.json"
    queue.write_text(json.dumps({"spec": {"template": {"spec": {"containers": [{}]}}}}))
    out = workdir / "values.yaml"
    return [
        ("--help", [CLI, "--help"], True),
        ("values --help", [CLI, "values", "--help"], True),
        ("install --help", [CLI, "install", "--help"], True),
        ("status --help", [CLI, "status", "--help"], True),
        ("verify --help", [CLI, "verify", "--help"], True),
        ("preview-job --help", [CLI, "preview-job", "--help"], True),
        ("values --cloud bad (refused)", [CLI, "values", "--cloud", "bad"], True),
        ("values --spec gke.yaml (SDK)", [CLI, "values", "--spec", "values/specs/gke.yaml", "-o", str(out)], False),
        ("preview-job queue.json (SDK)", [CLI, "preview-job", str(queue)], False),
    ]


def main(repeat: int = 5) -> None:
    helm = tool("helm")
    with tempfile.TemporaryDirectory() as tmp:
        peer, code = time_process(
            [
                helm,
                "template",
                "wandb-launch",
                str(REPO / "chart"),
                "-f",
                str(REPO / "values/gke.yaml"),
                "--kube-version",
                "1.36.0",
                "--set",
                "apiKey.value=benchmark-00000000000000000000000000000000000000000",
            ],
            repeat,
        )
        print(f"Cold start, median of {repeat} runs (process start to exit)")
        print(f"{'command':34} {'seconds':>8} {'x helm template':>16}  budget")
        print(
            f"{'helm template chart (peer)':34} {peer:8.3f} {1.0:16.2f}  {'(exit ' + str(code) + ')' if code else ''}"
        )
        floor, _ = time_process([sys.executable, "-c", "pass"], repeat)
        print(f"{'python -c pass (floor)':34} {floor:8.3f} {floor / peer:16.2f}")
        over = []
        for label, argv, light in cases(Path(tmp)):
            seconds, _ = time_process(argv, repeat)
            verdict = ""
            if light:
                verdict = f"< {LIGHT_BUDGET_SECONDS}s " + ("ok" if seconds < LIGHT_BUDGET_SECONDS else "OVER")
                if seconds >= LIGHT_BUDGET_SECONDS:
                    over.append(label)
            else:
                verdict = "pays for wandb"
            print(f"{label:34} {seconds:8.3f} {seconds / peer:16.2f}  {verdict}")
        print("all light commands within budget" if not over else f"over budget: {', '.join(over)}")
