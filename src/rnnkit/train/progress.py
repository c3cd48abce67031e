"""Where training stands: the whole run (`RunState`, resumable) and one epoch (`EpochProgress`:
its running sums, the step records logged every `log_every` steps, the epoch's summary).

The train loss of a window of steps (an epoch, or the steps since the last step record) is
count-weighted, i.e. the per-step loss over every real time step of the window on all ranks:

    train_loss = sum_b loss_b * count_b / sum_b count_b
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import RnnkitError
from rnnkit.metrics.running import accumulator_dtype
from rnnkit.train.checkpoint import CheckpointMeta
from rnnkit.train.distributed import DistInfo, all_reduce_sum
from rnnkit.train.results import FitResult
from rnnkit.train.step import StepOutput


@dataclass
class RunState:
    """The engine's resumable state besides weights, optimizer, schedule and RNG."""

    epoch: int = 0  # completed epochs
    global_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_evals: int = 0  # evaluations since the last improvement (early stopping)
    stopped_early: bool = False
    last_metrics: dict[str, float] = field(default_factory=dict)
    # Set when a run was interrupted inside an epoch: EpochProgress.snapshot(), i.e. {"epoch",
    # "steps", "loss_sum", "count", "grad_norm_sum", "tokens", "seconds"}; the resumed run
    # skips `steps` batches and continues the sums.
    in_progress: dict[str, Any] | None = None
    # fp16's loss scaler (torch.amp.GradScaler.state_dict(): the scale and its growth count)
    grad_scaler: dict[str, Any] | None = None

    def result(self, out_dir: Path | None) -> FitResult:
        """What `fit` returns for a run in this state."""
        return FitResult(
            history=self.history,
            best_metric=self.best_metric,
            best_epoch=self.best_epoch,
            epochs_completed=self.epoch,
            global_step=self.global_step,
            stopped_early=self.stopped_early,
            final_metrics=dict(self.last_metrics),
            out_dir=out_dir,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "bad_evals": self.bad_evals,
            "stopped_early": self.stopped_early,
            "last_metrics": self.last_metrics,
            "in_progress": self.in_progress,
            "grad_scaler": self.grad_scaler,
        }

    @classmethod
    def from_meta(cls, meta: CheckpointMeta) -> RunState:
        ts = meta.train_state
        return cls(
            epoch=meta.epoch,
            global_step=meta.global_step,
            history=list(meta.history),
            best_metric=meta.best_metric,
            best_epoch=meta.best_epoch,
            bad_evals=int(ts.get("bad_evals", 0)),
            stopped_early=bool(ts.get("stopped_early", False)),
            last_metrics=dict(ts.get("last_metrics", {})),
            in_progress=ts.get("in_progress"),
            grad_scaler=ts.get("grad_scaler"),
        )


