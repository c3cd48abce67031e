"""Readers and a writer for tagged sentences (named-entity recognition, T_x = T_y).

Three input formats, one result: a list of `TaggedSentence` (tokens, one tag per token, and
the source line of every token so later errors can point into the file).

1. CoNLL columns (`read_conll`), as in CoNLL-2003:

       -DOCSTART- -X- -X- O            document boundary: skipped
                                       blank line: end of sentence
       EU NNP B-NP B-ORG               token POS chunk NER, separated by whitespace
       rejects VBZ B-VP O

   The token is column 0 and the tag the last column unless `column` says otherwise. The
   number of columns is taken from the first token line (or given) and then enforced.

2. Token and tag separated by a TAB (`read_token_tags`), one token a line, blank lines
   between sentences; tokens may contain spaces:

       New York<TAB>B-LOC

3. The lecture's binary labels (`read_binary`), one sentence a line: the tokens separated by
   spaces, a TAB, then one label per token, 0 or 1 (1 = the token is part of a name),
   separated by spaces. Blank lines are skipped.

       Harry Potter and Hermione Granger invented a new spell .<TAB>1 1 0 1 1 0 0 0 0 0

All readers read files line by line as `rnnkit.data.text.read_text` decodes them
(`rnnkit.data.lines.file_lines`): gzip is undone transparently (recognised by the first
bytes), a UTF-8 byte-order mark and CRLF line ends are accepted. `stream_conll`,
`stream_token_tags` and `stream_binary` yield the sentences one at a time, for files of any
size (tagging); the `read_*` functions return them all. They raise `DataError` naming the file
and line for: bytes that are not UTF-8 (with the byte offset), an empty file, a wrong number of
columns, labels that do not match the tokens, a tag outside `tag_set`, and tags that mix
schemes (IOB1 with BIO or IOBES) in one file.

Tag schemes (see `rnnkit.data.tags`): the column readers detect the file's scheme (or check
the one given) and, with `to_bio=True` (the default), convert IOB1 and IOBES to BIO so that a
model always sees BIO. `scheme=None` turns the checks off, for tags that are not entity tags
(part-of-speech tags, `column=1`).
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from rnnkit.data.atomic import atomic_write
from rnnkit.data.lines import file_lines
from rnnkit.data.tags import (
    BINARY_TAGS,
    SCHEMES,
    Scheme,
    compatible_schemes,
    find_violation,
    to_bio,
)
from rnnkit.errors import DataError, RnnkitError

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: tokens x<1..T>, tags y<1..T> (T_x = T_y), and where it came from.

    lines[i] is the 1-based line of the file that holds token i (in the sentence-per-line
    format every token has the sentence's line); `path` is the file it was read from.
    """

    tokens: list[str]
    tags: list[str]
    lines: list[int]
    path: str | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def line(self) -> int:
        """The line of the first token."""
        return self.lines[0]

    def where(self, i: int = 0) -> str:
        """'path:line' of token i, for error messages."""
        return f"{self.path}:{self.lines[i]}"


SchemeOption = Literal["auto", "BIO", "IOB1", "IOBES", "binary"] | None


# --------------------------------------------------------------------------- readers


def read_conll(
    path: str | Path,
    column: int = -1,
    num_columns: int | None = None,
    token_column: int = 0,
    tag_set: Collection[str] | None = None,
    scheme: SchemeOption = "auto",
    to_bio: bool = True,
) -> list[TaggedSentence]:
    """Read a CoNLL column file: one token a line, whitespace-separated columns.

    column:       which column holds the tag (negative counts from the end; default last).
    num_columns:  how many columns every token line has; None infers it from the first token
                  line and enforces it on the rest.
    token_column: which column holds the token.
    tag_set:      if given, every tag (after conversion to BIO) must be in it.
    scheme:       'auto' detects the scheme of the whole file and rejects a mix; a named
                  scheme checks every sentence against it; None checks nothing (for tags that
                  are not entity tags).
    to_bio:       convert IOB1 and IOBES tags to BIO (binary labels are left as they are).

    Lines starting with -DOCSTART- are document boundaries and are skipped.
    """
    return _read_columns(path, None, column, num_columns, token_column, tag_set, scheme, to_bio)


