"""Labelled sequences -> one class each: the batching and the scores every many-to-one recipe
shares (DNA windows, motion recordings, video clips), written once.

    batches = class_batches(examples, labels, batch_size=32, seed=0, shuffle=True)
    fit(model, batches, dev, config, evaluate=evaluate_classifier)
    classification_result(model, dev, names)   # what `rnnkit evaluate TASK` prints

An example is a (T_i, D) float tensor of frames or a (T_i,) int64 tensor of token ids; the
model is a `rnnkit.models.classifier.SequenceClassifier` (or anything with its `predict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.sequences import epoch_batches
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import class_report, confusion_matrix
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput

Augment = Callable[[Tensor, torch.Generator], Tensor]
"""augment(example, generator) -> the example as it is seen this epoch (e.g. reverse
complemented, jittered); the generator is seeded from (seed, epoch, example index)."""

__all__ = ["Augment", "class_batches", "classification_result", "evaluate_classifier"]


def class_batches(
    examples: Sequence[Tensor],
    labels: Sequence[int],
    batch_size: int,
    seed: int,
    shuffle: bool,
    rank: int = 0,
    world_size: int = 1,
    augment: Augment | None = None,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: the examples bucketed by length, shuffled per epoch from `seed` when
    `shuffle`, this rank's share (`rnnkit.data.sequences.epoch_batches`); targets (B,) class
    ids. With `augment`, each example is passed through it, reproducibly from (seed, epoch,
    index)."""
    if len(examples) != len(labels):
        raise RnnkitError(f"got {len(labels)} labels for {len(examples)} examples")
    if not examples:
        raise RnnkitError("no examples to batch")
    pairs = [(x, torch.tensor(y, dtype=torch.long)) for x, y in zip(examples, labels)]

    def seen(epoch: int, i: int, pair: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        assert augment is not None
        generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + i)
        return augment(pair[0], generator), pair[1]

    transform = None if augment is None else seen
    return epoch_batches(pairs, batch_size, seed, shuffle, rank, world_size, transform)


def _scores(model: nn.Module, batches: Iterable[Batch]) -> tuple[float, Tensor, Tensor]:
    """(mean loss per example, targets (N,), predictions (N,)) over the batches."""
    means = RunningMeans()
    targets: list[Tensor] = []
    predictions: list[Tensor] = []
    predict = cast(Callable[[Tensor], Tensor], model.predict)  # a SequenceClassifier's
    with torch.no_grad():
        for batch in batches:
            out: ModelOutput = model(batch)
            if out.loss is None or batch.targets is None:
                raise RnnkitError("the evaluation batches carry no targets")
            means.add("loss", out.loss, out.count)
            targets.append(batch.targets.cpu())
            predictions.append(predict(out.logits).cpu())
    if not targets:
        raise RnnkitError("the evaluation split yielded no batches")
    return means.means()["loss"], torch.cat(targets), torch.cat(predictions)


def _num_classes(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "num_classes", 2))


def evaluate_classifier(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """{"loss" (mean per example), "accuracy", "macro_f1"}: a recipe's dev evaluation."""
    loss, targets, predictions = _scores(model, batches)
    classes = _num_classes(model)
    names = [str(c) for c in range(classes)]
    report = class_report(confusion_matrix(targets, predictions, classes), names)
    return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def classification_result(
    model: nn.Module, batches: Iterable[Batch], names: Sequence[str]
) -> dict[str, Any]:
    """What `rnnkit evaluate` reports for a many-to-one model: loss, accuracy, macro F1, each
    class's precision, recall, F1 and support (by name), and the confusion matrix
    (rows = true class, columns = predicted, in the order of `names`) as lists."""
    loss, targets, predictions = _scores(model, batches)
    confusion = confusion_matrix(targets, predictions, len(names))
    report = class_report(confusion, names)
    return {
        "loss": loss,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "examples": int(targets.numel()),
        "classes": report["classes"],
        "confusion": confusion.tolist(),
    }
