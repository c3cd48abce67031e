"""Labelled texts for many-to-one classification (sentiment): readers of formats, dev split.

The lecture's sentiment example reads a whole review x<1>, ..., x<T_x> and predicts one label
y from the last step. This module produces the (text, label) pairs; tokenizing
(`rnnkit.data.text.tokenize`), the vocabulary and batching come after it.

Readers (each returns `list[LabelledText]` in file order, and raises `DataError` naming the
file and line of the first bad record):

    read_label_tsv(path)          `label<TAB>text`, one example a line, no header
                                  (the shared IMDB file: `pos|neg<TAB>review`)
    read_table(path, ...)         CSV / TSV with a header row (or column indexes without one)
    read_jsonl(path, ...)         one JSON object a line
    read_aclimdb(root, split)     the original aclImdb folders: <root>/<split>/{neg,pos}/*.txt
    load_labelled(path, ...)      picks one of the above from what `path` is (the CLI's --data)
    load_sentiment(path, ...)     load_labelled, checking labels against LabelSet.sentiment()

gzip is undone transparently (`rnnkit.data.text.read_text`), so `train.tsv.gz` reads like
`train.tsv`. Blank lines are skipped in every line-based format.

Labels: `LabelSet` (in `rnnkit.data.labels`) maps label strings to class ids 0..C-1. The
binary sentiment set is `neg` = 0, `pos` = 1 and also accepts `negative`/`positive` and
`0`/`1` (any case).

`split_dev` carves a deterministic, label-stratified dev split out of a training list.
`read_aclimdb` and `download_imdb` (the original aclImdb_v1 archive) live in
`rnnkit.data.imdb`; this module re-exports them with the label set, for its callers.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from rnnkit.data.imdb import IMDB_SHA256, IMDB_URL, download_imdb, read_aclimdb
from rnnkit.data.labels import LabelledText, Labels, LabelSet, as_label_set
from rnnkit.data.text import read_text
from rnnkit.errors import DataError, RnnkitError

# ---------------------------------------------------------------------------------- readers


class _Builder:
    """Validates fields and collects examples for one file."""

    def __init__(self, path: Path, labels: Labels) -> None:
        self.path = path
        self.where = str(path)
        self.labels = as_label_set(labels)
        self.examples: list[LabelledText] = []

    def add(self, text: str, label: str, line: int) -> None:
        text, label = text.strip(), label.strip()
        if not label:
            raise DataError("empty label", path=self.path, line=line)
        if not text:
            raise DataError("empty text", path=self.path, line=line)
        if self.labels is not None:
            if label not in self.labels:
                raise DataError(
                    f"label {label!r} is not one of {self.labels.describe()}",
                    path=self.path,
                    line=line,
                )
            label = self.labels.canonical(label)
        self.examples.append(LabelledText(text, label, self.where, line))

    def done(self) -> list[LabelledText]:
        if not self.examples:
            raise DataError("empty file: no examples found", path=self.path)
        return self.examples


def read_label_tsv(path: str | Path, labels: Labels = None) -> list[LabelledText]:
    """Read `label<TAB>text` lines (no header), e.g. the shared `imdb/train.tsv.gz`.

    Each non-blank line must have exactly two tab-separated columns: a tab inside a text must
    be replaced by a space when the file is written. `labels` (a LabelSet or the allowed
    names) rejects any other label, with the file and line.
    """
    p = Path(path)
    out = _Builder(p, labels)
    for number, line in enumerate(read_text(p).split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            found = (
                f"{len(fields)} columns, expected 2 (label<TAB>text); a tab inside the text "
                "must be replaced by a space"
                if len(fields) > 2
                else "1 column, expected 2 (label<TAB>text): no tab found"
            )
            raise DataError(found, path=p, line=number)
        label, text = fields
        if out.labels is not None and label not in out.labels and text in out.labels:
            raise DataError(
                f"label {label!r} is not one of {out.labels.describe()}, but the second column "
                f"{text!r} is: the columns look swapped, expected label<TAB>text",
                path=p,
                line=number,
            )
        if number == 1 and out.labels is not None and label not in out.labels:
            raise DataError(
                f"label {label!r} is not one of {out.labels.describe()}; if line 1 is a header, "
                "delete it (from Python: read the file as a table, header=True)",
                path=p,
                line=number,
            )
        out.add(text, label, number)
    return out.done()


def _column(
    field: str | int, header: list[str] | None, role: str, argument: str, path: Path
) -> int:
    """The index of the text or label column; DataError on the header line when it is absent."""
    if header is None:
        if isinstance(field, str):
            raise RnnkitError(
                f"{argument}={field!r} names a column, but the file has no header; "
                f"pass the column index instead ({argument}=0, 1, ...)"
            )
        return field
    if isinstance(field, int):
        if not 0 <= field < len(header):
            raise DataError(
                f"{argument}={field} is out of range: the header has {len(header)} columns",
                path=path,
                line=1,
            )
        return field
    found = [i for i, name in enumerate(header) if name.strip() == field]
    if not found:
        raise DataError(
            f"no {role} column {field!r} in the header (columns: {', '.join(header)}); "
            f"name the {role} column {field!r} (from Python: choose one with {argument}=)",
            path=path,
            line=1,
        )
    if len(found) > 1:
        raise DataError(f"the header has {len(found)} columns named {field!r}", path=path, line=1)
    return found[0]


def read_table(
    path: str | Path,
    text_field: str | int = "text",
    label_field: str | int = "label",
    delimiter: str = ",",
    header: bool = True,
    labels: Labels = None,
) -> list[LabelledText]:
    """Read a CSV (delimiter ",") or TSV (delimiter "\\t") file of labelled texts.

    header:      the first row names the columns, and `text_field` / `label_field` are
                 column names; with header=False they must be 0-based column indexes.
    delimiter:   "," for CSV, "\\t" for TSV. Fields follow the CSV quoting rules (a quoted
                 field may contain the delimiter, doubled quotes and newlines).
    labels:      a LabelSet or the allowed names; None accepts any label.

    Every row must have as many columns as the header (or as the first row, without one).
    """
    p = Path(path)
    out = _Builder(p, labels)
    reader = csv.reader(io.StringIO(read_text(p), newline=""), delimiter=delimiter, strict=True)
    names: list[str] | None = None
    width: int | None = None
    text_col = label_col = -1
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if width is None:
                width = len(row)
                if header:
                    names = row
                    text_col = _column(text_field, names, "text", "text_field", p)
                    label_col = _column(label_field, names, "label", "label_field", p)
                    continue
                text_col = _column(text_field, None, "text", "text_field", p)
                label_col = _column(label_field, None, "label", "label_field", p)
                for col, arg in ((text_col, "text_field"), (label_col, "label_field")):
                    if not 0 <= col < width:
                        raise DataError(
                            f"{arg}={col} is out of range: the first row has {width} columns",
                            path=p,
                            line=line,
                        )
            if len(row) != width:
                expected = f"{width} (as in the header)" if header else f"{width} (as in row 1)"
                found = f"{len(row)} column{'' if len(row) == 1 else 's'}"
                raise DataError(f"{found}, expected {expected}", path=p, line=line)
            out.add(row[text_col], row[label_col], line)
    except csv.Error as e:
        # `start` is the first line of the record that failed (an unclosed quote runs to the end)
        raise DataError(f"malformed CSV record: {e}", path=p, line=start) from None
    if header and names is not None and not out.examples:
        raise DataError("no rows after the header", path=p)
    return out.done()


def read_jsonl(
    path: str | Path,
    text_field: str = "text",
    label_field: str = "label",
    labels: Labels = None,
) -> list[LabelledText]:
    """Read one JSON object a line: `{"text": "...", "label": "pos"}`.

    The text must be a string; the label a string or an integer (kept as its decimal string,
    so `1` matches the sentiment alias "1"). Other keys are ignored.
    """
    p = Path(path)
    out = _Builder(p, labels)
    for number, line in enumerate(read_text(p).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"invalid JSON: {e.msg} at column {e.colno}", path=p, line=number
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"expected a JSON object, got {type(record).__name__}", path=p, line=number
            )
        for key in (text_field, label_field):
            if key not in record:
                raise DataError(
                    f"missing key {key!r} (keys: {', '.join(map(str, record))})",
                    path=p,
                    line=number,
                )
        text, label = record[text_field], record[label_field]
        if not isinstance(text, str):
            raise DataError(
                f"{text_field!r} must be a string, got {type(text).__name__}", path=p, line=number
            )
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise DataError(
                f"{label_field!r} must be a string or an integer, got {type(label).__name__}",
                path=p,
                line=number,
            )
        out.add(text, str(label), number)
    return out.done()


# ------------------------------------------------------------------------------- dispatch


def _format_of(path: Path) -> str:
    """The format from the file name: 'tsv', 'csv', 'jsonl', a '.gz' suffix ignored."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, fmt in ((".tsv", "tsv"), (".txt", "tsv"), (".csv", "csv"), (".jsonl", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise RnnkitError(
        f"cannot tell the format of {path} from its name; use a folder in the aclImdb layout, "
        "or a file ending in .tsv, .txt, .csv or .jsonl (each optionally .gz)"
    )


