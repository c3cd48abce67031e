"""Plain text in, tokens out: a UTF-8 reader and the word and character tokenizers.

The lecture turns a sentence into the sequence x<1>, ..., x<T_x> of its words (one index per
word in a V-word dictionary); a character model uses one x<t> per character instead. This
module makes that sequence of strings; `rnnkit.data.vocab.Vocabulary` maps it to ids.

    read_text(path)      the whole file as str: UTF-8 checked (file, line and byte offset on a
                         bad byte), gzip undone transparently, newlines normalised to "\\n"
    tokenize(text)       words for review-style text (rules below)
    tokenize_with_offsets(text)
                         CoNLL-style words and punctuation of raw text (`n't` and clitics
                         split off, as in the CoNLL / Penn Treebank data), each a `Token`
                         with its character offsets, for named-entity recognition
    char_tokenize(text)  one token per character

Word tokenizer rules (`tokenize`), in the order they are applied:

0. Unicode NFC normalisation, so that a letter written as base + combining accent (`u` +
   U+0308) is the one character `ü`, as in most text, and stays inside its word;
1. lowercase (`str.lower`), unless `lowercase=False`;
2. HTML tags become a space: `<br />`, `<br>`, `<p>`, `</i>`, `<a href="...">` (a `<` directly
   followed by a letter or `/letter`, up to the next `>`); `a < b` and `<3` are not tags;
3. HTML character references are decoded (`&amp;` -> `&`, `&#39;` -> `'`);
4. the typographic apostrophe U+2019 becomes `'`; the ellipsis character U+2026 and the stray
   Windows-1252 ellipsis U+0085 (found in the raw IMDB files) become `...`;
5. tokens are then, left to right:
   - a number with decimal or thousands separators, kept whole: `3.5`, `1,000`;
   - a word: letters and digits (any script), with apostrophes *inside* it kept, so a
     contraction stays one token: `don't` -> `don't`, `it's` -> `it's`, `rock'n'roll` is one
     token (we keep contractions whole rather than splitting `do n't`: the common ones are all
     frequent enough to get their own vocabulary entry, and the text stays readable);
     digits glued to letters stay together: `1990s`, `2nd`;
   - a run of two or more periods, as one token: `...`;
   - any other single non-space character, as its own token: `!`, `?`, `,`, `(`, `"`, `/`,
     `-` (so `well-made` -> `well - made` and `7/10` -> `7 / 10`), a quoting `'`.

Example:

    >>> tokenize("I didn't like it...<br /><br />Rating: 3.5/10!!")
    ['i', "didn't", 'like', 'it', '...', 'rating', ':', '3.5', '/', '10', '!', '!']

Everything is done by a few precompiled regular expressions over the whole string; the
25,000 IMDB training reviews (33 MB) tokenize in about 4 s of CPU time on one core.
"""

from __future__ import annotations

import gzip
import html
import io
import re
import stat
import unicodedata
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedReader
from pathlib import Path
from typing import NamedTuple

from rnnkit.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"

# A tag: "<" then an optional "/", a letter, the rest of the name, then anything up to ">" that
# contains no other "<" or ">". Matched after lowercasing when lowercasing is on; the IGNORECASE
# flag keeps it right when it is off.
_TAG = re.compile(r"</?[a-z][a-z0-9]*(?:[\s/][^<>]*)?>", re.IGNORECASE)

# One token (see the module docstring for the rules). `[^\W_]` is "a letter or digit in any
# script": \w without the underscore.
_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)+"  # 3.5  1,000
    r"|[^\W_]+(?:'[^\W_]+)*"  # word, don't, 1990s
    r"|\.{2,}"  # ...
    r"|[^\w\s]|_"  # any other single symbol
)

# The two patterns as text, for readers outside Python (the JSON beside an exported model).
HTML_TAG_PATTERN = _TAG.pattern
WORD_TOKEN_PATTERN = _TOKEN.pattern


# ---------------------------------------------------------------------------------- reading


# The largest text `read_text` reads (after decompression): files are read whole into memory.
MAX_TEXT_BYTES = 2**31


def _open(path: Path) -> BufferedReader:
    """The file opened for reading bytes: a regular file or a pipe (not a device such as
    /dev/zero); DataError naming it when it is missing, a folder or unreadable."""
    try:
        kind = path.stat().st_mode
        if stat.S_ISDIR(kind):
            raise DataError("is a directory, expected a file", path=path)
        if not (stat.S_ISREG(kind) or stat.S_ISFIFO(kind)):
            raise DataError(
                "is not a regular file (a device or socket?), expected a file", path=path
            )
        return path.open("rb")
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path=path) from None
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror or e}", path=path) from None


