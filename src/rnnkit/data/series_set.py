"""Cases of multichannel time series with their labels: what every time-series reader returns
(`rnnkit.data.timeseries`), and the value parsing and missing-value policy the readers share.

A case is x<1..T_i> with C channels, stored as a (T_i, C) float32 tensor. A missing value
(written `?`, `NaN` or, in CSV, an empty cell) is never kept: the readers refuse it naming
file, line and step (policy "error", the default), or fill it when asked:

    "interpolate"  linear interpolation within the channel between the nearest real values
                   before and after; missing values at the start or end of a channel take
                   the nearest real value; a channel with no real value at all is refused
    "zero"         the raw value 0.0 (before normalisation, so not the channel's mean)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import DataError, RnnkitError

MISSING_POLICIES = ("error", "interpolate", "zero")
MISSING_TOKENS = frozenset({"?", "nan", ""})  # compared lower-cased


@dataclass(frozen=True)
class SeriesSet:
    """Labelled (or unlabelled) cases read from one source.

    series:   N tensors (T_i, C) float32, every value finite.
    labels:   each case's class name, or None when the source has no labels (inputs to predict).
    classes:  every class name in class-id order: the order the source declares (`.ts`
              @classLabel, HAR activity ids, NPZ label_names), else the sorted labels; () when
              unlabelled. A class may have no case.
    channels: the C channel names.
    groups:   each case's group (the subject who recorded it) where the source says, else None:
              dev splits keep a group on one side.
    source:   the file or folder read.
    lines:    each case's line in `source` (1-based; its first row in CSV), None for NPZ.
    """

    series: list[Tensor]
    labels: list[str] | None
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    groups: list[str] | None
    source: str
    lines: list[int] | None = None

    def __post_init__(self) -> None:
        n = len(self.series)
        for name, values in (("labels", self.labels), ("groups", self.groups)):
            if values is not None and len(values) != n:
                raise RnnkitError(f"{self.source}: {len(values)} {name} for {n} cases")
        if self.labels is not None:
            unknown = sorted(set(self.labels) - set(self.classes))
            if unknown:
                raise RnnkitError(f"{self.source}: labels {unknown} are not among the classes")

    def __len__(self) -> int:
        return len(self.series)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> list[int]:
        return [int(x.shape[0]) for x in self.series]

    def where(self, i: int) -> str:
        """Where case i comes from, for messages: `file:line` or `file: case i`."""
        if self.lines is not None:
            return f"{self.source}:{self.lines[i]}"
        return f"{self.source}: case {i}"

    def targets(self) -> list[int]:
        """Each case's class id (its label's index in `classes`)."""
        if self.labels is None:
            raise DataError(
                "these cases have no labels; training and evaluation need them", path=self.source
            )
        ids = {name: i for i, name in enumerate(self.classes)}
        return [ids[label] for label in self.labels]

    def subset(self, indices: Sequence[int]) -> SeriesSet:
        """The cases at `indices`, in that order (classes and channels unchanged)."""
        return SeriesSet(
            [self.series[i] for i in indices],
            None if self.labels is None else [self.labels[i] for i in indices],
            self.classes,
            self.channels,
            None if self.groups is None else [self.groups[i] for i in indices],
            self.source,
            None if self.lines is None else [self.lines[i] for i in indices],
        )


def check_missing_policy(policy: str) -> None:
    if policy not in MISSING_POLICIES:
        raise RnnkitError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {policy!r}")


def parse_values(
    tokens: Sequence[str],
    path: str | Path,
    line: int | None,
    what: str = "",
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Text values -> (n,) float64 with NaN where a value is missing (`?`, `NaN`, empty).

    DataError naming path and line, and where in it: `what` and the step (`channel 3, step
    7`; values along time), or the column's name from `names` (values across channels), for
    a value that is not a number, or is infinite."""

    def at(t: int) -> str:
        return f"column {names[t]!r}" if names is not None else f"{what}, step {t + 1}"

    try:
        values = np.asarray(tokens, dtype=np.float64)  # the fast path: plain numbers
    except ValueError:
        values = np.empty(len(tokens))
        for t, token in enumerate(tokens):
            text = token.strip()
            if text.lower() in MISSING_TOKENS:
                values[t] = np.nan
                continue
            try:
                values[t] = float(text)
            except ValueError:
                raise DataError(
                    f"{at(t)}: expected a number or ?, got {text!r}", path=path, line=line
                ) from None
    infinite = np.isinf(values)
    if infinite.any():
        t = int(np.argmax(infinite))
        raise DataError(
            f"{at(t)}: {tokens[t].strip()!r} is not a finite number", path=path, line=line
        )
    return values


def fill_missing(
    x: np.ndarray,
    policy: str,
    path: str | Path,
    line: int | None = None,
    step_lines: Sequence[int] | None = None,
    label: str = "",
) -> np.ndarray:
    """x (T, C) with NaN where values are missing -> (T, C) without NaN, by `policy`.

    "error" raises DataError at the first missing value, naming path and line (or, with
    `step_lines`, the line of that step's row) and the step and channel (1-based); `label`
    prefixes the message ("case 3: "). The array is changed in place and returned."""
    missing = np.isnan(x)
    if not missing.any():
        return x
    if policy == "error":
        t, c = (int(i[0]) for i in np.nonzero(missing))
        where = step_lines[t] if step_lines is not None else line
        raise DataError(
            f"{label}missing value (? or NaN) at step {t + 1}, channel {c + 1}; fill it with "
            "--missing interpolate or --missing zero",
            path=path,
            line=where,
        )
    if policy == "zero":
        x[missing] = 0.0
        return x
    steps = np.arange(x.shape[0])
    for c in range(x.shape[1]):
        gaps = missing[:, c]
        if gaps.all():
            raise DataError(
                f"{label}channel {c + 1} has no value at all to interpolate from",
                path=path,
                line=line,
            )
        if gaps.any():
            # np.interp holds the end values constant outside the real steps
            x[gaps, c] = np.interp(steps[gaps], steps[~gaps], x[~gaps, c])
    return x


def as_tensor(x: np.ndarray) -> Tensor:
    """A filled (T, C) array as the float32 tensor a SeriesSet holds."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
