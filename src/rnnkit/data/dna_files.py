"""DNA files: FASTA records, `label<TAB>sequence` lines, and BED intervals that label bases.

    read_fasta(path)        records: `>name description` headers, each followed by sequence
                            lines (wrapped at any width); blank lines are skipped
    read_labelled(path)     `label<TAB>sequence` lines (the dna-splice and dna-promoters
                            train.tsv); blank lines are skipped
    read_bed(path, lengths) intervals `name start end label` (tab- or space-separated,
                            0-based, half-open: bases start .. end - 1; further columns are
                            ignored; `#`, `track` and `browser` lines are skipped) over the
                            records whose lengths are given
    base_labels(...)        per-base label ids from the intervals: 0 = outside ("O"), the
                            k-th label name (sorted) = k

Every file is read as `rnnkit.data.text.read_text` reads it (UTF-8 checked, gzip recognised
by its magic bytes whatever the name). Sequences are upper-cased, U is read as T, and
whitespace inside a sequence line is skipped; any other character outside the alphabet of
`rnnkit.data.dna` is a DataError naming the file, the line and the column, unless `unknown`
names the letter such characters become (e.g. "N"). Every malformed line is a DataError
naming the file and the line: nothing is dropped or guessed silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.dna import ALPHABET, check_unknown, clean_sequence
from rnnkit.data.text import read_text, split_lines
from rnnkit.errors import DataError

OUTSIDE = "O"
_SKIPPED_BED = ("#", "track", "browser")


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: `name` (the header's first word), `description` (the rest of the
    header), the `sequence` (upper case) and the `line` of its header."""

    name: str
    description: str
    sequence: str
    line: int


@dataclass(frozen=True)
class LabelledSequence:
    """One `label<TAB>sequence` line and its (1-based) line number."""

    label: str
    sequence: str
    line: int


@dataclass(frozen=True)
class Interval:
    """Bases start .. end - 1 (0-based, half-open) of record `name` carry `label`; `line` is
    where the BED file says so."""

    name: str
    start: int
    end: int
    label: str
    line: int


def _sequence_part(text: str, offset: int, path: str | Path, line: int, unknown: str | None) -> str:
    """The letters of `text` (whitespace skipped), checked; `offset` is the 0-based column
    of text[0] in its line, for the message."""
    letters = "".join(text.split())
    seq, bad = clean_sequence(letters, unknown)
    if bad is not None:
        ch = letters[bad]
        # the column in the line: the bad letter's place among the non-space characters
        seen, column = -1, offset
        for i, c in enumerate(text):
            if not c.isspace():
                seen += 1
            if seen == bad:
                column = offset + i + 1
                break
        raise DataError(
            f"character {ch!r} at column {column} is not a nucleotide letter ({ALPHABET}, "
            "or U read as T); map unknown characters with --unknown N",
            path=path,
            line=line,
        )
    return seq


def parse_fasta(text: str, path: str | Path, unknown: str | None = None) -> list[FastaRecord]:
    """The records of FASTA `text` read from `path` (named in the errors)."""
    check_unknown(unknown)
    unknown = None if unknown is None else unknown.upper()
    records: list[FastaRecord] = []
    header: tuple[str, str, int] | None = None
    parts: list[str] = []

    def close() -> None:
        if header is not None:
            name, description, at = header
            if not parts:
                raise DataError(f"record {name!r} has no sequence", path=path, line=at)
            records.append(FastaRecord(name, description, "".join(parts), at))

    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            close()
            words = line[1:].split(maxsplit=1)
            if not words:
                raise DataError("a '>' header without a record name", path=path, line=number)
            header, parts = (words[0], words[1] if len(words) > 1 else "", number), []
        elif header is None:
            raise DataError(
                "a sequence line before any '>' header: FASTA records start with '>name'",
                path=path,
                line=number,
            )
        else:
            parts.append(_sequence_part(raw, 0, path, number, unknown))
    close()
    if not records:
        raise DataError("empty file: no FASTA record ('>name' then sequence lines)", path=path)
    return records


def read_fasta(path: str | Path, unknown: str | None = None) -> list[FastaRecord]:
    """The records of a FASTA file (plain or gzip), in order (see the module docstring)."""
    return parse_fasta(read_text(path), path, unknown)


def parse_labelled(
    text: str, path: str | Path, unknown: str | None = None
) -> list[LabelledSequence]:
    """The `label<TAB>sequence` lines of `text` read from `path` (named in the errors)."""
    check_unknown(unknown)
    unknown = None if unknown is None else unknown.upper()
    out: list[LabelledSequence] = []
    for number, raw in enumerate(split_lines(text), start=1):
        if not raw.strip():
            continue
        columns = raw.split("\t")
        if len(columns) != 2:
            raise DataError(
                f"{len(columns)} tab-separated columns, expected 2: label<TAB>sequence",
                path=path,
                line=number,
            )
        label, sequence = columns[0].strip(), columns[1]
        if not label:
            raise DataError("empty label: expected label<TAB>sequence", path=path, line=number)
        if not sequence.strip():
            raise DataError("empty sequence: expected label<TAB>sequence", path=path, line=number)
        seq = _sequence_part(sequence, len(columns[0]) + 1, path, number, unknown)
        out.append(LabelledSequence(label, seq, number))
    if not out:
        raise DataError("empty file: no label<TAB>sequence line", path=path)
    return out


def read_labelled(path: str | Path, unknown: str | None = None) -> list[LabelledSequence]:
    """The `label<TAB>sequence` lines of a file (plain or gzip), in order."""
    return parse_labelled(read_text(path), path, unknown)


