"""What `fit` calls besides its own work: user callbacks and a torch learning-rate scheduler.

    fit(model, batches, config=config,
        callbacks=[Printer()],                       # on_epoch_end / on_step_end, both optional
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1))

A callback is any object with one or both of

    on_step_end(step, loss)       step: optimiser steps so far (1 after the first); loss: the
                                  batch's per-step train loss as a float (read only when some
                                  callback has this hook, since reading it waits for the device)
    on_epoch_end(epoch, metrics)  epoch: completed epochs (1-based); metrics: the epoch's record
                                  as logged (train_loss, dev_<metric>s when evaluated, lr, ...)

Under torchrun every process calls its callbacks (the metrics are the same on every rank).

`lr_scheduler` takes the optimizer `fit` made and returns any `torch.optim.lr_scheduler`
scheduler; it then sets the learning rate instead of `TrainConfig.lr_schedule` (the warmup
and the built-in schedule are not applied). It is stepped once per epoch, after the epoch's
evaluation (`ReduceLROnPlateau` is given the dev value of `TrainConfig.metric`), except the
schedulers made to be stepped once per optimiser step (`STEP_SCHEDULERS`: OneCycleLR,
CyclicLR), which are. Its state is not saved in checkpoints: a resumed run continues from the
learning rate the optimizer saved and restarts the scheduler's count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.train.config import TrainConfig

STEP_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
"""Schedulers stepped after every optimiser step; all others after every epoch."""

LRSchedulerFactory = Callable[[torch.optim.Optimizer], Any]
"""optimizer -> a torch.optim.lr_scheduler scheduler (anything with step())."""


class Callback(Protocol):
    """Either hook may be left out; see the module docstring."""

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None: ...

    def on_step_end(self, step: int, loss: float) -> None: ...


class FitHooks:
    """The callbacks and the torch scheduler of one `fit` call."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig,
        callbacks: Sequence[object] = (),
        lr_scheduler: LRSchedulerFactory | None = None,
    ) -> None:
        for i, callback in enumerate(callbacks):
            if not (hasattr(callback, "on_epoch_end") or hasattr(callback, "on_step_end")):
                raise RnnkitError(
                    f"callbacks[{i}] ({type(callback).__name__}) has neither on_epoch_end "
                    "nor on_step_end"
                )
        self.optimizer = optimizer
        self.on_step = [c.on_step_end for c in callbacks if hasattr(c, "on_step_end")]
        self.on_epoch = [c.on_epoch_end for c in callbacks if hasattr(c, "on_epoch_end")]
        self.scheduler = None if lr_scheduler is None else lr_scheduler(optimizer)
        if self.scheduler is not None and not callable(getattr(self.scheduler, "step", None)):
            raise RnnkitError(
                "lr_scheduler must return a torch.optim.lr_scheduler scheduler (with step()), "
                f"got {type(self.scheduler).__name__}"
            )
        self.per_step = isinstance(self.scheduler, STEP_SCHEDULERS)
        self.metric = config.metric

    def lr(self, scheduled: float) -> float:
        """The learning rate of the next step: the torch scheduler's when there is one (it
        lives in the optimizer), else `scheduled`, the built-in schedule's."""
        if self.scheduler is None:
            return scheduled
        return float(self.optimizer.param_groups[0]["lr"])

    def step_end(self, step: int, loss: Tensor) -> None:
        if self.scheduler is not None and self.per_step:
            self.scheduler.step()
        if self.on_step:
            value = float(loss)
            for hook in self.on_step:
                hook(step, value)

    def epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        if self.scheduler is not None and not self.per_step:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                dev = metrics.get(f"dev_{self.metric}")
                if dev is not None:  # only epochs with an evaluation
                    self.scheduler.step(dev)
            else:
                self.scheduler.step()
        for hook in self.on_epoch:
            hook(epoch, dict(metrics))
