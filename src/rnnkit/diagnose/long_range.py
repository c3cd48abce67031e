"""A long-range dependency with a controllable gap: the lecture's "The cat, which already ate
..., was full" / "France ... French", reduced to its skeleton.

Each sequence is `lead` noise tokens, one signal token (one of C classes), then `gap` noise
tokens; the label, read at the last step, is the signal token. The answer therefore sits
exactly `gap` steps before the end (k = 0 would be the last token itself):

    x = n n s n n n ... n        y = s,   s = x<T - k>,   T = lead + 1 + k

Noise and signal tokens come from disjoint alphabets, so nothing but memory is tested: the
network does not need to count, only to keep s in its state for k steps. The gradient that
teaches it to do so has to travel those k steps back (see `rnnkit.diagnose.gradients`), which
is what a simple RNN cannot sustain and what the GRU's and LSTM's gates are for.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.diagnose.gradients import CELL_TYPES, check_cells
from rnnkit.diagnose.jsonable import json_float
from rnnkit.errors import RnnkitError
from rnnkit.layers import RNN


@dataclass(frozen=True)
class LongRangeTask:
    """The data: C signal tokens (ids 0 .. C-1, also the labels) and N noise tokens (C .. C+N-1)."""

    # Signal tokens = classes C; chance accuracy is 1 / C.
    classes: int = 4
    # Noise tokens N that fill the rest of the sequence.
    noise_tokens: int = 4
    # Noise tokens before the signal, so that the signal is not simply the first step.
    lead: int = 2

    def __post_init__(self) -> None:
        if self.classes < 2 or self.noise_tokens < 1 or self.lead < 0:
            raise RnnkitError(
                "need classes >= 2, noise_tokens >= 1 and lead >= 0, got "
                f"classes={self.classes}, noise_tokens={self.noise_tokens}, lead={self.lead}"
            )

    @property
    def vocab_size(self) -> int:
        """V = C + N: the size of the one-hot inputs."""
        return self.classes + self.noise_tokens

    def length(self, gap: int) -> int:
        """T = lead + 1 + gap."""
        return self.lead + 1 + gap

    def batch(
        self, batch_size: int, gap: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Token ids x (B, T) and labels y (B,) with y == x[:, T - 1 - gap], the only signal."""
        T = self.length(gap)
        x = self.classes + torch.randint(
            0, self.noise_tokens, (batch_size, T), generator=generator
        )  # (B, T)
        y = torch.randint(0, self.classes, (batch_size,), generator=generator)  # (B,)
        x[:, T - 1 - gap] = y
        return x, y


class LastStepClassifier(nn.Module):
    """Many-to-one: one-hot x<t> -> RNN -> ŷ = W_ya a<T> + b_y, logits over the C classes.

    Shapes: tokens (B, T) -> logits (B, C).
    """

    def __init__(self, cell: str, vocab_size: int, hidden: int, classes: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = RNN(cell, vocab_size, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: Tensor) -> Tensor:
        x = F.one_hot(tokens, self.vocab_size).float()  # (B, T, V)
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, C)


