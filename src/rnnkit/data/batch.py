"""The one batch type every model and the training engine share."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass
class Batch:
    """A padded batch of variable-length sequences, batch-first.

    Shape alphabet: B batch, T longest length in the batch, D features, C classes.

    inputs:  (B, T) int64 token ids, or (B, T, D) float features (piano-roll frames, audio).
    lengths: (B,) int64, each sequence's real length (1 <= length <= T).
    mask:    (B, T) bool, True on real steps, False on padding.
    targets: whatever the task predicts: (B, T) ids per step, (B, T, D) frames, (B,) labels.
    extras:  task-specific tensors that travel with the batch (e.g. character ids for NER).
    """

    inputs: Tensor
    lengths: Tensor
    mask: Tensor
    targets: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def num_steps(self) -> int:
        """Number of real (unpadded) time steps in the batch."""
        return int(self.lengths.sum())

    def to(self, device: torch.device | str) -> Batch:
        return replace(
            self,
            inputs=self.inputs.to(device),
            lengths=self.lengths.to(device),
            mask=self.mask.to(device),
            targets=None if self.targets is None else self.targets.to(device),
            extras={k: v.to(device) for k, v in self.extras.items()},
        )


def mask_from_lengths(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """(B,) lengths -> (B, T) bool mask, True where t < length."""
    T = int(lengths.max()) if max_len is None else max_len
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)