def read_token_tags(
    path: str | Path,
    tag_set: Collection[str] | None = None,
    scheme: SchemeOption = "auto",
    to_bio: bool = True,
) -> list[TaggedSentence]:
    """Read `token<TAB>tag` lines, a blank line between sentences (tokens may hold spaces).

    The options mean what they mean for `read_conll`.
    """
    return _read_columns(path, "\t", -1, 2, 0, tag_set, scheme, to_bio)


def read_binary(path: str | Path) -> list[TaggedSentence]:
    """Read the lecture's format: `tokens<TAB>labels`, one sentence a line, labels 0 or 1.

    Tokens are separated by spaces, labels by spaces, one label per token; blank lines are
    skipped. The tags of the result are the strings '0' and '1' (`int(tag)` gives y<t>).
    """
    return list(stream_binary(path))


def stream_binary(path: str | Path) -> Iterator[TaggedSentence]:
    """`read_binary`'s sentences one at a time, as the file is read (bounded memory); each
    error is raised when its line is reached."""
    name = str(path)
    found = False
    for number, line in enumerate(file_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(
                f"{len(parts)} TAB-separated fields, expected 2 (tokens<TAB>labels)",
                path=name,
                line=number,
            )
        tokens, labels = parts[0].split(), parts[1].split()
        if not tokens:
            raise DataError("no tokens before the TAB", path=name, line=number)
        if len(labels) != len(tokens):
            raise DataError(
                f"{len(labels)} labels for {len(tokens)} tokens", path=name, line=number
            )
        for i, label in enumerate(labels):
            if label not in BINARY_TAGS:
                raise DataError(
                    f"label {label!r} of token {i + 1} ({tokens[i]!r}) is not 0 or 1",
                    path=name,
                    line=number,
                )
        found = True
        yield TaggedSentence(tokens, labels, [number] * len(tokens), name)
    if not found:
        raise DataError("empty file: no sentences", path=name)


def stream_conll(
    path: str | Path,
    column: int = -1,
    num_columns: int | None = None,
    token_column: int = 0,
    scheme: SchemeOption = "auto",
    to_bio: bool = True,
) -> Iterator[TaggedSentence]:
    """`read_conll`'s sentences one at a time, in bounded memory (a file of any size).

    The file is read twice: first whole, to check its columns and tag scheme (every error of
    `read_conll` is raised then, before any sentence comes out), then sentence by sentence,
    the tags converted to BIO as `read_conll` converts them. The options are `read_conll`'s.
    """
    return _stream_columns(path, None, column, num_columns, token_column, scheme, to_bio)


def stream_token_tags(
    path: str | Path, scheme: SchemeOption = "auto", to_bio: bool = True
) -> Iterator[TaggedSentence]:
    """`read_token_tags`'s sentences one at a time, read as `stream_conll` reads them."""
    return _stream_columns(path, "\t", -1, 2, 0, scheme, to_bio)


# --------------------------------------------------------------------------- writer


def write_conll(
    path: str | Path,
    sentences_tokens: Sequence[Sequence[str]],
    gold_tags: Sequence[Sequence[str]] | None,
    predicted_tags: Sequence[Sequence[str]],
) -> None:
    """Write one token a line, a blank line after each sentence, as UTF-8 (conlleval's input).

    Each line is `token gold predicted`, or `token predicted` when gold_tags is None
    (unlabelled input). A path ending in .gz is written gzip-compressed.

    Raises RnnkitError when the numbers of sentences or of tags per sentence disagree, or
    when a token is empty or holds whitespace (the column format cannot represent it).
    """
    write_conll_chunks(path, [(sentences_tokens, gold_tags, predicted_tags)])


ConllChunk = tuple[
    Sequence[Sequence[str]], Sequence[Sequence[str]] | None, Sequence[Sequence[str]]
]  # (sentences' tokens, gold tags or None, predicted tags), as `write_conll` takes them


def write_conll_chunks(path: str | Path, chunks: Iterable[ConllChunk]) -> int:
    """`write_conll` of the concatenation of the chunks, written chunk after chunk as they
    come (bounded memory; the file appears whole when the last is written: `atomic_write`).
    Returns the number of sentences; errors count the sentences over all the chunks."""
    target = Path(path)
    first = 0
    with atomic_write(target) as f:
        out: BinaryIO | gzip.GzipFile = f
        if target.suffix == ".gz":
            out = gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0)
        with out:
            for tokens, gold, predicted in chunks:
                out.write(_conll_text(tokens, gold, predicted, first).encode("utf-8"))
                first += len(tokens)
    return first