class EpochProgress:
    """One epoch so far: the steps taken, the running sums, the window since the last record.

    The sums live in one small device tensor, acc = [sum loss*count, sum count, sum of pre-clip
    gradient norms], updated without synchronising; they are read only for a step record and
    at the end. The gradient norm is the same on every rank (DDP averages the gradients
    first), so only the loss sums and token counts are all-reduced.

    epoch: 0-based.
    saved: this epoch's `snapshot()` from an interrupted run: the epoch continues from it
           (steps, sums, tokens and seconds). A resumed epoch's first step record covers the
           window from the start of the epoch.
    """

    def __init__(
        self,
        epoch: int,
        device: torch.device,
        dist: DistInfo,
        saved: Mapping[str, Any] | None = None,
    ) -> None:
        self.epoch, self.dist = epoch, dist
        self.steps = 0  # batches trained on in this epoch, before an interruption included
        self.tokens = 0  # real time steps in this rank's batches
        self.seconds_before = 0.0  # seconds spent on this epoch before an interruption
        sums = [0.0, 0.0, 0.0]
        if saved is not None:
            self.steps, self.seconds_before = int(saved["steps"]), float(saved["seconds"])
            loss_sum, count, self.tokens = saved["loss_sum"], saved["count"], int(saved["tokens"])
            if not dist.is_main:  # the saved sums are over all ranks: count them once
                loss_sum, count, self.tokens = 0.0, 0.0, 0
            sums = [loss_sum, count, saved["grad_norm_sum"]]
        self.acc = torch.tensor(sums, dtype=accumulator_dtype(device), device=device)  # (3,)
        self._logged = [0.0, 0.0, 0.0]  # acc at the last step record
        self._logged_tokens, self._logged_steps = 0, 0
        self.start()

    def start(self) -> None:
        """Start the clock (again): the seconds from here on are training time."""
        self._t_start = self._t_logged = time.perf_counter()

    def add(self, out: StepOutput, num_steps: int) -> None:
        """Count one step: its loss, count and gradient norm, and the batch's real time steps."""
        c = out.count.to(self.acc.dtype)
        self.acc += torch.stack(
            (out.loss.to(self.acc.dtype) * c, c, out.grad_norm.to(self.acc.dtype))
        )
        self.steps += 1
        self.tokens += num_steps

    def step_record(self, global_step: int, lr: float) -> dict[str, Any]:
        """The "step" record of the steps since the last one (metrics.jsonl, TensorBoard);
        synchronises with the device and, under torchrun, with the other ranks."""
        now = time.perf_counter()
        local = self.acc.tolist()
        loss_sum, count_sum, window_tokens = all_reduce_sum(
            [
                local[0] - self._logged[0],
                local[1] - self._logged[1],
                float(self.tokens - self._logged_tokens),
            ],
            self.dist,
        )
        window_steps = self.steps - self._logged_steps
        train_loss = loss_sum / max(count_sum, 1.0)
        check_finite(train_loss, self.epoch, global_step)
        record = {
            "kind": "step",
            "epoch": self.epoch + 1,
            "step": global_step,
            "train_loss": train_loss,
            "grad_norm": (local[2] - self._logged[2]) / max(window_steps, 1),
            "lr": lr,
            "tokens_per_s": window_tokens / max(now - self._t_logged, 1e-9),
            "seconds": self.seconds_before + now - self._t_start,
        }
        self._logged, self._logged_tokens, self._logged_steps = local, self.tokens, self.steps
        self._t_logged = now
        return record

    def summary(self, global_step: int, lr: float) -> dict[str, float]:
        """The epoch's train fields of its "epoch" record; `lr` is the last step's."""
        if self.steps == 0:
            raise RnnkitError(f"train_batches({self.epoch}) yielded no batches")
        seconds, loss_sum, count_sum, grad_norm_sum, tokens = self._totals()
        train_loss = loss_sum / max(count_sum, 1.0)
        check_finite(train_loss, self.epoch, global_step)
        return {
            "train_loss": train_loss,
            "grad_norm": grad_norm_sum / self.steps,
            "lr": lr,
            "tokens_per_s": tokens / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def snapshot(self) -> dict[str, Any]:
        """The position and sums (over all ranks) to save when the run stops inside the epoch;
        `EpochProgress(..., saved=snapshot)` continues from it."""
        seconds, loss_sum, count_sum, grad_norm_sum, tokens = self._totals()
        return {
            "epoch": self.epoch,
            "steps": self.steps,
            "loss_sum": loss_sum,
            "count": count_sum,
            "grad_norm_sum": grad_norm_sum,
            "tokens": int(tokens),
            "seconds": seconds,
        }

    def _totals(self) -> tuple[float, float, float, float, float]:
        """(seconds, sum loss*count, sum count, sum of gradient norms, tokens) of the epoch so
        far, summed over all ranks except the gradient norms (the same on every rank)."""
        local = self.acc.tolist()  # synchronises: the seconds include the queued steps
        seconds = self.seconds_before + time.perf_counter() - self._t_start
        loss_sum, count_sum, tokens = all_reduce_sum(
            [local[0], local[1], float(self.tokens)], self.dist
        )
        return seconds, loss_sum, count_sum, local[2], tokens


def check_finite(loss: float, epoch: int, global_step: int) -> None:
    """Stop a diverged run with advice (epoch is 0-based)."""
    if not math.isfinite(loss):
        raise RnnkitError(
            f"training diverged: the train loss is {loss} in epoch {epoch + 1} (step "
            f"{global_step}); lower lr or clip_norm"
        )
