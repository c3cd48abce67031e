"""Labelled texts for many-to-one classification (sentiment): readers, labels, dev split, IMDB.

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

Labels: `LabelSet` maps label strings to class ids 0..C-1. The binary sentiment set is
`neg` = 0, `pos` = 1 and also accepts `negative`/`positive` and `0`/`1` (any case).

`split_dev` carves a deterministic, label-stratified dev split out of a training list, and
`download_imdb` fetches and unpacks the original aclImdb_v1 archive into the cache.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

from rnnkit.data.download import download, extract_archive
from rnnkit.data.paths import cache_dir as default_cache_dir
from rnnkit.data.text import read_text
from rnnkit.errors import DataError, RnnkitError

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# The SHA-256 of aclImdb_v1.tar.gz as published and checked by many independent projects.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One example: the text, its label, and where it came from (for error messages).

    label: as written in the file, or its canonical name when the reader was given a LabelSet
           (`1` -> `pos` with `LabelSet.sentiment()`).
    path:  the file it was read from.
    line:  its 1-based line there (the first line of a multi-line CSV record; 1 for a
           one-review-per-file aclImdb text).
    """

    text: str
    label: str
    path: str
    line: int


# ------------------------------------------------------------------------------- label set


class LabelSet:
    """The classes of a classifier: label names with ids 0..C-1, plus accepted aliases.

    names:          the canonical label names; `names[i]` has id i.
    aliases:        other spellings, each mapped to one canonical name ({"1": "pos"}).
    case_sensitive: when False, labels are compared after `.lower()` (`POS` == `pos`).

    Labels are compared after stripping surrounding whitespace.

    >>> s = LabelSet.sentiment()
    >>> s.names, s.id("pos"), s.id("Negative"), s.id("1"), s.canonical("0")
    (('neg', 'pos'), 1, 0, 1, 'neg')
    """

    def __init__(
        self,
        names: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        case_sensitive: bool = True,
    ) -> None:
        self._names: tuple[str, ...] = tuple(names)
        self._aliases: dict[str, str] = dict(aliases or {})
        self._case_sensitive = case_sensitive
        if not self._names:
            raise RnnkitError("a label set needs at least one label")
        self._ids: dict[str, int] = {}
        for i, name in enumerate(self._names):
            if not isinstance(name, str) or not name.strip():
                raise RnnkitError(f"label names must be non-empty strings, got {name!r}")
            key = self._key(name)
            if key in self._ids:
                raise RnnkitError(f"label {name!r} appears twice in {list(self._names)}")
            self._ids[key] = i
        for alias, name in self._aliases.items():
            if self._key(name) not in self._ids:
                raise RnnkitError(f"alias {alias!r} maps to {name!r}, which is not a label name")
            key, target = self._key(alias), self._ids[self._key(name)]
            if self._ids.get(key, target) != target:
                raise RnnkitError(
                    f"alias {alias!r} -> {name!r} clashes with label {self._names[self._ids[key]]!r}"
                )
            self._ids[key] = target

    def _key(self, label: str) -> str:
        label = label.strip()
        return label if self._case_sensitive else label.lower()

    # ------------------------------------------------------------------ constructors

    @classmethod
    def sentiment(cls) -> LabelSet:
        """Binary sentiment: `neg` = 0, `pos` = 1; also `negative`/`positive`, `0`/`1`, any case."""
        return cls(
            ("neg", "pos"),
            aliases={"negative": "neg", "positive": "pos", "0": "neg", "1": "pos"},
            case_sensitive=False,
        )

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> LabelSet:
        """The distinct labels, sorted (so the ids do not depend on the order of the data)."""
        return cls(sorted({label.strip() for label in labels}))

    @classmethod
    def infer(cls, labels: Iterable[str]) -> LabelSet:
        """`sentiment()` when every label is one of its spellings, else `from_labels(labels)`."""
        distinct = {label.strip() for label in labels}
        sentiment = cls.sentiment()
        if distinct and all(label in sentiment for label in distinct):
            return sentiment
        return cls.from_labels(distinct)

    # ------------------------------------------------------------------------ lookup

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and self._key(label) in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSet) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        return f"LabelSet({list(self._names)})"

    def describe(self) -> str:
        """`neg, pos (also accepted: 0, 1, negative, positive)`, for error messages."""
        text = ", ".join(self._names)
        if self._aliases:
            text += f" (also accepted: {', '.join(sorted(self._aliases))})"
        return text

    def id(self, label: str) -> int:
        """The class id of `label` (a name or an alias); RnnkitError when it is unknown."""
        try:
            return self._ids[self._key(label)]
        except KeyError:
            raise RnnkitError(
                f"unknown label {label!r}; expected one of {self.describe()}"
            ) from None

    def canonical(self, label: str) -> str:
        """The canonical name of `label` (`Positive` -> `pos`)."""
        return self._names[self.id(label)]

    def name(self, id: int) -> str:
        """The label name of class id `id`."""
        if not 0 <= id < len(self._names):
            raise RnnkitError(f"class id {id} out of range 0..{len(self._names) - 1}")
        return self._names[id]

    def encode(self, examples: Iterable[LabelledText]) -> list[int]:
        """The class ids of the examples' labels; DataError naming the example's file and line."""
        ids = []
        for ex in examples:
            key = self._key(ex.label)
            if key not in self._ids:
                raise DataError(
                    f"label {ex.label!r} is not one of {self.describe()}",
                    path=ex.path,
                    line=ex.line,
                )
            ids.append(self._ids[key])
        return ids

    # --------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, saved beside a checkpoint."""
        return {
            "names": list(self._names),
            "aliases": dict(sorted(self._aliases.items())),
            "case_sensitive": self._case_sensitive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSet:
        """Inverse of `to_dict`."""
        try:
            names = data["names"]
            if not isinstance(names, list):
                raise TypeError(f"'names' must be a list, got {type(names).__name__}")
            return cls(names, data.get("aliases"), bool(data.get("case_sensitive", True)))
        except (KeyError, TypeError, AttributeError) as e:
            raise RnnkitError(f"not a label set description: {e!r}") from None


Labels: TypeAlias = LabelSet | Collection[str] | None
"""What readers accept as `labels=`: a LabelSet, a collection of allowed names, or None (any)."""


def _as_label_set(labels: Labels) -> LabelSet | None:
    if labels is None or isinstance(labels, LabelSet):
        return labels
    if isinstance(labels, str):
        raise RnnkitError(f"labels must be a collection of label names, got the string {labels!r}")
    return LabelSet(sorted(set(labels)))


# ---------------------------------------------------------------------------------- readers


class _Builder:
    """Validates fields and collects examples for one file."""

    def __init__(self, path: Path, labels: Labels) -> None:
        self.path = path
        self.where = str(path)
        self.labels = _as_label_set(labels)
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
                "read the file as a table (header=True)",
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
            f"pass {argument}= to choose one",
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


_REVIEW_FILE = re.compile(r"(\d+)_(\d+)\.txt")


def _review_order(path: Path) -> tuple[int, int, str]:
    """Sort key: by the numeric review id of `<id>_<rating>.txt`, other names after, by name."""
    m = _REVIEW_FILE.fullmatch(path.name)
    return (0, int(m.group(1)), path.name) if m else (1, 0, path.name)


def _aclimdb_root(root: Path) -> Path:
    """`root` itself, or `root/aclImdb` when `root` is the folder the archive was unpacked in."""
    unpacked_here = (root / "aclImdb").is_dir()
    if unpacked_here and not (root / "train").is_dir() and not (root / "test").is_dir():
        return root / "aclImdb"
    return root


def read_aclimdb(
    root: str | Path, split: str = "train", labels: Labels = None
) -> list[LabelledText]:
    """Read the original aclImdb layout: `<root>/<split>/neg/*.txt`, then `.../pos/*.txt`.

    root:   the `aclImdb` folder (or the folder containing it, as `download_imdb` unpacks it).
    split:  "train" or "test" (the 50,000 unlabelled `train/unsup` reviews are not read).
    labels: None accepts the two folder names; a LabelSet maps them (`LabelSet.sentiment()`).

    Files are read in ascending review id (`<id>_<rating>.txt`), all `neg` then all `pos`.
    Each file is one review; as in the shared `imdb/train.tsv.gz`, U+0085 (a stray
    Windows-1252 ellipsis) becomes `...` and tabs and line breaks become spaces, so both
    sources give the same texts. The example's line is 1.
    """
    if split not in ("train", "test"):
        raise RnnkitError(f"split must be 'train' or 'test', got {split!r}")
    base = _aclimdb_root(Path(root))
    if not base.is_dir():
        raise DataError("aclImdb folder not found", path=base)
    label_set = _as_label_set(labels)
    examples: list[LabelledText] = []
    for label in ("neg", "pos"):
        folder = base / split / label
        if not folder.is_dir():
            raise DataError(
                f"no folder {split}/{label}: expected the aclImdb layout "
                "<root>/{train,test}/{neg,pos}/<id>_<rating>.txt",
                path=base,
            )
        if label_set is not None and label not in label_set:
            raise RnnkitError(
                f"the aclImdb folder label {label!r} is not one of {label_set.describe()}"
            )
        name = label if label_set is None else label_set.canonical(label)
        files = sorted(folder.glob("*.txt"), key=_review_order)
        if not files:
            raise DataError("no review files (*.txt)", path=folder)
        for file in files:
            text = read_text(file)
            if "\x85" in text:
                text = text.replace("\x85", "...")
            text = " ".join(text.splitlines()).replace("\t", " ").strip()
            if not text:
                raise DataError("empty review", path=file, line=1)
            examples.append(LabelledText(text, name, str(file), 1))
    return examples


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

    >>> examples = load_sentiment("/work/shared/data/imdb/train.tsv.gz")  # doctest: +SKIP
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


# ---------------------------------------------------------------------------------- IMDB


def download_imdb(
    cache_dir: str | Path | None = None,
    *,
    url: str = IMDB_URL,
    sha256: str = IMDB_SHA256,
    progress: bool = True,
) -> Path:
    """Download the aclImdb_v1 archive (about 80 MB) once, verify and unpack it; return its root.

    cache_dir:   the cache root (default $RNNKIT_CACHE or ~/.cache/rnnkit); the archive and
                 the unpacked tree go to `<cache_dir>/imdb/`.
    url, sha256: where to fetch the archive and its expected SHA-256 (default: the Stanford
                 AI Lab release and its published digest); tests point them at a local server.
    progress:    show a download progress bar.

    Returns `<cache_dir>/imdb/aclImdb_v1/aclImdb`, the root to give `read_aclimdb(root, split)`
    or `load_sentiment(root)`. Beside it a marker file holds the archive's digest: when it
    matches, nothing is downloaded, hashed or unpacked again. Unpacking goes to a temporary
    folder renamed into place, so an interrupted run never leaves a half-unpacked tree. Under
    DistributedDataParallel call it on one process first (the others then find the marker).

    Raises RnnkitError on a network error or a checksum mismatch (nothing is kept then), and
    DataError when the archive holds no `aclImdb/` folder.
    """
    folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "imdb"
    final = folder / "aclImdb_v1"
    marker = final / ".rnnkit-sha256"
    root = final / "aclImdb"
    expected = sha256.strip().lower()

    def unpacked() -> bool:
        return marker.is_file() and marker.read_text().strip() == expected and root.is_dir()

    if unpacked():
        return root
    archive = download(
        url, expected, cache_dir=folder, filename="aclImdb_v1.tar.gz", progress=progress
    )
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".aclImdb_v1.", suffix=".part"))
    try:
        extract_archive(archive, tmp)
        if not (tmp / "aclImdb").is_dir():
            raise DataError("the archive has no aclImdb/ folder", path=archive)
        (tmp / marker.name).write_text(expected + "\n")
        if unpacked():  # another process finished first
            return root
        if final.exists():  # a stale unpacking (another archive, or damaged): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


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
