"""Masked losses, normalised per real time step.

The lecture defines the loss of a sequence as the loss at each time step summed over time:

    L(ŷ, y) = sum_t L<t>(ŷ<t>, y<t>)

rnnkit sums L<t> over every real (unpadded) time step of every sequence in the batch and
divides by the number of those steps N = sum_b T_b:

    loss = (1 / N) * sum_b sum_{t < T_b} L<t>(ŷ_b<t>, y_b<t>)

so that a batch of long sequences and a batch of short ones weigh the same *per step*, and the
learning rate does not have to change with the sequence length. Each function returns
`(loss, count)` with count = N (an int64 scalar tensor), which is what `ModelOutput` carries:
the engine weights batches by it when it averages over an epoch or across processes, which
recovers the exact per-step mean of the whole split.

Padded positions never contribute: their targets are replaced by a valid dummy before the
loss is computed and their per-step losses are zeroed with `torch.where`, so any padding
value in `targets` (the `-100` of `rnnkit.data.batching`, or anything else) and any finite
value in the padded logits leave the loss and its gradient unchanged.

All losses are computed from logits with the numerically stable log-sum-exp forms
(`F.cross_entropy`, `F.binary_cross_entropy_with_logits`), never from probabilities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sequence_cross_entropy(logits: Tensor, targets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Softmax cross-entropy per time step, summed over real steps, divided by their number.

    L<t> = -log softmax(z<t>)[y<t>]

    logits: (B, T, C) scores z<t>;  targets: (B, T) class ids y<t>;  mask: (B, T) bool.
    Returns (loss, count): loss a scalar, count = number of True entries in mask (int64).
    A batch with no real steps has loss 0.
    """
    B, T, C = _check_sequence("sequence_cross_entropy", logits, targets, mask, per_step_dims=0)
    safe_targets = targets.masked_fill(~mask, 0)  # (B, T) padded targets -> class 0
    per_step = F.cross_entropy(
        logits.reshape(B * T, C), safe_targets.reshape(B * T), reduction="none"
    ).view(B, T)  # (B, T)
    return _masked_mean(per_step, mask)


def sequence_binary_cross_entropy(
    logits: Tensor, targets: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor]:
    """Sigmoid cross-entropy of D independent outputs per time step (e.g. piano-roll frames).

    L<t> = -sum_d [ y_d<t> log σ(z_d<t>) + (1 - y_d<t>) log(1 - σ(z_d<t>)) ]

    The per-step loss is the SUM over the D outputs, so for music it is the negative
    log-likelihood of the whole frame at step t; it is then averaged over real steps.

    logits: (B, T, D);  targets: (B, T, D) in [0, 1];  mask: (B, T) bool.
    Returns (loss, count) with count = number of real steps (not steps times D).
    """
    _check_sequence("sequence_binary_cross_entropy", logits, targets, mask, per_step_dims=1)
    safe_targets = torch.where(mask[..., None], targets, torch.zeros_like(targets))  # (B, T, D)
    per_output = F.binary_cross_entropy_with_logits(
        logits, safe_targets.to(logits.dtype), reduction="none"
    )  # (B, T, D)
    return _masked_mean(per_output.sum(dim=-1), mask)  # per step: (B, T)


def classification_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """One loss per sequence (many-to-one), averaged over the batch; count = B.

    logits (B, C), targets (B,) class ids:         softmax cross-entropy.
    logits (B,),   targets (B,) in [0, 1]:          sigmoid (binary) cross-entropy.
    logits (B, C), targets (B, C) in [0, 1] floats: multi-label, sigmoid cross-entropy summed
                                                    over the C labels of each sequence.
    """
    B = logits.shape[0]
    if logits.dim() == 2 and targets.dim() == 1:
        if targets.shape[0] != B:
            raise ValueError(_shape_msg("classification_loss", "targets", (B,), targets))
        per_sequence = F.cross_entropy(logits, targets, reduction="none")  # (B,)
    elif logits.dim() == 1 and targets.shape == logits.shape:
        per_sequence = F.binary_cross_entropy_with_logits(
            logits, targets.to(logits.dtype), reduction="none"
        )  # (B,)
    elif logits.dim() == 2 and targets.shape == logits.shape and targets.is_floating_point():
        per_sequence = F.binary_cross_entropy_with_logits(
            logits, targets.to(logits.dtype), reduction="none"
        ).sum(dim=-1)  # (B, C) -> (B,)
    else:
        raise ValueError(
            "classification_loss: expected logits (B, C) with targets (B,) class ids, logits (B,) "
            f"with targets (B,), or logits (B, C) with float targets (B, C); got logits "
            f"{tuple(logits.shape)} and targets {tuple(targets.shape)} ({targets.dtype})"
        )
    count = torch.tensor(B, dtype=torch.int64, device=logits.device)
    return per_sequence.mean(), count


def _masked_mean(per_step: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T) per-step losses -> (sum over mask / number of True in mask, that number)."""
    count = mask.sum()  # int64 scalar
    total = torch.where(mask, per_step, torch.zeros_like(per_step)).sum()
    return total / count.clamp(min=1), count


def _check_sequence(
    name: str, logits: Tensor, targets: Tensor, mask: Tensor, per_step_dims: int
) -> tuple[int, int, int]:
    if logits.dim() != 3:
        raise ValueError(f"{name}: expected logits (B, T, C), got shape {tuple(logits.shape)}")
    B, T, C = logits.shape
    expected_targets = (B, T) if per_step_dims == 0 else (B, T, C)
    if tuple(targets.shape) != expected_targets:
        raise ValueError(_shape_msg(name, "targets", expected_targets, targets))
    if tuple(mask.shape) != (B, T) or mask.dtype != torch.bool:
        raise ValueError(
            f"{name}: expected a bool mask of shape {(B, T)}, got {tuple(mask.shape)} {mask.dtype}"
        )
    return B, T, C


def _shape_msg(name: str, what: str, expected: tuple[int, ...], got: Tensor) -> str:
    return f"{name}: expected {what} of shape {expected}, got {tuple(got.shape)}"
