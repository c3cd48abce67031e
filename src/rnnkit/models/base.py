"""What every trainable rnnkit model returns, so that one training engine serves them all."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class ModelOutput(NamedTuple):
    """The result of `model(batch)`.

    logits: the model's raw scores, shape depends on the architecture:
            (B, T, C) per-step classes, (B, T, D) per-step frames, (B, C) or (B,) per sequence.
    loss:   scalar, the per-step losses summed over every real (unpadded) time step of the
            batch and divided by `count`; None when the batch carries no targets.
    count:  scalar int64 tensor, the number of terms the loss was averaged over (real time
            steps for sequence outputs, sequences for many-to-one). The engine weights
            batches by it when it averages over an epoch or across processes.
    """

    logits: Tensor
    loss: Tensor | None
    count: Tensor  # type: ignore[assignment]  # shadows tuple.count, deliberately
