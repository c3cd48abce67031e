"""The JSB Chorales benchmark files of Boulanger-Lewandowski et al. (2012), as JSON.

Each file is a list of chorales -> list of steps -> sorted list of MIDI pitches (see
`rnnkit.data.piano_roll`), either one split per file or the combined object
{"train": ..., "valid": ..., "test": ...}. `read_jsb` reads it through
`rnnkit.data.text.read_text` (so a gzipped file reads too) and validates every pitch.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.data.piano_roll import Steps
from rnnkit.data.text import read_text
from rnnkit.errors import DataError


def read_jsb(
    path: str | Path, split: str | None = None, *, low: int = 0, high: int = 127
) -> list[Steps]:
    """Read JSB Chorales JSON: list of chorales -> list of steps -> list of MIDI pitches.

    path:  a file holding one split as a JSON array (train.json, valid.json), or the original
           combined file, a JSON object {"train": [...], "valid": [...], "test": [...]}, in
           which case `split` names the part to return.
    low, high: the accepted pitch range, inclusive. The default 0..127 accepts any MIDI
           pitch; pass low=21, high=108 to insist on the 88-key roll that `to_multihot` builds.

    Each step comes back sorted (pitch order carries no meaning; the benchmark files are
    sorted already). The file may be gzip-compressed. Raises DataError naming the file (and
    line) when it is missing or not UTF-8, and naming the file and the 0-based chorale and
    step for: invalid JSON (with its line), wrong nesting, a non-integer pitch, a pitch outside
    low..high, a duplicated pitch within a step, an empty chorale (zero steps).
    """
    path = Path(path)
    text = read_text(path)  # gzip undone; DataError naming file and line for bad UTF-8
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"not valid JSON: {e.msg} (column {e.colno})", path=path, line=e.lineno
        ) from None

    where = ""
    if isinstance(data, dict):
        if split is None:
            raise DataError(
                f"holds a JSON object with keys {sorted(data)}; pass split= one of them "
                "(e.g. read_jsb(path, split='train'))",
                path=path,
            )
        if split not in data:
            raise DataError(f"has no split {split!r}; its keys are {sorted(data)}", path=path)
        data = data[split]
        where = f"split {split!r}, "
    elif split is not None:
        raise DataError(
            f"holds a single split (a JSON array), not an object with a {split!r} key; "
            "call read_jsb without split=",
            path=path,
        )
    return _validate_chorales(data, path, where, low, high)


def _validate_chorales(data: object, path: Path, where: str, low: int, high: int) -> list[Steps]:
    if not isinstance(data, list):
        raise DataError(
            f"{where}expected a JSON array of chorales, got {type(data).__name__}", path=path
        )
    chorales: list[Steps] = []
    for i, chorale in enumerate(data):
        if not isinstance(chorale, list):
            raise DataError(
                f"{where}chorale {i} (0-based): expected an array of time steps, "
                f"got {type(chorale).__name__}",
                path=path,
            )
        if not chorale:
            raise DataError(f"{where}chorale {i} (0-based): has no time steps", path=path)
        steps: Steps = []
        for t, step in enumerate(chorale):
            at = f"{where}chorale {i}, step {t} (0-based)"
            if not isinstance(step, list):
                raise DataError(
                    f"{at}: expected an array of MIDI pitches, got {type(step).__name__} "
                    f"{_short(step)}",
                    path=path,
                )
            for p in step:
                # bool is an int subclass in Python; true/false is never a pitch.
                if not isinstance(p, int) or isinstance(p, bool):
                    raise DataError(
                        f"{at}: expected integer MIDI pitches, got {_short(p)} "
                        f"({type(p).__name__})",
                        path=path,
                    )
                if not low <= p <= high:
                    raise DataError(f"{at}: pitch {p} is outside {low}..{high}", path=path)
            if len(set(step)) != len(step):
                raise DataError(f"{at}: a pitch appears twice in {step}", path=path)
            steps.append(sorted(step))
        chorales.append(steps)
    return chorales


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["read_jsb"]
