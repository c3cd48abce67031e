"""What a training run gives back: `FitResult`, and the default evaluation of a dev split."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput


@dataclass
class FitResult:
    """What `fit` returns. The model itself is trained in place (best weights when restored)."""

    history: list[dict[str, Any]]  # one record per epoch, as in metrics.jsonl
    best_metric: float | None  # best value of config.metric on dev (None without dev)
    best_epoch: int | None  # 1-based epoch of best_metric
    epochs_completed: int
    global_step: int  # optimiser steps over the whole run
    stopped_early: bool
    final_metrics: dict[str, float]  # dev metrics of the last evaluation ({} without dev)
    out_dir: Path | None


def evaluate_loss(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """The default evaluation: {"loss": count-weighted mean loss over all batches}, i.e. the
    per-step loss over every real step of the split."""
    means = RunningMeans()
    for batch in batches:
        out: ModelOutput = model(batch)
        if out.loss is None:
            raise RnnkitError("the model returned no loss on a dev batch: dev batches need targets")
        means.add("loss", out.loss, out.count)
    if not means.names():
        raise RnnkitError("the dev split yielded no batches")
    return means.means()
