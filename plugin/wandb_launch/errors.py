"""The one error type a command raises for bad input or an unreachable cluster."""

from __future__ import annotations

# Exit code for bad input and for "no cluster reachable": nothing was written or applied.
EXIT_INPUT = 2
# Exit code of `verify` (and friends) when the checks found problems.
EXIT_FAILED_CHECKS = 1


class InputError(Exception):
    """Bad input, reported as one line that names the flag or key and the fix."""

    def __init__(self, where: str, problem: str, fix: str = "") -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        text = f"{where}: {problem}" if where else problem
        if fix:
            text += f"; {fix}"
        super().__init__(text)
