"""The mutation tool (mutation/ at the repository root) is run as `python -m mutation`, not installed."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
