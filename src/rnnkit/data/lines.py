"""One text per line, from a file or standard input: the input of `predict` and `tag`.

`stream_lines` yields the lines as they are read, so that a file of any size is classified
in bounded memory and the first results come out before the input ends (`chunked` cuts the
stream into lists for batching); `read_lines` is the same, read whole.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

from rnnkit.data.text import GZIP_ERRORS, decode_line, normalise_newlines, open_bytes, split_lines
from rnnkit.errors import DataError

STDIN = "-"
# Lines per chunk of the streaming `predict` / `tag`: enough for full batches, few enough
# that the first results come out at once and memory stays small.
CHUNK_LINES = 2048

T = TypeVar("T")


def read_lines(source: str | Path, blank: str, empty: str = "empty file: no text") -> list[str]:
    """The lines of a UTF-8 file, or of standard input when `source` is '-'.

    Results must line up with the input, so a blank line is a DataError naming the file and
    the line, with the message `blank`; an input without any line is one with `empty`.
    """
    return list(stream_lines(source, blank, empty))


def stream_lines(
    source: str | Path, blank: str, empty: str = "empty file: no text"
) -> Iterator[str]:
    """The lines `read_lines` returns, one at a time as they are read (standard input as it
    arrives), in bounded memory. The checks are `read_lines`'s, each made when its line is
    reached: a bad line is reported, with its file and true line number, after the lines
    before it have been yielded."""
    name = "<stdin>" if str(source) == STDIN else str(source)
    number = 0
    for number, line in enumerate(_source_lines(source), start=1):
        if not line.strip():
            raise DataError(blank, path=name, line=number)
        yield line
    if number == 0:
        raise DataError(empty, path=name)


def file_lines(path: str | Path) -> Iterator[str]:
    """The lines of `split_lines(read_text(path))`, blank ones included, one at a time as the
    file is read (bounded memory); errors as `read_text`'s, raised when reached."""
    return _source_lines(path)


def _source_lines(source: str | Path) -> Iterator[str]:
    """The lines of a file or of standard input ('-'), decoded and split as `read_text` and
    `split_lines` do."""
    if str(source) == STDIN:
        yield from _lines(sys.stdin.buffer, "<stdin>", compressed=False)
        return
    with open_bytes(source) as (stream, compressed):
        try:
            yield from _lines(stream, str(source), compressed)
        except GZIP_ERRORS as e:
            raise DataError(f"corrupt or truncated gzip data ({e})", path=source) from None


def _lines(stream: Iterable[bytes], name: str, compressed: bool) -> Iterator[str]:
    """The lines of a byte stream: UTF-8 (no byte-order mark), `\\r\\n` and `\\r` line ends
    read as `\\n`."""
    offset = 0  # bytes read before this raw line
    for raw_number, raw in enumerate(stream, start=1):  # raw lines, split at b"\n"
        text = decode_line(raw, name, raw_number, offset, compressed)
        if offset == 0:
            text = text.removeprefix("\ufeff")
        offset += len(raw)
        yield from split_lines(normalise_newlines(text))


def chunked(items: Iterable[T], size: int = CHUNK_LINES) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter), taken from `items` only as
    each list is needed."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