_SENTIMENT = LabelSet.sentiment()  # the default of load_sentiment (a LabelSet is immutable)


def load_labelled(
    path: str | Path,
    *,
    split: str = "train",
    text_field: str | int = "text",
    label_field: str | int = "label",
    header: bool | None = None,
    labels: Labels = None,
) -> list[LabelledText]:
    """Read labelled texts from whatever `path` is:

    folder                        aclImdb layout, `split` ("train" / "test") of it
    .tsv, .txt (+ .gz)            `label<TAB>text` lines; with header=True a TSV table read
                                  by `text_field` / `label_field`
    .csv (+ .gz)                  CSV with a header row (header=False: fields are indexes)
    .jsonl (+ .gz)                JSON lines with keys `text_field` / `label_field`

    header: None means the format's default (TSV: no header, CSV: a header).
    labels: a LabelSet or the allowed names; None accepts any label.
    """
    p = Path(path)
    if p.is_dir():
        return read_aclimdb(p, split=split, labels=labels)
    if not p.exists():
        raise DataError("not found (expected a data file or an aclImdb folder)", path=p)
    fmt = _format_of(p)
    if fmt == "jsonl":
        if not isinstance(text_field, str) or not isinstance(label_field, str):
            raise RnnkitError("for JSON lines, text_field and label_field must be key names")
        return read_jsonl(p, text_field, label_field, labels=labels)
    if fmt == "csv":
        has_header = True if header is None else header
        return read_table(p, text_field, label_field, ",", has_header, labels)
    if header:
        return read_table(p, text_field, label_field, "\t", True, labels)
    return read_label_tsv(p, labels=labels)


