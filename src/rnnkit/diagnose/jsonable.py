"""Numbers as strict JSON: NaN and infinities (a diverged run, an underflowed gradient) become
null, since JSON has no literal for them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def json_float(value: float) -> float | None:
    """`value`, or None when it is NaN or infinite."""
    return value if math.isfinite(value) else None


def json_floats(values: Iterable[float]) -> list[float | None]:
    return [json_float(v) for v in values]


def write_json(data: Any, path: str | Path) -> Path:
    """Write `data` as indented strict JSON (a NaN that slipped through raises, not corrupts)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path
