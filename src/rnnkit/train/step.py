"""One optimisation step on a group of batches (one batch unless `TrainConfig.accumulate`):

ModelOutput(logits, loss_i, count_i) = net(batch_i)  loss: per-step mean over real steps
g = sum_i count_i * grad(loss_i) / sum_i count_i     backpropagation through time, per batch
n = ||g||_2 over all parameters                      recorded before clipping
g <- g * min(1, clip_norm / n)                       global-norm clipping
theta <- optimizer(theta, g, lr)                     lr from the schedule, set here
avg <- avg + (1 - d) * (theta - avg)                 only with a weight average

The accumulated gradient g of N batches is the gradient of one batch holding all their
examples when the loss is a mean over real steps. It is kept as the running count-weighted
mean: before batch i's backward pass the gradient so far is scaled by C_{i-1} / C_i and batch
i's loss by count_i / C_i (C_i = count_1 + ... + count_i), so one batch is exactly the plain
step and no count is read on the host. Under DistributedDataParallel every backward pass but
the group's last runs under `no_sync`; the last one averages the accumulated gradient over
the ranks.

With `autocast_dtype` (precision "bf16" or "fp16") the forward passes run under
torch.autocast. With a `scaler` (fp16, `rnnkit.train.precision`) each backward pass starts
from the scaled loss S * loss, the gradient is unscaled before it is measured and clipped, and
a step whose gradient is not finite is skipped (no update, no weight average) and S lowered.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.train.averaging import WeightAverage
from rnnkit.train.checkpoint import unwrap_model
from rnnkit.train.precision import autocast


@dataclass(frozen=True)
class StepOutput:
    """What one batch's part of a step measured, still on the device (reading it would
    synchronise)."""

    loss: Tensor  # () the batch's per-step mean loss, detached
    count: Tensor  # () int64, the real steps the loss averages over
    grad_norm: Tensor  # () the global norm of the step's gradient before clipping


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    lr: float,
    clip_norm: float | None,
    average: WeightAverage | None = None,
    autocast_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> StepOutput:
    """Forward, backward, clip, update (and the weight average) on one batch, with learning
    rate `lr`: `accumulated_step` with a group of one batch."""
    options = (average, autocast_dtype, scaler)
    return accumulated_step(net, optimizer, [batch], lr, clip_norm, *options)[0]


def accumulated_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[Batch],
    lr: float,
    clip_norm: float | None,
    average: WeightAverage | None = None,
    autocast_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> list[StepOutput]:
    """One optimiser step on the count-weighted mean gradient of `batches` (module docstring).

    net:       the model, or DistributedDataParallel(model); `net(batch) -> ModelOutput`.
    batches:   one or more, on the model's device, with targets.
    clip_norm: the largest global gradient norm; None does not clip.
    autocast_dtype: run the forward passes under torch.autocast in this dtype; None: float32.
    scaler:    fp16's loss scaler (module docstring); None: no scaling.
    Returns one StepOutput per batch (its own loss and count, the step's gradient norm).
    """
    if not batches:
        raise RnnkitError("an optimiser step needs at least one batch")
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    params = [p for p in unwrap_model(net).parameters() if p.requires_grad]
    seen: Tensor | None = None  # C_{i-1}, the real steps behind the gradient so far
    losses: list[tuple[Tensor, Tensor]] = []
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        ddp = getattr(net, "_orig_mod", net)  # (torch.compile's wrapper holds the module)
        sync = ddp.no_sync() if isinstance(ddp, DistributedDataParallel) and not last else None
        with sync if sync is not None else contextlib.nullcontext():
            with autocast(batch.inputs.device, autocast_dtype):
                out: ModelOutput = net(batch)
            if out.loss is None:
                raise RnnkitError("the model returned no loss: training batches need targets")
            loss = out.loss
            if seen is None:
                seen = out.count
            else:
                total = seen + out.count
                scale = _ratio(seen, total)
                for p in params:
                    if p.grad is not None:
                        p.grad.mul_(scale.to(p.grad.dtype))
                loss = loss * _ratio(out.count, total).to(loss.dtype)
                seen = total
            (scaler.scale(loss) if scaler is not None else loss).backward()
        losses.append((out.loss.detach(), out.count))
    if scaler is not None:
        scaler.unscale_(optimizer)
    max_norm = clip_norm if clip_norm is not None else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    _update(optimizer, average, scaler)
    return [StepOutput(loss, count, grad_norm) for loss, count in losses]


def _update(
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None,
    scaler: torch.amp.GradScaler | None,
) -> None:
    """The optimiser step and the weight average's, both skipped when fp16's scaler finds the
    gradient not finite."""
    if scaler is None:
        optimizer.step()
        if average is not None:
            average.update()
        return
    # a skipped step lowers the scale, and only a skip does; reading it synchronises with the
    # device, so only a run with a weight average (which must skip too) reads it
    before = scaler.get_scale() if average is not None else 0.0
    scaler.step(optimizer)  # skipped when the gradient is not finite
    scaler.update()
    if average is not None and scaler.get_scale() >= before:
        average.update()


def _ratio(part: Tensor, total: Tensor) -> Tensor:
    """() part / total in float64 (float32 on MPS, which has no float64); 0 when total is 0."""
    dtype = torch.float32 if total.device.type == "mps" else torch.float64
    return part.to(dtype) / total.clamp(min=1).to(dtype)


def group_loss(outputs: Sequence[StepOutput]) -> Tensor:
    """() the per-step loss over a step's batches: sum_i loss_i count_i / sum_i count_i."""
    if len(outputs) == 1:
        return outputs[0].loss
    counts = torch.stack([o.count for o in outputs])
    losses = torch.stack([o.loss for o in outputs])
    return (losses * counts.to(losses.dtype)).sum() / counts.sum().clamp(min=1).to(losses.dtype)
