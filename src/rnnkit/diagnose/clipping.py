"""Exploding gradients, and global-norm clipping as their remedy.

The same training run twice, from the same parameters on the same batches: a ReLU RNN whose
W_aa has been scaled to singular values 2 (so ∂a<t+1>/∂a<t> = diag(g') W_aa grows the gradient
at every step) trained by plain gradient descent at a high learning rate. Without clipping the
first update is thousands of times too large and the loss becomes NaN within a few steps;
with clipping the gradient g is rescaled whenever its global L2 norm over all parameters
exceeds clip_norm,

    g <- g * clip_norm / ‖g‖     if ‖g‖ > clip_norm

which keeps each step's direction and bounds its size, and the run trains.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.diagnose.gradients import check_cells, scale_recurrent_weights
from rnnkit.diagnose.jsonable import json_floats
from rnnkit.diagnose.long_range import LastStepClassifier, LongRangeTask
from rnnkit.errors import RnnkitError


def global_grad_norm(parameters: Iterable[nn.Parameter]) -> float:
    """‖g‖₂ over the gradients of all `parameters` together (the norm clipping compares)."""
    norms = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0


@dataclass(frozen=True)
class ClippingConfig:
    """One deliberately unstable run, trained with and without clipping."""

    # The cell; ReLU (g' in {0, 1}) makes the explosion immediate once W_aa is scaled up.
    cell: str = "rnn_relu"
    # W_aa is multiplied by this after its orthogonal initialisation.
    gain: float = 2.0
    # Plain gradient descent (no momentum, no Adam: Adam would renormalise the step itself).
    lr: float = 0.05
    # Global-norm threshold of the clipped run.
    clip_norm: float = 1.0
    # Optimiser steps per run (the unclipped run stops early once its loss is not finite).
    steps: int = 200
    # The long-range task at this gap provides the batches (T = lead + 1 + gap).
    gap: int = 20
    hidden_size: int = 32
    batch_size: int = 64
    task: LongRangeTask = field(default_factory=LongRangeTask)
    seed: int = 0

    def __post_init__(self) -> None:
        check_cells((self.cell,))
        if not (self.gain > 0 and self.lr > 0 and self.clip_norm > 0):
            raise RnnkitError(
                f"gain, lr and clip_norm must be positive, got {self.gain}, {self.lr}, "
                f"{self.clip_norm}"
            )
        if min(self.steps, self.hidden_size, self.batch_size) < 1 or self.gap < 0:
            raise RnnkitError(
                "steps, hidden_size and batch_size must be positive and gap non-negative, got "
                f"{self.steps}, {self.hidden_size}, {self.batch_size}, {self.gap}"
            )


@dataclass(frozen=True)
class ClippingRun:
    """Per optimiser step: the loss, the gradient norm before clipping and after it."""

    clipped: bool
    loss: list[float]
    grad_norm: list[float]  # ‖g‖ as backpropagation produced it
    applied_norm: list[float]  # ‖g‖ of the update actually applied (== grad_norm unclipped)
    # The first step whose loss or gradient was not finite; training stopped there.
    diverged_at: int | None

    def final_loss(self) -> float:
        """Mean loss over the last 10% of the steps; NaN if the run diverged."""
        if self.diverged_at is not None:
            return math.nan
        tail = self.loss[-max(1, len(self.loss) // 10) :]
        return sum(tail) / len(tail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clipped": self.clipped,
            "loss": json_floats(self.loss),
            "grad_norm": json_floats(self.grad_norm),
            "applied_norm": json_floats(self.applied_norm),
            "diverged_at": self.diverged_at,
            "max_grad_norm": _finite_max(self.grad_norm),
            "max_applied_norm": _finite_max(self.applied_norm),
            "final_loss": json_floats([self.final_loss()])[0],
        }


def _finite_max(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


@dataclass(frozen=True)
class ClippingReport:
    config: ClippingConfig
    unclipped: ClippingRun
    clipped: ClippingRun
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "unclipped": self.unclipped.to_dict(),
            "clipped": self.clipped.to_dict(),
            "seconds": self.seconds,
        }


def train_run(config: ClippingConfig, clip: bool) -> ClippingRun:
    """One run of `config`, with (`clip`) or without global-norm clipping."""
    task = config.task
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = LastStepClassifier(config.cell, task.vocab_size, config.hidden_size, task.classes)
    scale_recurrent_weights(model.rnn, config.gain)
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=config.lr)
    data = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    grad_norms: list[float] = []
    applied: list[float] = []
    diverged_at = None
    for step in range(config.steps):
        x, y = task.batch(config.batch_size, config.gap, data)  # (B, T), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        norm = global_grad_norm(params)
        if clip:
            nn.utils.clip_grad_norm_(params, config.clip_norm)
        losses.append(loss.item())
        grad_norms.append(norm)
        applied.append(global_grad_norm(params))
        if not (math.isfinite(losses[-1]) and math.isfinite(norm)):
            diverged_at = step
            break
        optimizer.step()
    return ClippingRun(clip, losses, grad_norms, applied, diverged_at)


def clipping_experiment(config: ClippingConfig | None = None) -> ClippingReport:
    """Run `config` without and with clipping, from the same parameters on the same batches."""
    config = config or ClippingConfig()
    start = time.perf_counter()
    unclipped = train_run(config, clip=False)
    clipped = train_run(config, clip=True)
    return ClippingReport(config, unclipped, clipped, time.perf_counter() - start)
