"""Scoring a tagger: decoding its predictions and the entity-level F1 of labelled batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.metrics.entities import EntityScores, entity_scores
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.crf_tagger import CRFTagger


def predict_ids(model: nn.Module, batch: Batch, scores: Tensor | None = None) -> list[list[int]]:
    """The predicted tag ids of each sentence of a batch: Viterbi for the CRF tagger, the
    per-step argmax for the softmax tagger. `scores`: the model's logits if already computed."""
    if isinstance(model, CRFTagger):
        emissions = model.emissions(batch) if scores is None else scores  # (B, T, C)
        return model.crf.decode(emissions, batch.mask)
    logits = model(batch).logits if scores is None else scores  # (B, T, C)
    best = logits.argmax(dim=-1).tolist()  # (B, T)
    return [row[:n] for row, n in zip(best, batch.lengths.tolist())]


def evaluator(tags: Vocabulary) -> Any:
    """The dev evaluation for the training engine: {"loss", "precision", "recall", "f1",
    "accuracy"}, entity-level and micro-averaged (accuracy: per token)."""

    def evaluate_tagger(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
        scores, loss = score_batches(model, batches, tags)
        o = scores.overall
        return {
            "loss": loss,
            "precision": o.precision,
            "recall": o.recall,
            "f1": o.f1,
            "accuracy": scores.accuracy,
        }

    return evaluate_tagger


def score_batches(
    model: nn.Module, batches: Iterable[Batch], tags: Vocabulary
) -> tuple[EntityScores, float]:
    """Entity scores and the mean loss per token of labelled batches."""
    means = RunningMeans()
    gold: list[list[str]] = []
    predicted: list[list[str]] = []
    for batch in batches:
        out = model(batch)
        assert out.loss is not None and batch.targets is not None
        means.add("loss", out.loss, out.count)
        for row, n, ids in zip(
            batch.targets.tolist(), batch.lengths.tolist(), predict_ids(model, batch, out.logits)
        ):
            gold.append([tags.token(i) for i in row[:n]])
            predicted.append([tags.token(i) for i in ids])
    if not gold:
        raise RnnkitError("the evaluation split yielded no batches")
    return entity_scores(gold, predicted), means.means()["loss"]
