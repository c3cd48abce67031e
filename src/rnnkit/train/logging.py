"""Where training metrics go: a JSON-lines file, and TensorBoard when it is installed.

`metrics.jsonl` holds one JSON object per line, with a "kind":

    {"kind": "step",  "epoch": 1, "step": 50,  "train_loss": ..., "lr": ..., "grad_norm": ...,
     "tokens_per_s": ..., "seconds": ...}
    {"kind": "epoch", "epoch": 1, "step": 212, "train_loss": ..., "dev_loss": ..., ...}

Epochs are counted from 1 in records, steps are optimiser steps since the start of the run.
TensorBoard (`torch.utils.tensorboard`, which needs the `tensorboard` package) receives every
numeric field as the scalar "<kind>/<field>" at the record's step; without it that part is
silently skipped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"


class MetricsLogger:
    """Append metric records to `out_dir/metrics.jsonl` (and TensorBoard events in out_dir/tb).

    `out_dir=None` makes every method a no-op (non-zero ranks, runs without an output
    directory). Records are appended, never truncated: create the logger only once the run
    owns out_dir (`rnnkit.train.rundir`). `keep_until_step` (resuming) first drops the records
    a crashed run wrote after its last checkpoint, so the file reads as one uninterrupted run.
    """

    def __init__(
        self,
        out_dir: str | Path | None,
        tensorboard: bool = True,
        keep_until_step: int | None = None,
    ) -> None:
        self.path: Path | None = None
        self._tb: Any = None
        if out_dir is None:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / METRICS_FILE
        if keep_until_step is not None:
            _drop_after(self.path, keep_until_step)
        self.path.touch()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                return
            # purge_step hides older events from that step on: a fresh run's (0) or those a
            # crashed run wrote after its checkpoint (keep_until_step + 1)
            purge = 0 if keep_until_step is None else keep_until_step + 1
            self._tb = SummaryWriter(log_dir=str(out / "tb"), purge_step=purge)

    def log(self, record: Mapping[str, Any]) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(_line(record))
        if self._tb is not None:
            kind, step = record.get("kind", "record"), int(record.get("step", 0))
            for key, value in record.items():
                if key in ("kind", "step") or isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _drop_after(path: Path, step: int) -> None:
    """Remove the records after `step` (and torn lines), replacing the file atomically."""
    records = read_metrics(path)
    kept = [r for r in records if r.get("step", 0) <= step]
    if len(kept) == len(records) and (not path.is_file() or path.read_text().endswith("\n")):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(_line(r) for r in kept), encoding="utf-8")
    os.replace(tmp, path)


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record)) + "\n"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (a missing file has none; a torn last line is
    skipped, since a crash can cut the final write short)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
