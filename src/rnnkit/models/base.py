"""What every trainable rnnkit model returns, so that one training engine serves them all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import RnnkitError


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


def as_batch(
    batch: Batch | Tensor,
    lengths: Tensor | None = None,
    targets: Tensor | None = None,
    extras: Mapping[str, Tensor] | None = None,
) -> Batch:
    """What every model's forward reads: `batch` itself, or a Batch made from tensors.

    So that `model(batch)` and `model(inputs, lengths)` (as with torch.nn layers) are the same
    call: inputs (B, T) ids or (B, T, D) features, lengths (B,) int64 (default: every sequence
    runs to T), targets and extras as in `Batch`.
    """
    if isinstance(batch, Batch):
        if lengths is not None or targets is not None or extras is not None:
            raise RnnkitError(
                "model(batch) takes the lengths, targets and extras from the batch: "
                "pass a Batch alone, or tensors: model(inputs, lengths, targets)"
            )
        return batch
    if not isinstance(batch, Tensor) or batch.dim() < 2:
        got = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise RnnkitError(f"expected a Batch or inputs of shape (B, T) or (B, T, D), got {got}")
    B, T = batch.shape[0], batch.shape[1]
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.int64, device=batch.device)
    mask = mask_from_lengths(lengths, T)  # (B, T)
    return Batch(batch, lengths, mask, targets, dict(extras or {}))


class BatchModel(nn.Module):
    """The base of every rnnkit model: `model(batch)` and `model(inputs, lengths, targets,
    extras)` (as with torch.nn layers) are the same call. A model implements
    `forward_batch(batch) -> ModelOutput`; `forward` turns tensors into a Batch first."""

    def forward(
        self,
        batch: Batch | Tensor,
        lengths: Tensor | None = None,
        targets: Tensor | None = None,
        extras: Mapping[str, Tensor] | None = None,
    ) -> ModelOutput:
        """model(batch) or model(inputs, lengths, targets, extras): see `as_batch`."""
        return self.forward_batch(as_batch(batch, lengths, targets, extras))

    def forward_batch(self, batch: Batch) -> ModelOutput:
        raise NotImplementedError
