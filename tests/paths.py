"""Paths every kind of test uses, defined once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wandb_launch.toolcache import cache_dir

REPO = Path(__file__).resolve().parents[1]
# WANDB_LAUNCH_CHART (as for the plugin) runs the tests against another copy of the chart.
CHART = Path(os.environ.get("WANDB_LAUNCH_CHART") or REPO / "chart")
VALUES_DIR = REPO / "values"
# The tools cache of hack/install-tools.sh and hack/build-control-plane.sh.
CACHE_BIN = cache_dir() / "bin"
# The venv of this pytest: its wandb-launch console script.
VENV_BIN = Path(sys.executable).parent
# Test data kept outside the repository, read and installed, never copied in: W&B's public
# launch-agent chart (0.13.12, unchanged) and the original guide (its hand-applied manifests).
REFERENCE = Path(os.environ.get("WANDB_LAUNCH_REFERENCE") or "/work/shared")
OFFICIAL_CHART = REFERENCE / "reference" / "official-launch-agent-chart" / "launch-agent-0.13.12"
GUIDE = REFERENCE / "seed" / "launch-on-kubernetes.ja.md"