def load_sentiment(
    path: str | Path,
    *,
    split: str = "train",
    text_field: str | int = "text",
    label_field: str | int = "label",
    header: bool | None = None,
    labels: Labels = _SENTIMENT,
) -> list[LabelledText]:
    """`load_labelled` for sentiment: labels are checked and canonicalised to `neg` / `pos`.

    `0`/`1` and `negative`/`positive` (any case) are accepted and stored as `neg`/`pos`, so
    `LabelSet.sentiment().encode(examples)` gives neg = 0, pos = 1. Pass labels=None (or
    another LabelSet) for other label sets, e.g. five-star sentiment.

    >>> from rnnkit.data.paths import shared_data_dir
    >>> examples = load_sentiment(shared_data_dir() / "imdb/train.tsv.gz")  # doctest: +SKIP
    >>> len(examples), examples[0].label  # doctest: +SKIP
    (25000, 'neg')
    """
    return load_labelled(
        path,
        split=split,
        text_field=text_field,
        label_field=label_field,
        header=header,
        labels=labels,
    )


# ------------------------------------------------------------------------------ dev split


class _HasLabel(Protocol):
    @property
    def label(self) -> str: ...


ExampleT = TypeVar("ExampleT", bound=_HasLabel)


def split_dev(
    examples: Sequence[ExampleT], fraction: float = 0.1, seed: int = 0, stratify: bool = True
) -> tuple[list[ExampleT], list[ExampleT]]:
    """Split `examples` into (train, dev), deterministically for a given seed.

    With stratify=True, each label contributes round(fraction * its count) examples to dev,
    so dev keeps the label proportions; otherwise round(fraction * len(examples)) examples
    are drawn regardless of label. Both parts keep the input order. The draw uses its own
    `random.Random(seed)`, so it does not depend on or disturb the global random state.

    Note for IMDB: reviews of one movie are correlated (up to 30 per movie) and the official
    train and test sets use disjoint movies, so a random dev split is a little optimistic.
    """
    if not 0.0 < fraction < 1.0:
        raise RnnkitError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
    rng = random.Random(seed)
    if stratify:
        groups: dict[str, list[int]] = {}
        for i, ex in enumerate(examples):
            groups.setdefault(ex.label, []).append(i)
        chosen: set[int] = set()
        for label in sorted(groups):
            members = groups[label]
            rng.shuffle(members)
            chosen.update(members[: round(fraction * len(members))])
    else:
        order = list(range(len(examples)))
        rng.shuffle(order)
        chosen = set(order[: round(fraction * len(examples))])
    if not chosen or len(chosen) == len(examples):
        raise RnnkitError(
            f"a dev fraction of {fraction} of {len(examples)} examples leaves "
            f"{'no dev' if not chosen else 'no training'} examples; change fraction"
        )
    train = [ex for i, ex in enumerate(examples) if i not in chosen]
    dev = [ex for i, ex in enumerate(examples) if i in chosen]
    return train, dev


__all__ = [
    "IMDB_SHA256",
    "IMDB_URL",
    "LabelSet",
    "LabelledText",
    "Labels",
    "download_imdb",
    "load_labelled",
    "load_sentiment",
    "read_aclimdb",
    "read_jsonl",
    "read_label_tsv",
    "read_table",
    "split_dev",
]
