"""One server process of the control plane: its own process group, its log file, a sure stop."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections import deque
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: if the launching process dies (even by SIGKILL), the
    kernel kills the child too, so a crashed test run leaves no API server behind. SIGKILL,
    not SIGTERM: the store is throwaway, and an API server whose etcd died with it would
    spend minutes in a graceful shutdown that can no longer reach etcd."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: stop() and the finalizer still apply
        pass


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() signals all of it
                preexec_fn=_die_with_parent,
            )

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._popen.poll() if self._popen else None

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        stop_process_group(self._popen.pid, grace_seconds)
        self._popen.wait()

    def tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except OSError:
            return ""


def stop_process_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after the grace period."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            # Reap the leader if it is our child, then probe the group.
            os.waitpid(pgid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