def _read_bytes(path: Path, limit: int = MAX_TEXT_BYTES) -> tuple[bytes, bool]:
    """The file's bytes, gunzipped when it is gzip (by its magic number or a .gz suffix).

    Only regular files and pipes are read (not devices such as /dev/zero), and at most
    `limit` bytes, compressed or not."""
    with _open(path) as f:
        try:
            raw = f.read(limit + 1)
        except OSError as e:
            raise DataError(f"cannot read: {e.strerror or e}", path=path) from None
    if len(raw) > limit:
        raise DataError(f"larger than {limit:,} bytes: too large to read whole", path=path)
    compressed = raw[:2] == _GZIP_MAGIC
    if path.suffix == ".gz" and raw and not compressed:
        raise DataError("has a .gz suffix but is not gzip-compressed", path=path)
    if compressed:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as z:
                raw = z.read(limit + 1)
        except GZIP_ERRORS as e:
            raise DataError(f"corrupt or truncated gzip data ({e})", path=path) from None
        if len(raw) > limit:
            raise DataError(f"larger than {limit:,} bytes decompressed", path=path)
    return raw, compressed


# What reading a corrupt or truncated gzip stream raises.
GZIP_ERRORS = (OSError, EOFError, zlib.error)


@contextmanager
def open_bytes(path: str | Path) -> Iterator[tuple[io.BufferedIOBase, bool]]:
    """(stream, compressed): the file's bytes as a stream, read as they are needed (a file
    of any size, a pipe as it fills), gunzipped when it is gzip, with `read_text`'s checks
    of the file. Reading a corrupt gzip stream raises one of GZIP_ERRORS."""
    p = Path(path)
    with _open(p) as f:
        compressed = f.peek(2)[:2] == _GZIP_MAGIC
        if p.suffix == ".gz" and f.peek(1) and not compressed:
            raise DataError("has a .gz suffix but is not gzip-compressed", path=p)
        if not compressed:
            yield f, False
            return
        with gzip.GzipFile(fileobj=f) as z:
            yield z, True


def decode_line(raw: bytes, path: str | Path, line: int, offset: int, compressed: bool) -> str:
    """One line's bytes (`raw`, which starts `offset` bytes into the data and is line `line`
    of it) decoded as `read_text` decodes a whole file, with its message on a bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(raw, e, Path(path), compressed, line, offset, column=e.start + 1) from None


def _not_utf8(
    raw: bytes,
    e: UnicodeDecodeError,
    path: Path,
    compressed: bool,
    line: int,
    offset: int,
    column: int,
) -> DataError:
    """The DataError of a bad byte at raw[e.start], `offset` + e.start bytes into the data,
    byte `column` of line `line`."""
    where = " of the decompressed data" if compressed else ""
    return DataError(
        f"not valid UTF-8: byte 0x{raw[e.start]:02x} at byte offset {offset + e.start}{where} "
        f"(byte {column} of this line; {e.reason}); convert the file to UTF-8, "
        f"e.g. `iconv -f latin1 -t utf-8`",
        path=path,
        line=line,
    )


def _decode(raw: bytes, path: Path, compressed: bool) -> str:
    """UTF-8 decode; on a bad byte raise DataError with its line and byte offset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        start = e.start
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1  # 1-based byte within the line
        raise _not_utf8(raw, e, path, compressed, line, 0, column) from None
    return text.removeprefix("\ufeff")  # drop a byte-order mark


def read_text(path: str | Path) -> str:
    """Return the whole text of a UTF-8 file, gzip-compressed or not.

    A gzip file (recognised by its content; a `.gz` name that is not gzip is an error) is
    decompressed in memory. A leading byte-order mark is dropped and line endings are
    normalised as Python's text mode does (`\\r\\n` and `\\r` -> `\\n`); nothing else is changed.

    Raises DataError naming the file when it is missing, unreadable, corrupt gzip, or not
    UTF-8; in the last case the message names the line, the byte offset and the bad byte.
    """
    p = Path(path)
    raw, compressed = _read_bytes(p)
    return normalise_newlines(_decode(raw, p, compressed))


def split_lines(text: str) -> list[str]:
    """The lines of a text without their line ends; the newline that ends the last line does
    not start another one ("a\nb\n" -> ["a", "b"], "" -> [])."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def decode_text(raw: bytes, source: str | Path) -> str:
    """Bytes read from elsewhere (standard input) as `read_text` reads a file: UTF-8, no
    byte-order mark, `\n` line endings; errors name `source` (e.g. "<stdin>") and the line."""
    return normalise_newlines(_decode(raw, Path(source), compressed=False))


def normalise_newlines(text: str) -> str:
    """`\r\n` and `\r` -> `\n`, as Python's text mode reads line ends."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# ------------------------------------------------------------------------------ tokenizers


