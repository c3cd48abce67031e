"""Generic time-series files: NumPy `.npz` archives and long-format CSV, each holding either
labelled cases (`read_npz`, `read_csv_cases`) or one long recording (`read_stream`).

NPZ of cases (read with allow_pickle=False: an object array is refused, never unpickled):
    x            (N, T, C) numbers; case i is x[i, :lengths[i]]
    y            (N,) integer class ids or strings; optional (unlabelled cases)
    lengths      (N,) integers in 1..T; optional (every case has T steps)
    label_names  (K,) strings; optional: with integer y, y[i] indexes it; with string y, it
                 fixes the class order (every y must be in it); otherwise the classes are the
                 sorted distinct y (integers written as text)
    groups       (N,) integers or strings: the subject of each case; optional
NPZ of one recording: x (T, C) (or (1, T, C)); nothing else is read.

CSV of cases (long format: one row per time step, a header row first, columns by name):
    case      the case's id; the rows of one case are consecutive          (required)
    t         the step, 0, 1, 2, ... within each case                       (optional)
    label     the case's class, the same on each of its rows                (optional)
    subject   the case's group, the same on each of its rows                (optional)
    any other column is a channel, in the header's order
    e.g.  case,t,acc_x,acc_y,label / walk-1,0,0.12,-0.3,Walking / walk-1,1,0.10,-0.2,Walking
CSV of one recording: a header of channel names (and optionally `t`), one row per step.
Missing values: `?`, `NaN` or an empty cell (`rnnkit.data.series_set.fill_missing`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
from torch import Tensor

from rnnkit.data.series_set import SeriesSet, as_tensor, fill_missing, parse_values
from rnnkit.data.text import read_text
from rnnkit.errors import DataError

NPZ_ARRAYS = ("x", "y", "lengths", "label_names", "groups")
RESERVED = ("case", "t", "label", "subject")


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an .npz archive, without unpickling anything."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise DataError("not an .npz archive (numpy.savez writes one)", path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except ValueError as e:
        if "pickle" in str(e):
            raise DataError(
                "holds an object array, which would need unpickling: store labels "
                "as a string array (numpy dtype '<U') or integers",
                path,
            ) from None
        raise DataError(f"not a readable .npz archive ({e})", path) from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"not a readable .npz archive ({e})", path) from None
    unknown = sorted(set(arrays) - set(NPZ_ARRAYS))
    if unknown:
        raise DataError(
            f"unexpected arrays {unknown}; an .npz of cases holds {', '.join(NPZ_ARRAYS)}", path
        )
    if "x" not in arrays:
        raise DataError("no array 'x' of shape (N, T, C) (cases) or (T, C) (one recording)", path)
    if arrays["x"].dtype.kind not in "fiu":
        raise DataError(f"x must hold numbers, got dtype {arrays['x'].dtype}", path)
    return arrays


def _npz_labels(
    arrays: dict[str, np.ndarray], n: int, path: Path
) -> tuple[list[str] | None, tuple[str, ...]]:
    """(labels, classes) of an .npz of cases."""
    y, names = arrays.get("y"), arrays.get("label_names")
    for key, value in (("y", y), ("label_names", names)):
        if value is not None and value.ndim != 1:
            raise DataError(f"{key} must be one-dimensional, got shape {value.shape}", path)
    if names is not None and names.dtype.kind not in "US":
        raise DataError(f"label_names must be strings, got dtype {names.dtype}", path)
    if y is None:
        return None, tuple(str(s) for s in names) if names is not None else ()
    if len(y) != n:
        raise DataError(f"y has {len(y)} labels for {n} cases in x", path)
    if y.dtype.kind not in "iuUS":
        raise DataError(f"y must be integers or strings, got dtype {y.dtype}", path)
    if names is None:
        if y.dtype.kind in "iu":
            return [str(int(v)) for v in y], tuple(str(v) for v in sorted({int(v) for v in y}))
        labels = [str(v) for v in y]
        return labels, tuple(sorted(set(labels)))
    classes = tuple(str(s) for s in names)
    if y.dtype.kind in "iu":
        bad = [i for i, v in enumerate(y) if not 0 <= int(v) < len(classes)]
        if bad:
            raise DataError(
                f"case {bad[0]}: y = {int(y[bad[0]])} indexes no entry of "
                f"label_names ({len(classes)} names)",
                path,
            )
        return [classes[int(v)] for v in y], classes
    labels = [str(v) for v in y]
    bad = [i for i, v in enumerate(labels) if v not in classes]
    if bad:
        raise DataError(f"case {bad[0]}: label {labels[bad[0]]!r} is not in label_names", path)
    return labels, classes


def read_npz(path: str | Path, missing: str = "error") -> SeriesSet:
    """Cases from an .npz archive (see the module docstring)."""
    path = Path(path)
    arrays = load_npz(path)
    x = arrays["x"]
    if x.ndim != 3 or 0 in x.shape:
        raise DataError(f"x must have shape (N, T, C) for cases, got {x.shape}", path)
    n, steps, _ = x.shape
    lengths = arrays.get("lengths", np.full(n, steps))
    if lengths.shape != (n,) or lengths.dtype.kind not in "iu":
        raise DataError(f"lengths must be {n} integers, got {lengths.dtype} {lengths.shape}", path)
    bad = [i for i, t in enumerate(lengths) if not 1 <= t <= steps]
    if bad:
        raise DataError(f"case {bad[0]}: length {lengths[bad[0]]} is not in 1..{steps}", path)
    labels, classes = _npz_labels(arrays, n, path)
    groups = arrays.get("groups")
    if groups is not None and groups.shape != (n,):
        raise DataError(f"groups must have shape ({n},), got {groups.shape}", path)
    series = []
    for i in range(n):
        values = x[i, : lengths[i]].astype(np.float64)  # (T_i, C)
        series.append(as_tensor(fill_missing(values, missing, path, label=f"case {i}: ")))
    return SeriesSet(
        series,
        labels,
        classes,
        tuple(f"dim_{c}" for c in range(x.shape[2])),
        None if groups is None else [str(g) for g in groups],
        str(path),
    )


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, cells)]) of a CSV file with a header row; blank rows skipped."""
    reader = csv.reader(io.StringIO(read_text(path)))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            if len(set(header)) < len(header):
                raise DataError(f"repeated column names in the header {header}", path, 1)
            continue
        if len(cells) != len(header):
            raise DataError(
                f"{len(cells)} columns, expected {len(header)} like the header",
                path,
                reader.line_num,
            )
        rows.append((reader.line_num, cells))
    if header is None:
        raise DataError("empty file: expected a header row and one row per time step", path)
    if not rows:
        raise DataError("no rows after the header", path)
    return header, rows


