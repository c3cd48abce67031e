"""Classifying with a trained activity model: files of cases (one class per case), and long
recordings cut into the model's windows (a class per window and per step)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import make_batch
from rnnkit.data.timeseries import SeriesSet, per_step, read_series, read_stream, window_starts
from rnnkit.data.timeseries import windows as cut_windows
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.tasks.activity import load
from rnnkit.tasks.activity.config import ActivityDataConfig
from rnnkit.tasks.activity.pipeline import ActivityPipeline
from rnnkit.tasks.recipe import TrainedModel

BATCH = 256


@dataclass(frozen=True)
class CasePrediction:
    """One case's class: `where` it is (file:line, or file: case i), the most probable class
    and its probability, and every class's probability (in the model's class order)."""

    where: str
    label: str
    probability: float
    probabilities: list[float]


@dataclass(frozen=True)
class StreamPrediction:
    """A long recording's activities: the windows (first steps `starts`, `window` steps each)
    with their class probabilities (N, K), and each step's (T, K): the mean over the windows
    that cover it."""

    source: str
    classes: tuple[str, ...]
    window: int
    stride: int
    starts: list[int]
    window_probabilities: Tensor
    step_probabilities: Tensor

    def labels(self, probabilities: Tensor) -> list[tuple[str, float]]:
        """(most probable class, its probability) for each row of (N, K) probabilities."""
        best, index = probabilities.max(dim=-1)
        return [(self.classes[int(i)], float(p)) for p, i in zip(best, index, strict=True)]


class ActivityClassifier(TrainedModel[SequenceClassifier, ActivityPipeline, ActivityDataConfig]):
    """A trained activity model loaded once, ready for many files.

    >>> model = ActivityClassifier("runs/activity/best")  # doctest: +SKIP
    >>> model.classify_file("BasicMotions_TEST.ts")[0].label  # doctest: +SKIP
    'Standing'
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu") -> None:
        super().__init__(load(checkpoint), checkpoint, device)

    def probabilities(self, examples: Sequence[Tensor]) -> Tensor:
        """Normalised examples (T_i, C) -> class probabilities (N, K)."""
        out = []
        for start in range(0, len(examples), BATCH):
            batch = make_batch(list(examples[start : start + BATCH])).to(self.device)
            with torch.no_grad():
                p = self.model.probabilities(self.model(batch).logits).cpu()
            out.append(torch.stack([1 - p, p], dim=-1) if p.dim() == 1 else p)  # (B, K)
        return torch.cat(out)

    def classify(self, cases: SeriesSet) -> list[CasePrediction]:
        """One prediction per case: the mean of its windows' probabilities when the model was
        trained on windows and the case is longer than one, else the whole case's."""
        found = []
        for i, x in enumerate(self.pipeline.normalised(cases)):
            p = self.probabilities(self.pipeline.pieces(x)).mean(0)  # (K,)
            best = int(p.argmax())
            found.append(
                CasePrediction(
                    cases.where(i), self.pipeline.classes[best], float(p[best]), p.tolist()
                )
            )
        return found

    def classify_file(
        self, path: str | Path, missing: str = "error", format: str = "auto"
    ) -> list[CasePrediction]:
        """The cases of a .ts, .npz or .csv file (labels, if any, are not used)."""
        return self.classify(read_series(path, format, missing))

    def classify_stream(
        self, values: np.ndarray | Tensor, source: str, stride: int
    ) -> StreamPrediction:
        """A recording (T, C) cut into the model's windows `stride` steps apart (the last one
        aligned to the end)."""
        x = torch.as_tensor(values)
        self.pipeline.check_channels(x.shape[1], source)
        window = self.pipeline.window
        if len(x) < window:
            raise RnnkitError(
                f"{source}: {len(x)} steps, shorter than the model's window ({window} steps)"
            )
        if stride < 1:
            raise RnnkitError(f"--stride must be at least 1, got {stride}")
        pieces = cut_windows(self.pipeline.stats.apply(x), window, stride)  # (N, L, C)
        p = self.probabilities(list(pieces))  # (N, K)
        steps = per_step(p, len(x), window, stride)  # (T, K)
        starts = window_starts(len(x), window, stride)
        return StreamPrediction(source, self.pipeline.classes, window, stride, starts, p, steps)

    def classify_stream_file(
        self, path: str | Path, stride: int, missing: str = "error"
    ) -> StreamPrediction:
        """A recording from a .csv (one row a step) or .npz (x (T, C))."""
        values, _ = read_stream(path, missing)
        return self.classify_stream(values, str(path), stride)
