"""Scores of a per-base tagger: base accuracy, interval F1 and the marked bases' F1.

accuracy     fraction of bases whose predicted label is the true one ("O" included)
interval_f1  F1 of the marked intervals (maximal runs of one label other than "O"): a
             predicted interval counts only when a true one has the same label, start
             and end (micro-averaged over labels, as CoNLL counts entities)
base_f1      F1 of the marked bases: a true positive is a base whose true label is not
             "O" and is predicted exactly; precision over the bases predicted marked,
             recall over the bases truly marked
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.dna_files import label_runs
from rnnkit.errors import RnnkitError
from rnnkit.metrics.entities import Score
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput


class TagCounts:
    """Running counts over sequences, for the scores in the module docstring."""

    def __init__(self) -> None:
        self.bases = self.right = 0
        self.gold_bases = self.predicted_bases = self.correct_bases = 0
        self.gold = self.predicted = self.correct = 0

    def add(self, gold: Tensor, predicted: Tensor) -> None:
        """One sequence's true and predicted label ids (T,)."""
        self.bases += gold.numel()
        self.right += int((gold == predicted).sum())
        self.gold_bases += int((gold != 0).sum())
        self.predicted_bases += int((predicted != 0).sum())
        self.correct_bases += int(((gold == predicted) & (gold != 0)).sum())
        true_runs, found = set(label_runs(gold)), set(label_runs(predicted))
        self.gold += len(true_runs)
        self.predicted += len(found)
        self.correct += len(true_runs & found)

    def scores(self) -> dict[str, Any]:
        intervals = Score.from_counts(self.gold, self.predicted, self.correct)
        bases = Score.from_counts(self.gold_bases, self.predicted_bases, self.correct_bases)
        return {
            "accuracy": self.right / self.bases if self.bases else 0.0,
            "interval_f1": intervals.f1,
            "interval_precision": intervals.precision,
            "interval_recall": intervals.recall,
            "base_f1": bases.f1,
            "base_precision": bases.precision,
            "base_recall": bases.recall,
            "intervals": {"gold": self.gold, "predicted": self.predicted, "correct": self.correct},
            "bases": self.bases,
        }


def tag_result(model: nn.Module, batches: Iterable[Batch]) -> dict[str, Any]:
    """Loss per base and the scores of the module docstring over the batches."""
    means = RunningMeans()
    counts = TagCounts()
    with torch.no_grad():
        for batch in batches:
            out: ModelOutput = model(batch)
            if out.loss is None or batch.targets is None:
                raise RnnkitError("the evaluation batches carry no per-base labels")
            means.add("loss", out.loss, out.count)
            predicted = out.logits.argmax(-1).cpu()  # (B, T)
            for b, n in enumerate(batch.lengths.tolist()):
                counts.add(batch.targets[b, :n].cpu(), predicted[b, :n])
    if not counts.bases:
        raise RnnkitError("the evaluation split yielded no batches")
    return {"loss": means.means()["loss"], **counts.scores()}


def evaluate_tagger(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """{"loss", "accuracy", "interval_f1", "base_f1"}: the dev evaluation of a tagger."""
    result = tag_result(model, batches)
    return {k: float(result[k]) for k in ("loss", "accuracy", "interval_f1", "base_f1")}
