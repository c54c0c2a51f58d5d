"""Where the project's tools live: `${WANDB_LAUNCH_CACHE:-${XDG_CACHE_HOME:-~/.cache}/wandb-launch}`.

The one definition of that path. The Makefile and hack/*.sh run this file
(`python3 plugin/wandb_launch/toolcache.py` prints it), so it imports only the standard
library and nothing from the package.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The tools cache: helm, ct, checkov, the control-plane binaries, each keyed by version."""
    explicit = os.environ.get("WANDB_LAUNCH_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "wandb-launch"


if __name__ == "__main__":
    print(cache_dir())
