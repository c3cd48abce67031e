"""One text per line, from a file or standard input: the input of `predict` and `tag`."""

from __future__ import annotations

import sys
from pathlib import Path

from rnnkit.data.text import decode_text, read_text, split_lines
from rnnkit.errors import DataError

STDIN = "-"


def read_lines(source: str | Path, blank: str, empty: str = "empty file: no text") -> list[str]:
    """The lines of a UTF-8 file, or of standard input when `source` is '-'.

    Results must line up with the input, so a blank line is a DataError naming the file and
    the line, with the message `blank`; an input without any line is one with `empty`.
    """
    if str(source) == STDIN:
        name = "<stdin>"
        lines = split_lines(decode_text(sys.stdin.buffer.read(), name))
    else:
        name = str(source)
        lines = split_lines(read_text(source))
    if not lines:
        raise DataError(empty, path=name)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(blank, path=name, line=number)
    return lines