@dataclass(frozen=True)
class LongRangeConfig:
    """Train every cell type at every gap for the same fixed budget and compare accuracy.

    The defaults run in a couple of minutes on two CPU cores; `LongRangeConfig.full()` is the
    benchmark's larger sweep.
    """

    cells: tuple[str, ...] = CELL_TYPES
    # The gaps k to train at, one fresh model per (cell, gap).
    gaps: tuple[int, ...] = (2, 5, 10, 20, 40)
    # Optimiser steps per model, each on a fresh batch (the data is unlimited).
    budget_steps: int = 300
    # Hidden units H.
    hidden_size: int = 32
    # Sequences per step.
    batch_size: int = 64
    # Adam's step size.
    lr: float = 3e-3
    # Global gradient-norm clipping during training, so that the comparison is about memory,
    # not about which cell survives an explosion (see `clipping_experiment` for that).
    clip_norm: float = 1.0
    # Held-out sequences the accuracy is measured on, per gap.
    eval_size: int = 1000
    # The accuracy at which a gap counts as learned.
    threshold: float = 0.9
    task: LongRangeTask = field(default_factory=LongRangeTask)
    seed: int = 0

    def __post_init__(self) -> None:
        check_cells(self.cells)
        if not self.gaps or any(k < 0 for k in self.gaps):
            raise RnnkitError(f"gaps must be non-negative integers, got {list(self.gaps)}")
        if min(self.budget_steps, self.hidden_size, self.batch_size, self.eval_size) < 1:
            raise RnnkitError(
                "budget_steps, hidden_size, batch_size and eval_size must be positive, got "
                f"{self.budget_steps}, {self.hidden_size}, {self.batch_size}, {self.eval_size}"
            )
        if not 0 < self.threshold <= 1:
            raise RnnkitError(f"threshold must lie in (0, 1], got {self.threshold}")

    @classmethod
    def full(cls) -> LongRangeConfig:
        """A longer sweep and budget (several minutes on two CPU cores)."""
        return cls(gaps=(2, 5, 10, 20, 40, 80), budget_steps=800, hidden_size=48)


@dataclass(frozen=True)
class LongRangeReport:
    config: LongRangeConfig
    # accuracy[cell][i]: held-out accuracy at gap config.gaps[i] after the budget.
    accuracy: dict[str, list[float]]
    # final_loss[cell][i]: mean training loss over the last 10% of the budget.
    final_loss: dict[str, list[float]]
    seconds: float = 0.0

    def largest_gap_learned(self, cell: str) -> int | None:
        """The largest gap whose accuracy reached `config.threshold` (None if none did).

        This is the largest one in the sweep, not the largest of an unbroken run from the
        smallest gap; the per-gap accuracies show whether the two differ.
        """
        learned = [
            k
            for k, acc in zip(self.config.gaps, self.accuracy[cell])
            if acc >= self.config.threshold
        ]
        return max(learned) if learned else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "chance": 1.0 / self.config.task.classes,
            "accuracy": self.accuracy,
            "final_loss": {c: [json_float(v) for v in vs] for c, vs in self.final_loss.items()},
            "largest_gap_learned": {c: self.largest_gap_learned(c) for c in self.accuracy},
            "seconds": self.seconds,
        }


def train_at_gap(cell: str, gap: int, config: LongRangeConfig) -> tuple[float, float]:
    """Train one fresh model on the task at `gap`; return (held-out accuracy, final loss).

    Parameters are drawn from `config.seed` and every cell sees the same stream of batches at
    a given gap; the caller's global random state is left as it was.
    """
    task = config.task
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = LastStepClassifier(cell, task.vocab_size, config.hidden_size, task.classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_data = torch.Generator().manual_seed(config.seed * 1_000_003 + 2 * gap)
    tail = max(1, config.budget_steps // 10)
    tail_losses = []
    model.train()
    for step in range(config.budget_steps):
        x, y = task.batch(config.batch_size, gap, train_data)  # (B, T), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        if step >= config.budget_steps - tail:
            tail_losses.append(loss.item())

    eval_data = torch.Generator().manual_seed(config.seed * 1_000_003 + 2 * gap + 1)
    x, y = task.batch(config.eval_size, gap, eval_data)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=-1) == y).float().mean().item()
    final_loss = sum(tail_losses) / len(tail_losses)
    return accuracy, final_loss if math.isfinite(final_loss) else math.nan


def long_range_experiment(config: LongRangeConfig | None = None) -> LongRangeReport:
    """Train each cell type at each gap for `config.budget_steps` steps; report accuracies."""
    config = config or LongRangeConfig()
    start = time.perf_counter()
    accuracy: dict[str, list[float]] = {}
    final_loss: dict[str, list[float]] = {}
    for cell in config.cells:
        runs = [train_at_gap(cell, gap, config) for gap in config.gaps]
        accuracy[cell] = [acc for acc, _ in runs]
        final_loss[cell] = [loss for _, loss in runs]
    return LongRangeReport(config, accuracy, final_loss, time.perf_counter() - start)
