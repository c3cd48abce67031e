"""One text per line, from a file or standard input: the input of `predict` and `tag`."""

from __future__ import annotations

import sys
from pathlib import Path

from rnnkit.data.text import decode_text, read_text
from rnnkit.errors import DataError

STDIN = "-"


def read_lines(source: str | Path, what: str = "text") -> list[str]:
    """The lines of a UTF-8 file, or of standard input when `source` is '-'. A blank line is
    a DataError naming the file and line (results must line up with the input), and so is an
    input without any line."""
    if str(source) == STDIN:
        name = "<stdin>"
        text = decode_text(sys.stdin.buffer.read(), name)
    else:
        name = str(source)
        text = read_text(source)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise DataError(f"no {what} in the input", path=name)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"empty text: every line must hold one {what}", path=name, line=number)
    return lines
