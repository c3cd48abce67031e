"""One optimisation step on one batch:

ModelOutput(logits, loss, count) = net(batch)       loss: per-step mean over real steps
loss.backward()                                      backpropagation through time
g = ||grad||_2 over all parameters                   recorded before clipping
grad <- grad * min(1, clip_norm / g)                 global-norm clipping
theta <- optimizer(theta, grad, lr)                  lr from the schedule, set here
avg <- avg + (1 - d) * (theta - avg)                 only with a weight average

With `autocast_dtype` (precision "bf16") the forward pass runs under torch.autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.train.averaging import WeightAverage
from rnnkit.train.checkpoint import unwrap_model
from rnnkit.train.precision import autocast


@dataclass(frozen=True)
class StepOutput:
    """What one step measured, still on the device (reading it would synchronise)."""

    loss: Tensor  # () the batch's per-step mean loss, detached
    count: Tensor  # () int64, the real steps the loss averages over
    grad_norm: Tensor  # () the global gradient norm before clipping


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    lr: float,
    clip_norm: float | None,
    average: WeightAverage | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> StepOutput:
    """Forward, backward, clip, update (and the weight average), with learning rate `lr`.

    net:       the model, or DistributedDataParallel(model); `net(batch) -> ModelOutput`.
    batch:     on the model's device, with targets.
    clip_norm: the largest global gradient norm; None does not clip.
    autocast_dtype: run the forward pass under torch.autocast in this dtype; None: float32.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast(batch.inputs.device, autocast_dtype):
        out: ModelOutput = net(batch)
    if out.loss is None:
        raise RnnkitError("the model returned no loss: training batches need targets")
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    max_norm = clip_norm if clip_norm is not None else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(unwrap_model(net).parameters(), max_norm)
    optimizer.step()
    if average is not None:
        average.update()
    return StepOutput(out.loss.detach(), out.count, grad_norm)
