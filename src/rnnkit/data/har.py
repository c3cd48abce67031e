"""The UCI HAR Dataset's inertial signals (Anguita et al. 2013): smartphone motion windows of
2.56 s at 50 Hz (128 steps), 6 activities, 30 subjects.

    UCI HAR Dataset/                  <- the folder to give (or the one holding it)
      activity_labels.txt             `1 WALKING` ...: activity id and name, one a line
      train/y_train.txt               each window's activity id (1-based), one a line
      train/subject_train.txt         each window's subject, one a line
      train/Inertial Signals/body_acc_x_train.txt, ... (9 files)
                                      one window a line: T values split by spaces
      test/...                        the same with _test

The 9 channels, in this order: body_acc_{x,y,z}, body_gyro_{x,y,z}, total_acc_{x,y,z}. Every
file of a split must have one row per window (the counts must agree), and every window line
the same number of values (128 in the real data; the first line of body_acc_x sets it here).
The subject of a window is its group: a dev split keeps each subject's windows on one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.data.series_set import SeriesSet, as_tensor, fill_missing, parse_values
from rnnkit.data.text import read_text, split_lines
from rnnkit.errors import DataError

SIGNALS = ("body_acc", "body_gyro", "total_acc")
CHANNELS = tuple(f"{s}_{axis}" for s in SIGNALS for axis in "xyz")
SPLITS = ("train", "test")


def har_root(path: str | Path) -> Path:
    """The UCI HAR Dataset folder: `path` itself when it holds train/, or its `UCI HAR
    Dataset` subfolder; DataError saying what was expected otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise DataError("not a folder; expected the UCI HAR Dataset folder (holding train/)", path)
    for root in (path, path / "UCI HAR Dataset"):
        if (root / "train").is_dir() or (root / "test").is_dir():
            return root
    raise DataError(
        "not a UCI HAR Dataset folder: expected train/ (train/Inertial Signals/, "
        "train/y_train.txt, train/subject_train.txt) and activity_labels.txt in it",
        path,
    )


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError("missing file of the UCI HAR layout", path)
    return [(n, s) for n, s in enumerate(split_lines(read_text(path)), 1) if s.strip()]


def read_activity_labels(path: Path) -> dict[int, str]:
    """activity_labels.txt -> {id: name}."""
    names: dict[int, str] = {}
    for n, text in _lines(path):
        words = text.split()
        if len(words) != 2 or not words[0].isdigit():
            raise DataError(f"expected `ID NAME`, got {text.strip()!r}", path, n)
        if int(words[0]) in names:
            raise DataError(f"activity id {words[0]} is listed twice", path, n)
        names[int(words[0])] = words[1]
    if not names:
        raise DataError("empty file: expected `ID NAME` lines", path)
    return names


def _integers(path: Path) -> list[int]:
    out = []
    for n, text in _lines(path):
        if not text.strip().isdigit():
            raise DataError(f"expected one whole number a line, got {text.strip()!r}", path, n)
        out.append(int(text))
    return out


def _signal(path: Path, steps: int | None) -> np.ndarray:
    """One channel's file -> (N, T) with NaN for missing values."""
    rows = []
    for n, text in _lines(path):
        tokens = text.split()
        if steps is not None and len(tokens) != steps:
            raise DataError(f"{len(tokens)} values, expected {steps} (one window a line)", path, n)
        steps = len(tokens)
        rows.append(parse_values(tokens, path, n, "window"))
    if not rows:
        raise DataError("empty file: expected one window a line", path)
    return np.stack(rows)


def _refuse_missing(files: list[Path], signals: list[np.ndarray]) -> None:
    """The first missing value of the first file that has one, by file, line and step."""
    for file, values in zip(files, signals, strict=True):
        gaps = np.isnan(values)  # (N, T)
        if gaps.any():
            row, t = (int(i[0]) for i in np.nonzero(gaps))
            line = _lines(file)[row][0]
            raise DataError(
                f"missing value (? or NaN) at step {t + 1}; fill it with "
                "--missing interpolate or --missing zero",
                file,
                line,
            )


def _check_rows(counts: dict[Path, int]) -> None:
    (first, n), *rest = counts.items()
    for other, m in rest:
        if m != n:
            raise DataError(
                f"{m} rows, but {first} has {n}: every file of a split needs one row per window",
                other,
            )


def read_har(path: str | Path, split: str = "train", missing: str = "error") -> SeriesSet:
    """The windows of one split ("train" or "test") of a UCI HAR Dataset folder: 9 channels,
    the activity names as labels (classes in activity-id order), subjects as groups."""
    if split not in SPLITS:
        raise DataError(f"UCI HAR has splits {', '.join(SPLITS)}, not {split!r}", path)
    root = har_root(path)
    names = read_activity_labels(root / "activity_labels.txt")
    folder = root / split
    y_path, subject_path = folder / f"y_{split}.txt", folder / f"subject_{split}.txt"
    ids, subjects = _integers(y_path), _integers(subject_path)
    signals: list[np.ndarray] = []
    files = [folder / "Inertial Signals" / f"{c}_{split}.txt" for c in CHANNELS]
    for file in files:
        signals.append(_signal(file, signals[0].shape[1] if signals else None))
    rows = {f: len(s) for f, s in zip(files, signals, strict=True)}
    _check_rows(rows | {y_path: len(ids), subject_path: len(subjects)})
    for i, activity in enumerate(ids):
        if activity not in names:
            known = ", ".join(str(k) for k in sorted(names))
            raise DataError(
                f"activity id {activity} is not in activity_labels.txt ({known})", y_path, i + 1
            )
    x = np.stack(signals, axis=2)  # (N, T, C)
    if missing == "error":
        _refuse_missing(files, signals)
    windows = [as_tensor(fill_missing(x[i], missing, folder, i + 1)) for i in range(len(x))]
    order = sorted(names)
    return SeriesSet(
        windows,
        [names[a] for a in ids],
        tuple(names[a] for a in order),
        CHANNELS,
        [f"subject {s}" for s in subjects],
        str(root),
        list(range(1, len(windows) + 1)),
    )