def _check_steps(ts: list[str], lines: list[int], path: Path) -> None:
    """The `t` column counts 0, 1, 2, ... (rows in time order, none skipped)."""
    for k, (t, line) in enumerate(zip(ts, lines, strict=True)):
        if t.strip() != str(k):
            raise DataError(
                f"t = {t.strip()!r}, expected {k}: the rows of a case (or of a "
                "recording) go in time order from t = 0",
                path,
                line,
            )


def read_csv_cases(path: str | Path, missing: str = "error") -> SeriesSet:
    """Cases from a long-format CSV file (see the module docstring)."""
    path = Path(path)
    header, rows = _csv_rows(path)
    if "case" not in header:
        raise DataError(
            f"no `case` column in the header {header}; a CSV of cases has "
            "columns case,t,<channels...>,label",
            path,
            1,
        )
    col = {name: header.index(name) for name in RESERVED if name in header}
    channels = [i for i, name in enumerate(header) if name not in RESERVED]
    if not channels:
        raise DataError("no channel columns (every column is case, t, label or subject)", path, 1)
    cases: dict[str, list[tuple[int, list[str]]]] = {}
    previous = None
    for line, cells in rows:
        case = cells[col["case"]].strip()
        if case in cases and case != previous:
            first = cases[case][0][0]
            raise DataError(
                f"case {case!r} continues here, but its rows began at line {first} "
                "and were interrupted: keep each case's rows together",
                path,
                line,
            )
        cases.setdefault(case, []).append((line, cells))
        previous = case
    series: list[Tensor] = []
    labels: list[str] = []
    groups: list[str] = []
    for case_rows in cases.values():
        lines = [line for line, _ in case_rows]
        if "t" in col:
            _check_steps([cells[col["t"]] for _, cells in case_rows], lines, path)
        for key, out in (("label", labels), ("subject", groups)):
            if key in col:
                out.append(_constant([cells[col[key]] for _, cells in case_rows], key, lines, path))
        names = [header[i] for i in channels]
        values = np.stack(
            [
                parse_values([cells[i] for i in channels], path, line, names=names)
                for line, cells in case_rows
            ]
        )
        series.append(as_tensor(fill_missing(values, missing, path, step_lines=lines)))
    return SeriesSet(
        series,
        labels if "label" in col else None,
        tuple(sorted(set(labels))),
        tuple(header[i] for i in channels),
        groups if "subject" in col else None,
        str(path),
        [rows_[0][0] for rows_ in cases.values()],
    )


def _constant(values: list[str], key: str, lines: list[int], path: Path) -> str:
    first = values[0].strip()
    if not first:
        raise DataError(f"empty {key}", path, lines[0])
    for value, line in zip(values, lines, strict=True):
        if value.strip() != first:
            raise DataError(
                f"{key} {value.strip()!r} differs from {first!r} on the case's "
                f"first row (line {lines[0]})",
                path,
                line,
            )
    return first


def read_stream(path: str | Path, missing: str = "error") -> tuple[np.ndarray, tuple[str, ...]]:
    """One long recording: (T, C) float64 values (missing ones filled by `missing`, or refused
    naming file:line or the step) and the channel names. CSV or NPZ by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        x = load_npz(path)["x"]
        x = x[0] if x.ndim == 3 and x.shape[0] == 1 else x
        if x.ndim != 2 or 0 in x.shape:
            raise DataError(f"x must have shape (T, C) for one recording, got {x.shape}", path)
        values = fill_missing(x.astype(np.float64), missing, path)
        return values, tuple(f"dim_{c}" for c in range(x.shape[1]))
    if path.suffix.lower() != ".csv":
        raise DataError(
            "a recording must be a .csv (one row per step) or an .npz (x: (T, C))", path
        )
    header, rows = _csv_rows(path)
    if "case" in header or "label" in header:
        raise DataError(
            "a file of cases (it has a case or label column), not one recording: "
            "classify its cases without --stride",
            path,
            1,
        )
    channels = [i for i, name in enumerate(header) if name != "t"]
    lines = [line for line, _ in rows]
    if "t" in header:
        _check_steps([cells[header.index("t")] for _, cells in rows], lines, path)
    names = [header[i] for i in channels]
    values = np.stack(
        [
            parse_values([cells[i] for i in channels], path, line, names=names)
            for line, cells in rows
        ]
    )
    fill_missing(values, missing, path, step_lines=lines)
    return values, tuple(header[i] for i in channels)