def _conll_text(
    sentences_tokens: Sequence[Sequence[str]],
    gold_tags: Sequence[Sequence[str]] | None,
    predicted_tags: Sequence[Sequence[str]],
    first: int = 0,
) -> str:
    """The lines `write_conll` writes; sentence n is numbered first + n in errors."""
    columns = (
        {"predicted": predicted_tags}
        if gold_tags is None
        else {"gold": gold_tags, "predicted": predicted_tags}
    )
    for what, tags in columns.items():
        if len(tags) != len(sentences_tokens):
            raise RnnkitError(f"{len(tags)} {what} sequences for {len(sentences_tokens)} sentences")
    out: list[str] = []
    for n, tokens in enumerate(sentences_tokens):
        for what, tags in columns.items():
            if len(tags[n]) != len(tokens):
                raise RnnkitError(
                    f"sentence {first + n}: {len(tags[n])} {what} tags for {len(tokens)} tokens"
                )
        for i, token in enumerate(tokens):
            if len(token.split()) != 1:
                raise RnnkitError(
                    f"sentence {first + n}: token {token!r} is empty or holds whitespace, "
                    "which the column format cannot represent"
                )
            out.append(" ".join([token, *(tags[n][i] for tags in columns.values())]) + "\n")
        out.append("\n")
    return "".join(out)


# --------------------------------------------------------------------------- internals


def _read_columns(
    path: str | Path,
    separator: str | None,
    column: int,
    num_columns: int | None,
    token_column: int,
    tag_set: Collection[str] | None,
    scheme: SchemeOption,
    to_bio_tags: bool,
) -> list[TaggedSentence]:
    """The column readers' common body: split into sentences, then check and convert tags."""
    name = str(path)
    sentences = list(_sentences(name, separator, column, num_columns, token_column))
    converted, converted_from = sentences, None
    if scheme is not None:
        found = _check_scheme(sentences, scheme, name)
        if to_bio_tags and found in ("IOB1", "IOBES"):
            converted_from = found
            converted = [
                TaggedSentence(s.tokens, to_bio(s.tags, found), s.lines, s.path) for s in sentences
            ]
    if tag_set is not None:
        _check_tag_set(converted, sentences, converted_from, tag_set, name)
    return converted


def _stream_columns(
    path: str | Path,
    separator: str | None,
    column: int,
    num_columns: int | None,
    token_column: int,
    scheme: SchemeOption,
    to_bio_tags: bool,
) -> Iterator[TaggedSentence]:
    """`_read_columns` (without a tag set) in two passes over the file: the checks, then
    the sentences one at a time."""
    name = str(path)

    def split() -> Iterator[TaggedSentence]:
        return _sentences(name, separator, column, num_columns, token_column)

    found: Scheme | None = None
    if scheme is not None:
        found = _check_scheme(split(), scheme, name)
    else:
        for _ in split():  # the columns are checked all the same
            pass
    source = found if to_bio_tags and found in ("IOB1", "IOBES") else None
    for s in split():
        yield (
            s
            if source is None
            else TaggedSentence(s.tokens, to_bio(s.tags, source), s.lines, s.path)
        )


