"""Run an external program (LilyPond, FluidSynth) quietly: its console chatter captured, a
failure a one-line error naming the file the user asked for and the line of the log that says
what went wrong."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from rnnkit.errors import RnnkitError

TIMEOUT_S = 600
"""Seconds a program may run before it counts as failed."""


def run_program(command: Sequence[str], *, cwd: Path, name: str, target: str | Path) -> str:
    """Run `command` in the folder `cwd` with its output captured; return the output (stdout,
    then stderr). A program that cannot start, runs past TIMEOUT_S or exits non-zero is an
    RnnkitError `TARGET: NAME failed: LINE`, with LINE from `error_line`."""
    try:
        done = subprocess.run(
            list(command), check=False, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except OSError as e:
        raise RnnkitError(f"{target}: {name} did not run: {e.strerror or e}") from None
    except subprocess.TimeoutExpired:
        raise RnnkitError(f"{target}: {name} failed: still running after {TIMEOUT_S} s") from None
    log = f"{done.stdout}\n{done.stderr}"
    if done.returncode != 0:
        raise RnnkitError(
            f"{target}: {name} failed: {error_line(log) or f'exit status {done.returncode}'}"
        )
    return log


def error_line(log: str) -> str:
    """The line of a program's log that says what failed: the last line naming an error
    ("error:"), passing over LilyPond's closing summary ("fatal error: failed files: ..."),
    which only repeats the file's name; else the last line. "" for an empty log."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [
        line for line in lines if "error:" in line.lower() and "failed files:" not in line.lower()
    ]
    return errors[-1] if errors else lines[-1] if lines else ""


__all__ = ["TIMEOUT_S", "error_line", "run_program"]