def is_fasta(text: str) -> bool:
    """Whether a text is FASTA: its first non-blank line is a '>' header."""
    for line in split_lines(text):
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def record_lengths(records: Sequence[FastaRecord], path: str | Path) -> dict[str, int]:
    """{name: length} of FASTA records; two records of one name are a DataError (a BED line
    could not say which it means)."""
    lengths: dict[str, int] = {}
    first: dict[str, int] = {}
    for r in records:
        if r.name in lengths:
            raise DataError(
                f"record name {r.name!r} again (first at line {first[r.name]}): BED intervals "
                "need unique record names",
                path=path,
                line=r.line,
            )
        lengths[r.name], first[r.name] = len(r.sequence), r.line
    return lengths


def _coordinate(value: str, what: str, path: str | Path, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(
            f"{what} {value!r} is not an integer (BED: name start end label, 0-based)",
            path=path,
            line=line,
        ) from None


def _bed_interval(
    fields: list[str], lengths: Mapping[str, int], path: str | Path, line: int
) -> Interval:
    if len(fields) < 4:
        raise DataError(
            f"{len(fields)} columns, expected 4: name start end label", path=path, line=line
        )
    name, label = fields[0], fields[3]
    start = _coordinate(fields[1], "start", path, line)
    end = _coordinate(fields[2], "end", path, line)
    if name not in lengths:
        known = ", ".join(list(lengths)[:5]) + (", ..." if len(lengths) > 5 else "")
        raise DataError(
            f"unknown record name {name!r}: the FASTA file has {known}", path=path, line=line
        )
    if start >= end:
        raise DataError(
            f"start {start} >= end {end}: an interval needs start < end (0-based, half-open)",
            path=path,
            line=line,
        )
    if start < 0 or end > lengths[name]:
        raise DataError(
            f"interval {start}-{end} lies outside record {name!r} of {lengths[name]} bases "
            f"(need 0 <= start and end <= {lengths[name]})",
            path=path,
            line=line,
        )
    if label == OUTSIDE:
        raise DataError(
            f"label {OUTSIDE!r} is reserved for the bases outside every interval",
            path=path,
            line=line,
        )
    return Interval(name, start, end, label, line)


def _check_overlaps(intervals: Sequence[Interval], path: str | Path) -> None:
    """Overlapping intervals must agree on their label."""
    by_record: dict[str, list[Interval]] = {}
    for iv in intervals:
        by_record.setdefault(iv.name, []).append(iv)
    for items in by_record.values():
        active: list[Interval] = []
        for iv in sorted(items, key=lambda i: (i.start, i.line)):
            active = [a for a in active if a.end > iv.start]
            for a in active:
                if a.label != iv.label:
                    later, earlier = (iv, a) if iv.line > a.line else (a, iv)
                    raise DataError(
                        f"interval {later.start}-{later.end} ({later.label}) overlaps "
                        f"{earlier.start}-{earlier.end} ({earlier.label}) of line "
                        f"{earlier.line} with another label",
                        path=path,
                        line=later.line,
                    )
            active.append(iv)


def parse_bed(text: str, path: str | Path, lengths: Mapping[str, int]) -> list[Interval]:
    """The intervals of BED `text` from `path`, checked against the records' `lengths`."""
    intervals = []
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith(_SKIPPED_BED):
            continue
        intervals.append(_bed_interval(line.split(), lengths, path, number))
    if not intervals:
        raise DataError("no intervals: expected lines name start end label", path=path)
    _check_overlaps(intervals, path)
    return intervals


def read_bed(path: str | Path, lengths: Mapping[str, int]) -> list[Interval]:
    """The intervals of a BED file (plain or gzip) over records of the given lengths."""
    return parse_bed(read_text(path), path, lengths)


def label_names(intervals: Sequence[Interval]) -> list[str]:
    """ "O" then the intervals' labels sorted: index = label id."""
    return [OUTSIDE, *sorted({iv.label for iv in intervals})]


def base_labels(
    records: Sequence[FastaRecord], intervals: Sequence[Interval], names: Sequence[str]
) -> list[Tensor]:
    """Per-base label ids (T_r,) int64 of each record: 0 outside every interval, else the
    index of the interval's label in `names` (`label_names`)."""
    index = {name: i for i, name in enumerate(names)}
    at = {r.name: i for i, r in enumerate(records)}
    out = [torch.zeros(len(r.sequence), dtype=torch.int64) for r in records]
    for iv in intervals:
        out[at[iv.name]][iv.start : iv.end] = index[iv.label]
    return out


def label_runs(labels: Tensor) -> list[tuple[int, int, int]]:
    """The intervals (start, end, label id) of per-base ids (T,): maximal runs of one non-zero
    id (0-based, half-open). Two touching intervals of one label read as one run."""
    values = labels.tolist()
    runs: list[tuple[int, int, int]] = []
    start = 0
    for t in range(1, len(values) + 1):
        if t == len(values) or values[t] != values[start]:
            if values[start] != 0:
                runs.append((start, t, int(values[start])))
            start = t
    return runs


__all__ = [
    "OUTSIDE",
    "FastaRecord",
    "Interval",
    "LabelledSequence",
    "base_labels",
    "is_fasta",
    "label_names",
    "label_runs",
    "parse_bed",
    "parse_fasta",
    "parse_labelled",
    "read_bed",
    "read_fasta",
    "read_labelled",
    "record_lengths",
]
