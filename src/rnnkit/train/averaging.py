"""An exponential moving average of a model's weights (Polyak averaging).

SGD-like training leaves the weights jittering around a good region: from one epoch to the
next the dev score of a tagger can move by a point while the training loss barely changes.
The average of the recent weights sits nearer the middle of that region and usually scores
better than any single one of them. After every optimiser step, with n the number of updates
so far,

    d   = min(decay, (1 + n) / (10 + n))     short memory early on, when the weights move fast
    avg = avg + (1 - d) * (w - avg)          i.e. avg = d * avg + (1 - d) * w

Only parameters are averaged; buffers are the live model's. `TrainConfig.ema_decay` turns it on
in `rnnkit.train.fit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import CheckpointError


class WeightAverage:
    """The running average of `model`'s trainable parameters, and a way to swap it in."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.average = [p.detach().clone() for _, p in self.named]
        self.updates = 0

    def rate(self) -> float:
        """The weight (1 - d) that the next update gives the current parameters."""
        n = self.updates
        return 1.0 - min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current parameters (call after optimizer.step())."""
        rate = self.rate()
        for avg, (_, p) in zip(self.average, self.named, strict=True):
            avg.lerp_(p.detach(), rate)
        self.updates += 1

    @torch.no_grad()
    def _swap(self) -> None:
        for avg, (_, p) in zip(self.average, self.named, strict=True):
            held = p.detach().clone()
            p.copy_(avg)
            avg.copy_(held)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; afterwards its own again."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def copy_to_model(self) -> None:
        """Leave the averaged weights in the model (the end of training)."""
        with torch.no_grad():
            for avg, (_, p) in zip(self.average, self.named, strict=True):
                p.copy_(avg)

    def state_dict(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "average": {name: avg for avg, (name, _) in zip(self.average, self.named, strict=True)},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved: dict[str, Tensor] = state_dict["average"]
        names = [name for name, _ in self.named]
        if sorted(saved) != sorted(names):
            raise CheckpointError(
                "the saved weight average is over other parameters than this model's "
                f"({len(saved)} saved, {len(names)} here)"
            )
        with torch.no_grad():
            for avg, name in zip(self.average, names, strict=True):
                if saved[name].shape != avg.shape:
                    raise CheckpointError(
                        f"the saved weight average of {name} has shape "
                        f"{tuple(saved[name].shape)}, the model's {tuple(avg.shape)}"
                    )
                avg.copy_(saved[name])
        self.updates = int(state_dict["updates"])
