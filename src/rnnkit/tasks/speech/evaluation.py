"""The speech task's dev metrics: accuracy of the digit classifier; digit error rate of the CTC
transcriber (edits between the decoded and the spoken digits, over the spoken digits)."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.metrics.error_rate import edit_distance
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.ctc import ctc_greedy, ctc_prefix_beam
from rnnkit.models.ctc_recognizer import CTCRecognizer


def evaluate_digits(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """{"loss" (mean per recording), "accuracy"}."""
    assert isinstance(model, SequenceClassifier)
    means = RunningMeans()
    for batch in batches:
        out: ModelOutput = model(batch)
        assert out.loss is not None and batch.targets is not None
        means.add("loss", out.loss, out.count)
        correct = (model.predict(out.logits) == batch.targets).double()
        means.add("accuracy", correct.mean(), batch.size)
    if not means.names():
        raise RnnkitError("the evaluation split yielded no batches")
    return means.means()


def evaluate_ctc(
    model: nn.Module, batches: Iterable[Batch], beam: int | None = None
) -> dict[str, float]:
    """{"loss" (CTC, per spoken digit), "error_rate" (greedy decoding), "string_accuracy"}, and
    with `beam`, "error_rate_beam" and "string_accuracy_beam" of prefix beam search."""
    assert isinstance(model, CTCRecognizer)
    means = RunningMeans()
    edits = {"": 0, "_beam": 0}
    exact = {"": 0, "_beam": 0}
    digits = strings = 0
    for batch in batches:
        out: ModelOutput = model(batch)
        assert out.loss is not None and batch.targets is not None
        means.add("loss", out.loss, out.count)
        frames = model.output_lengths(batch.lengths)
        target_lengths = batch.extras["target_lengths"].tolist()
        refs = [t[:n].tolist() for t, n in zip(batch.targets, target_lengths, strict=True)]
        decoders = {"": ctc_greedy(out.logits, frames)}
        if beam is not None:
            decoders["_beam"] = ctc_prefix_beam(out.logits, frames, beam)
        for name, found in decoders.items():
            for ref, hyp in zip(refs, found, strict=True):
                distance = edit_distance(ref, hyp.labels)
                edits[name] += distance
                exact[name] += distance == 0
        digits += sum(target_lengths)
        strings += len(refs)
    if not strings:
        raise RnnkitError("the evaluation split yielded no batches")
    metrics = {"loss": means.means()["loss"]}
    for name in ("", "_beam") if beam is not None else ("",):
        metrics[f"error_rate{name}"] = edits[name] / digits
        metrics[f"string_accuracy{name}"] = exact[name] / strings
    return metrics
