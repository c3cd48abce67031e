"""Errors a user can act on.

Everything rnnkit rejects at its boundary (files, command-line options, checkpoints) raises
`RnnkitError`. The CLI prints its message as one line and exits non-zero; the library lets it
propagate like any other exception.
"""

from __future__ import annotations

from pathlib import Path


class RnnkitError(Exception):
    """A problem with the user's input, described so that they can fix it."""


class DataError(RnnkitError):
    """Malformed input data: names the file, the line (when there is one) and what was expected.

    >>> str(DataError("expected 4 columns, got 3", path="eng.train", line=4512))
    'eng.train:4512: expected 4 columns, got 3'
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = "" if path is None else (f"{path}:{line}: " if line is not None else f"{path}: ")
        super().__init__(where + message)
        self.path = None if path is None else str(path)
        self.line = line


class CheckpointError(RnnkitError):
    """A checkpoint that is missing, truncated, corrupt or made for another task."""