def _sentences(
    name: str, separator: str | None, column: int, num_columns: int | None, token_column: int
) -> Iterator[TaggedSentence]:
    """The sentences of a column file (blank lines and -DOCSTART- end one), columns checked,
    one at a time as the file is read."""
    expected = num_columns
    found = False
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    ended = itertools.chain(file_lines(name), [""])  # "" ends the last one
    for number, line in enumerate(ended, start=1):
        fields = line.split(separator) if line.strip() else []
        if not fields or fields[0] == DOCSTART:
            if tokens:
                found = True
                yield TaggedSentence(tokens, tags, lines, name)
                tokens, tags, lines = [], [], []
            continue
        if expected is None:
            expected = len(fields)
            _check_column_indexes(expected, column, token_column, name, number)
        if len(fields) != expected:
            raise DataError(f"{len(fields)} columns, expected {expected}", path=name, line=number)
        tokens.append(fields[token_column])
        tags.append(fields[column])
        lines.append(number)
    if not found:
        raise DataError("empty file: no sentences", path=name)


def _check_column_indexes(width: int, column: int, token_column: int, name: str, line: int) -> None:
    """DataError when the tag or token column does not exist in lines of `width` columns."""
    for what, index in (("tag", column), ("token", token_column)):
        if not -width <= index < width:
            raise DataError(
                f"{width} columns, but the {what} column is {index}", path=name, line=line
            )


def _check_tag_set(
    sentences: list[TaggedSentence],
    as_read: list[TaggedSentence],
    converted_from: Scheme | None,
    tag_set: Collection[str],
    name: str,
) -> None:
    """DataError at the first tag outside `tag_set`; `as_read` holds the sentences with their
    tags as the file wrote them, before a conversion to BIO from `converted_from`."""
    known = set(tag_set)
    for sentence, original in zip(sentences, as_read):
        for i, tag in enumerate(sentence.tags):
            if tag not in known:
                listed = ", ".join(sorted(known)) if len(known) <= 20 else f"{len(known)} tags"
                was = original.tags[i]
                origin = f" ({converted_from} {was!r} in the file)" if was != tag else ""
                raise DataError(
                    f"tag {tag!r}{origin} is not one of the known tags ({listed})",
                    path=name,
                    line=sentence.lines[i],
                )


def _check_scheme(sentences: Iterable[TaggedSentence], scheme: str, name: str) -> Scheme:
    """The scheme every sentence fits; DataError at the first sentence that breaks it."""
    if scheme != "auto" and scheme not in SCHEMES:
        raise RnnkitError(f"unknown tag scheme {scheme!r}: expected auto, {', '.join(SCHEMES)}")
    candidates = list(SCHEMES) if scheme == "auto" else [s for s in SCHEMES if s == scheme]
    decided_at = 0  # line of the first sentence that narrowed the candidates
    for sentence in sentences:
        narrowed = [s for s in candidates if find_violation(sentence.tags, s) is None]
        if not narrowed:
            expected = candidates[0]
            index, why = find_violation(sentence.tags, expected) or (0, "")
            fits = compatible_schemes(sentence.tags)
            if scheme != "auto":
                message = f"{why} (the tags were declared {expected})"
            elif not fits:
                message = f"{why}; the sentence fits no tag scheme ({', '.join(SCHEMES)})"
            else:
                message = (
                    f"mixed tag schemes: {why}; this sentence is {fits[0]} but the sentence "
                    f"at line {decided_at} is {expected}"
                )
            raise DataError(message, path=name, line=sentence.lines[index])
        if len(narrowed) < len(candidates) and not decided_at:
            decided_at = sentence.line
        candidates = narrowed
    return candidates[0]
