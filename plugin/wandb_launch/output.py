"""Terminal output: tables for people, JSON/YAML for scripts, colour only on a TTY, progress."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMATS = ("table", "json", "yaml")

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "dim": "2", "bold": "1"}


def use_colour(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    if not use_colour(stream or sys.stdout):
        return text
    return f"\033[{_COLOURS[colour]}m{text}\033[0m"


STATUS_COLOURS = {"ok": "green", "fail": "red", "warn": "yellow", "skip": "dim"}


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], stream: TextIO | None = None) -> str:
    """A plain column table; the last column is cut to fit the terminal width."""
    stream = stream or sys.stdout
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if stream.isatty():
        room = shutil.get_terminal_size((120, 24)).columns - sum(widths[:-1]) - 2 * (len(widths) - 1)
        widths[-1] = max(20, min(widths[-1], room))
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                text = cell if len(cell) <= widths[i] else cell[: widths[i] - 1] + "…"
            else:
                text = cell.ljust(widths[i])
            if n == 0:
                text = paint(text, "bold", stream)
            elif headers[i].lower() == "status" and cell in STATUS_COLOURS:
                text = paint(cell, STATUS_COLOURS[cell], stream) + " " * (widths[i] - len(cell))
            parts.append(text)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def dump(data: Any, fmt: str) -> str:
    """Machine-readable output: `json` or `yaml`."""
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False, default=str)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


class Progress:
    """Shows what a slow step is doing on stderr: a spinner on a TTY, one line per step in a pipe."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._text = ""
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, text: str) -> None:
        if self.quiet or text == self._text:
            return
        self._text = text
        self._started = self._started or time.monotonic()
        if not self.tty:
            print(f"… {text}", file=self.stream, flush=True)
        elif self._thread is None:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        i = 0
        while not self._stop.wait(0.1):
            elapsed = time.monotonic() - self._started
            line = f"{frames[i % len(frames)]} {self._text} ({elapsed:.0f}s)"
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r\033[K" + line[:width])
            self.stream.flush()
            i += 1

    def done(self, text: str = "") -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.stream.write("\r\033[K")
        if text and not self.quiet:
            print(text, file=self.stream, flush=True)
        self._thread = None
        self._stop = threading.Event()
        self._text = ""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
