"""The optimiser and the learning rate of every step (warmup times the schedule)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.train.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (default), AdamW or SGD with momentum 0.9 over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RnnkitError("the model has no trainable parameters")
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    # PyTorch's fused Adam kernel (one pass over all parameters) is several times faster on
    # the CPU than its default loop, where every parameter is a floating tensor on a device
    # that has the kernel.
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)


class LRSchedule:
    """The learning rate of every step: warmup times the schedule.

    lr(step) = lr_schedule(...) * min(1, (step + 1) / warmup_steps)

    constant: config.lr.
    cosine:   min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2, p = progress through all epochs,
              per step when the epoch's batches have a len(), per epoch otherwise.
    plateau:  lr * plateau_factor^k, k = times the dev metric went plateau_patience + 1
              evaluations without improving; never below min_lr.
    Its state (the plateau's) is JSON-able and checkpointed.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.scale = 1.0
        self.best: float | None = None
        self.bad = 0

    def lr(self, step: int, epoch: int, fraction: float = 0.0) -> float:
        c = self.config
        if c.lr_schedule == "cosine":
            progress = min(1.0, (epoch + fraction) / max(c.epochs, 1))
            lr = c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        elif c.lr_schedule == "plateau":
            lr = max(c.min_lr, c.lr * self.scale)
        else:
            lr = c.lr
        if c.warmup_steps > 0:
            lr *= min(1.0, (step + 1) / c.warmup_steps)
        return lr

    def observe(self, value: float) -> None:
        """Feed one dev evaluation of config.metric (plateau schedule only)."""
        if self.config.lr_schedule != "plateau":
            return
        if improves(value, self.best, self.config.best_mode):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > self.config.plateau_patience:
            self.scale *= self.config.plateau_factor
            self.bad = 0

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "best": self.best, "bad": self.bad}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.scale = float(state_dict["scale"])
        self.best = None if state_dict["best"] is None else float(state_dict["best"])
        self.bad = int(state_dict["bad"])


def improves(value: float, best: float | None, mode: str) -> bool:
    """Whether `value` beats `best` ("min": lower is better, "max": higher); NaN never does."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best
