"""Multichannel time series for many-to-one classification (activity recognition from
motion sensors, speakers from speech frames): the readers, per-channel normalisation, and
sliding windows over long recordings.

Readers (each returns a `SeriesSet`: cases x_i (T_i, C) float32 with labels, class names,
channel names, and groups where the format knows the subject; bad input is a DataError
naming file:line):

    read_ts(path)                 the sktime/aeon `.ts` format (`rnnkit.data.ts_format`)
    read_har(folder, split)       UCI HAR inertial signals (`rnnkit.data.har`)
    read_npz(path)                x (N, T, C), y, lengths, label_names, groups
    read_csv_cases(path)          long format: case,t,<channels...>,label (one row a step)
    read_series(path, format)     one of the above, by `format` or from the path
    read_stream(path)             one long recording (T, C) from a .csv or .npz

Missing values (`?`, NaN) are refused unless `missing` is "interpolate" or "zero"
(`rnnkit.data.series_set`).

Normalisation: `ChannelStats.fit` takes each channel's mean and standard deviation over every
real step of the training cases; `apply` maps x -> (x - mean) / std.

Windows: `windows(stream, L, stride)` cuts (T, C) into (N, L, C) at starts 0, stride,
2 stride, ...; when the last of those ends before T, one more window aligned to the end
(start T - L) covers the remaining steps, so every step is in some window.
`per_step(probabilities, T, L, stride)` gives each step the mean of the class probabilities of
the windows that cover it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.har import read_har
from rnnkit.data.series_files import read_csv_cases, read_npz, read_stream
from rnnkit.data.series_set import MISSING_POLICIES, SeriesSet, check_missing_policy
from rnnkit.data.ts_format import read_ts
from rnnkit.errors import DataError, RnnkitError

FORMATS = ("auto", "ts", "har", "npz", "csv")
SUFFIXES = {".ts": "ts", ".npz": "npz", ".csv": "csv"}

__all__ = [
    "FORMATS",
    "MISSING_POLICIES",
    "ChannelStats",
    "SeriesSet",
    "per_step",
    "read_csv_cases",
    "read_har",
    "read_npz",
    "read_series",
    "read_stream",
    "read_ts",
    "series_format",
    "window_starts",
    "windows",
]


def series_format(path: str | Path, format: str = "auto") -> str:
    """The format of `path`: `format` itself, or (auto) har for a folder, else by suffix."""
    if format not in FORMATS:
        raise RnnkitError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format != "auto":
        return format
    path = Path(path)
    if path.is_dir():
        return "har"
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise DataError(
            "cannot tell the format from the name: expected a .ts, .npz or .csv file or a UCI "
            "HAR folder (or say which with --format)",
            path,
        )
    return found


def read_series(
    path: str | Path, format: str = "auto", missing: str = "error", har_split: str = "train"
) -> SeriesSet:
    """Cases from `path` in `format` (see the module docstring); `har_split` is the split of a
    UCI HAR folder ("train" or "test")."""
    check_missing_policy(missing)
    kind = series_format(path, format)
    if not Path(path).exists():
        raise DataError("no such file or folder", path)
    if kind == "har":
        return read_har(path, har_split, missing)
    if Path(path).is_dir():
        raise DataError(f"a folder, expected a .{kind} file", path)
    if kind == "ts":
        return read_ts(path, missing)
    if kind == "npz":
        return read_npz(path, missing)
    return read_csv_cases(path, missing)


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel normalisation x -> (x - mean) / std, fitted on the training cases only.

    mean, std: (C,) over every real step of every training case (the population standard
    deviation); a constant channel gets std 1 so that it maps to 0 rather than to NaN.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @staticmethod
    def fit(series: Sequence[Tensor]) -> ChannelStats:
        steps = torch.cat(list(series)).double()  # (sum T_i, C)
        mean, std = steps.mean(0), steps.std(0, correction=0)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        return ChannelStats(tuple(mean.tolist()), tuple(std.tolist()))

    def apply(self, x: Tensor) -> Tensor:
        """x (..., C) -> normalised float32 (..., C)."""
        if x.shape[-1] != len(self.mean):
            raise RnnkitError(f"{x.shape[-1]} channels, but the normalisation has {len(self.mean)}")
        mean = torch.tensor(self.mean, dtype=torch.float64)
        std = torch.tensor(self.std, dtype=torch.float64)
        return ((x.double() - mean) / std).float()

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @staticmethod
    def from_dict(values: dict[str, Any]) -> ChannelStats:
        return ChannelStats(tuple(values["mean"]), tuple(values["std"]))


def window_starts(steps: int, length: int, stride: int) -> list[int]:
    """The first step of each window: 0, stride, 2 stride, ... while a whole window fits, then
    steps - length when the last of those ends before `steps` (a window aligned to the end)."""
    if length < 1 or stride < 1:
        raise RnnkitError(f"window length and stride must be at least 1, got {length}, {stride}")
    if steps < length:
        raise RnnkitError(f"a recording of {steps} steps is shorter than the window ({length})")
    starts = list(range(0, steps - length + 1, stride))
    if starts[-1] + length < steps:
        starts.append(steps - length)
    return starts


def windows(stream: Tensor | np.ndarray, length: int, stride: int) -> Tensor:
    """stream (T, C) -> windows (N, length, C) at `window_starts(T, length, stride)`."""
    x = torch.as_tensor(stream)
    return torch.stack([x[s : s + length] for s in window_starts(len(x), length, stride)])


def per_step(probabilities: Tensor, steps: int, length: int, stride: int) -> Tensor:
    """Window class probabilities (N, K) -> each step's (steps, K): the mean over the windows
    (at `window_starts(steps, length, stride)`) that cover the step."""
    starts = window_starts(steps, length, stride)
    if len(starts) != len(probabilities):
        raise RnnkitError(f"{len(probabilities)} windows' probabilities, expected {len(starts)}")
    total = torch.zeros(steps, probabilities.shape[1], dtype=probabilities.dtype)
    count = torch.zeros(steps, 1, dtype=probabilities.dtype)
    for s, p in zip(starts, probabilities, strict=True):
        total[s : s + length] += p
        count[s : s + length] += 1
    return total / count  # (T, K)
