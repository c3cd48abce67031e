"""The sktime/aeon `.ts` time-series format (the UEA/UCR archives: BasicMotions, Japanese
Vowels, ...).

    # comment lines, anywhere before the data
    @problemName BasicMotions
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.37,...:0.28,...:...:Standing         <- one case a line: C channels split by `:`,
                                                   T values split by `,`, the label last

Header keys are case-insensitive (`@dimension` is read as `@dimensions`). Checked: every case
has @dimensions channels (or, without it, as many as the first case); with @equalLength true
every case has the first case's length, or @seriesLength; labels are among @classLabel's.
Within a case every channel must have the case's length: the reader does not pad (write `?`
for the steps a channel lacks and choose a missing-value policy). `?` and `NaN` are missing
values (`rnnkit.data.series_set.fill_missing`). Refused with a clear message: @timeStamps
true (timestamped `(time,value)` points), and @targetLabel true (regression targets).
Without @classLabel (or with @classLabel false) the cases are read unlabelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.series_set import SeriesSet, as_tensor, fill_missing, parse_values
from rnnkit.data.text import read_text, split_lines
from rnnkit.errors import DataError

BOOLEAN_KEYS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
INTEGER_KEYS = ("dimensions", "serieslength")
KNOWN_KEYS = ("problemname", *BOOLEAN_KEYS, *INTEGER_KEYS, "classlabel", "data")


@dataclass
class _Header:
    """The @ lines before @data."""

    values: dict[str, bool | int | str] = field(default_factory=dict)
    classes: tuple[str, ...] | None = None  # @classLabel true NAMES...; None: no labels

    def flag(self, key: str) -> bool:
        return bool(self.values.get(key, False))

    def number(self, key: str) -> int | None:
        value = self.values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_header(header: _Header, key: str, value: str, path: Path, line: int) -> None:
    key = "dimensions" if key == "dimension" else key
    if key not in KNOWN_KEYS:
        known = ", ".join("@" + k for k in KNOWN_KEYS)
        raise DataError(f"unknown header @{key}; the .ts keys are {known}", path=path, line=line)
    words = value.split()
    if key == "data":
        return
    if key == "problemname":
        header.values[key] = value
    elif key in BOOLEAN_KEYS or key == "classlabel":
        if not words or words[0].lower() not in ("true", "false"):
            raise DataError(f"@{key} must be true or false, got {value!r}", path=path, line=line)
        header.values[key] = words[0].lower() == "true"
        if key == "classlabel" and header.values[key]:
            if len(words) < 2:
                raise DataError("@classLabel true must list the class labels", path, line)
            header.classes = tuple(words[1:])
    else:
        if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
            raise DataError(f"@{key} must be a positive integer, got {value!r}", path, line)
        header.values[key] = int(words[0])


def _check_header(header: _Header, path: Path, line: int) -> None:
    """What the reader refuses to read, said at the @data line."""
    if header.flag("timestamps"):
        raise DataError(
            "@timeStamps true: timestamped (time,value) points are not supported; write the "
            "values alone, one per step (@timeStamps false)",
            path=path,
            line=line,
        )
    if header.flag("targetlabel"):
        raise DataError(
            "@targetLabel true: a regression target; this reader needs class labels "
            "(@classLabel true NAMES...)",
            path=path,
            line=line,
        )
    if header.flag("univariate") and header.number("dimensions") not in (None, 1):
        raise DataError("@univariate true but @dimensions is not 1", path=path, line=line)


def _parse_case(
    text: str, header: _Header, expected: int | None, path: Path, line: int
) -> tuple[np.ndarray, str | None]:
    """One data line -> (values (T, C) with NaN for missing values, label or None)."""
    if "(" in text:
        raise DataError(
            "timestamped (time,value) points, but the header does not say @timeStamps true "
            "(and they are not supported: write the values alone)",
            path=path,
            line=line,
        )
    parts = text.split(":")
    label = None
    if header.classes is not None:
        label = parts.pop().strip()
        if label not in header.classes:
            names = " ".join(header.classes)
            raise DataError(f"label {label!r} is not one of @classLabel's: {names}", path, line)
    if expected is not None and len(parts) != expected:
        said = "@dimensions" if header.number("dimensions") is not None else "the first case"
        raise DataError(f"{len(parts)} channels, expected {expected} ({said})", path, line)
    channels = [
        parse_values(p.split(","), path, line, f"channel {c + 1}") for c, p in enumerate(parts)
    ]
    lengths = [len(v) for v in channels]
    if len(set(lengths)) > 1:
        c = next(c for c, n in enumerate(lengths) if n != lengths[0])
        raise DataError(
            f"channel 1 has {lengths[0]} values but channel {c + 1} has {lengths[c]}: every "
            "channel of a case needs the case's length (write ? for the steps a channel lacks "
            "and choose --missing)",
            path=path,
            line=line,
        )
    return np.stack(channels, axis=1), label  # (T, C)


def read_ts(path: str | Path, missing: str = "error") -> SeriesSet:
    """Read a `.ts` file (see the module docstring); DataError naming file:line otherwise."""
    path = Path(path)
    lines = split_lines(read_text(path))
    if not any(s.strip() for s in lines):
        raise DataError("empty file: expected @ header lines, @data and one case a line", path)
    header = _Header()
    data_line: int | None = None
    cases: list[np.ndarray] = []
    labels: list[str] = []
    where: list[int] = []
    for n, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if data_line is None:
            if not text.startswith("@"):
                raise DataError(
                    f"expected a # comment or an @ header line before @data, got {text[:40]!r}",
                    path,
                    n,
                )
            key, _, value = text[1:].partition(" ")
            _parse_header(header, key.lower(), value.strip(), path, n)
            if key.lower() == "data":
                _check_header(header, path, n)
                data_line = n
            continue
        expected = header.number("dimensions") or (cases[0].shape[1] if cases else None)
        values, label = _parse_case(text, header, expected, path, n)
        _check_length(header, values.shape[0], cases, where, path, n)
        cases.append(fill_missing(values, missing, path, n))
        where.append(n)
        if label is not None:
            labels.append(label)
    if data_line is None:
        raise DataError("no @data line: the cases follow a line @data after the header", path)
    if not cases:
        raise DataError("no cases after @data", path=path, line=data_line)
    return SeriesSet(
        [as_tensor(x) for x in cases],
        labels if header.classes is not None else None,
        header.classes or (),
        tuple(f"dim_{c}" for c in range(cases[0].shape[1])),
        None,
        str(path),
        where,
    )


def _check_length(
    header: _Header, length: int, cases: list[np.ndarray], where: list[int], path: Path, line: int
) -> None:
    """@seriesLength and @equalLength true hold for this case."""
    wanted = header.number("serieslength")
    if header.flag("equallength") and wanted is None and cases:
        wanted = cases[0].shape[0]
        if length != wanted:
            raise DataError(
                f"{length} steps, but @equalLength true and the first case (line "
                f"{where[0]}) has {wanted}",
                path,
                line,
            )
    if wanted is not None and header.flag("equallength") and length != wanted:
        raise DataError(f"{length} steps, expected @seriesLength {wanted}", path, line)