def strip_html(text: str) -> str:
    """Replace HTML tags by a space and decode character references (`&amp;` -> `&`)."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def _normalise(text: str) -> str:
    """Rules 2-4 of the module docstring: tags, character references, apostrophe, ellipsis."""
    text = strip_html(text)
    if "\u2019" in text:
        text = text.replace("\u2019", "'")
    if "\u2026" in text:
        text = text.replace("\u2026", "...")
    if "\x85" in text:
        text = text.replace("\x85", "...")
    return text


def tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Split review-style text into word and punctuation tokens (rules in the module docstring).

    >>> tokenize("A well-made film, don't miss it!")
    ['a', 'well', '-', 'made', 'film', ',', "don't", 'miss', 'it', '!']
    """
    text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    return _TOKEN.findall(_normalise(text))


class Token(NamedTuple):
    """A token of raw text and where it is: text[start:end] == token.text."""

    text: str
    start: int
    end: int


# The raw-text tokenizer of `tokenize_with_offsets`, close to the CoNLL-2003 (Penn Treebank)
# tokenization the NER models are trained on. Case is kept; nothing is normalised.
_CLITIC = r"(?:s|re|m|ve|ll|d)\b"
_RAW_TOKEN = re.compile(
    r"(?:[^\W\d_]\.){2,}"  # abbreviations with periods: U.S.  a.m.
    r"|\d+(?:[.,:/-]\d+)+"  # numbers with separators: 3.5  1,000  1996-08-22  12:30
    r"|[^\W_]+?(?=n['’]t\b)"  # the word before n't: does|n't
    r"|n['’]t\b"  # n't
    r"|['’]" + _CLITIC + r""  # clitics: 's 're 'm 've 'll 'd
    r"|[^\W_]+(?:-[^\W_]+|['’](?!" + _CLITIC + r")[^\W_]+)*"  # words: EU-wide O'Brien 1990s
    r"|\.{2,}"  # ...
    r"|[^\w\s]|_",  # any other single symbol
    re.IGNORECASE,
)


RAW_TOKEN_PATTERN = _RAW_TOKEN.pattern  # as text, like WORD_TOKEN_PATTERN


def tokenize_with_offsets(text: str) -> list[Token]:
    """Split raw text into words and punctuation, CoNLL-style, keeping character offsets.

    The text is tokenized in Unicode NFC (a base letter and its combining accents are one
    character, so `Mu\u0308nchen` is one word): each token's `text` is in NFC, and its
    offsets index the text as given, so `text[start:end]` is the token up to normalisation
    (equal to it when the text is already NFC, as most text is).

    >>> [t.text for t in tokenize_with_offsets("Yesterday, Harry Potter's owl didn't come.")]
    ['Yesterday', ',', 'Harry', 'Potter', "'s", 'owl', 'did', "n't", 'come', '.']
    >>> tokenize_with_offsets("U.S. troops")[1]
    Token(text='troops', start=5, end=11)
    """
    if unicodedata.is_normalized("NFC", text):
        return [Token(m.group(), m.start(), m.end()) for m in _RAW_TOKEN.finditer(text)]
    nfc, origin = _nfc_with_origins(text)
    return [Token(m.group(), origin[m.start()], origin[m.end()]) for m in _RAW_TOKEN.finditer(nfc)]


def _starts_segment(ch: str) -> bool:
    """Whether NFC can never join `ch` to the character before it: a character of combining
    class 0 other than a Hangul vowel or final consonant (which compose into a syllable)."""
    return unicodedata.combining(ch) == 0 and not "\u1160" <= ch <= "\u11ff"


def _nfc_with_origins(text: str) -> tuple[str, list[int]]:
    """(NFC of text, origin): origin[k] is the offset in `text` of the character at offset k
    of the NFC text, and origin[len(nfc)] == len(text).

    Each segment (a character that starts one and the combining marks after it) is normalised
    alone; its first character comes from the segment's start and any later one (a mark that
    did not compose) from the same distance before the segment's end."""
    pieces: list[str] = []
    origin: list[int] = []
    start = 0
    for end in range(1, len(text) + 1):
        if end < len(text) and not _starts_segment(text[end]):
            continue
        piece = unicodedata.normalize("NFC", text[start:end])
        pieces.append(piece)
        origin += [start] + [end - (len(piece) - j) for j in range(1, len(piece))]
        start = end
    origin.append(len(text))
    return "".join(pieces), origin


def char_tokenize(text: str, *, lowercase: bool = False, strip_tags: bool = False) -> list[str]:
    """One token per character (every space and newline included), for character models.

    lowercase:  map to lower case first (off by default: case is information for generation).
    strip_tags: first replace HTML tags by a space and decode `&amp;`-style references
                (`strip_html`).

    >>> char_tokenize("Hi!<br />", strip_tags=True)
    ['H', 'i', '!', ' ']
    """
    if strip_tags:
        text = strip_html(text)
    if lowercase:
        text = text.lower()
    return list(text)


__all__ = [
    "HTML_TAG_PATTERN",
    "RAW_TOKEN_PATTERN",
    "WORD_TOKEN_PATTERN",
    "Token",
    "char_tokenize",
    "decode_text",
    "read_text",
    "strip_html",
    "tokenize",
    "tokenize_with_offsets",
]
