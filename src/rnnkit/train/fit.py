"""The training loop every rnnkit task uses.

One optimiser step per batch:

    ModelOutput(logits, loss, count) = model(batch)     loss: per-step mean over real steps
    loss.backward()                                      backpropagation through time
    g = ||grad||_2 over all parameters                   recorded before clipping
    grad <- grad * min(1, clip_norm / g)                 global-norm clipping
    theta <- Adam(theta, grad, lr(step))                 warmup, then the LR schedule
    avg <- avg + (1 - d) * (theta - avg)                 only with config.ema_decay > 0

then, at the end of each epoch: evaluate on the dev split, keep the best checkpoint, stop
early when the dev metric stalls, save `last`. With a weight average (`ema_decay`, see
`rnnkit.train.averaging`) the evaluation, `best` and the model returned are the average's. The engine knows nothing about tasks: a model is
any nn.Module with `model(batch) -> ModelOutput`, and metrics come from `evaluate`.

Determinism and resuming. `train_batches(epoch)` must return the same batches every time it is
called with the same epoch (and must not draw from the global random generators), e.g. a
seeded `rnnkit.data.batching.BucketBatcher`. The RNG states (dropout) are seeded from
`config.seed` and saved in every checkpoint, so on CPU

    fit(..., epochs=4)   and   fit(..., epochs=2); fit(..., epochs=4, resume=True)

end with identical weights and metrics. Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after
the current step: it saves `last` including the position inside the epoch and the running sums,
then raises KeyboardInterrupt; `resume=True` skips the batches already done and continues as if
never interrupted. A second Ctrl-C aborts at once (the previous `last` stays valid, and the
progress since the last epoch end is lost).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from rnnkit.config import to_dict
from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.metrics.running import RunningMeans, accumulator_dtype
from rnnkit.models.base import ModelOutput
from rnnkit.train.averaging import WeightAverage
from rnnkit.train.checkpoint import (
    CheckpointMeta,
    RngState,
    load_checkpoint,
    save_checkpoint,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import (
    DistInfo,
    all_reduce_max,
    all_reduce_sum,
    barrier,
    broadcast_object,
    current_dist,
    gather_objects,
)
from rnnkit.train.logging import MetricsLogger
from rnnkit.train.plots import plot_loss_curves

log = logging.getLogger("rnnkit.train")

TrainBatches = Callable[[int], Iterable[Batch]]
DevBatches = Callable[[], Iterable[Batch]]
Evaluate = Callable[[nn.Module, Iterable[Batch]], Mapping[str, float]]

# Fields of TrainConfig that may change between a run and its resumption without a warning.
_RESUME_FREE = {"epochs", "out_dir", "progress", "device", "log_every", "patience", "num_threads"}


@dataclass
class FitResult:
    """What `fit` returns. The model itself is trained in place (best weights when restored)."""

    history: list[dict[str, Any]]  # one record per epoch, as in metrics.jsonl
    best_metric: float | None  # best value of config.metric on dev (None without dev)
    best_epoch: int | None  # 1-based epoch of best_metric
    epochs_completed: int
    global_step: int  # optimiser steps over the whole run
    stopped_early: bool
    final_metrics: dict[str, float]  # dev metrics of the last evaluation ({} without dev)
    out_dir: Path | None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (default), AdamW or SGD with momentum 0.9 over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RnnkitError("the model has no trainable parameters")
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


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
        if _improves(value, self.best, self.config.mode):
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


def _improves(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


def evaluate_loss(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """The default evaluation: {"loss": count-weighted mean loss over all batches}, i.e. the
    per-step loss over every real step of the split."""
    means = RunningMeans()
    for batch in batches:
        out: ModelOutput = model(batch)
        if out.loss is None:
            raise RnnkitError("the model returned no loss on a dev batch: dev batches need targets")
        means.add("loss", out.loss, out.count)
    if not means.names():
        raise RnnkitError("the dev split yielded no batches")
    return means.means()


@dataclass
class _State:
    """The engine's resumable state besides weights, optimizer, schedule and RNG."""

    epoch: int = 0  # completed epochs
    global_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_evals: int = 0  # evaluations since the last improvement (early stopping)
    stopped_early: bool = False
    last_metrics: dict[str, float] = field(default_factory=dict)
    # Set when a run was interrupted inside an epoch: {"epoch", "steps", "loss_sum", "count",
    # "grad_norm_sum", "tokens", "seconds"}; the resumed run skips `steps` batches and
    # continues the sums.
    in_progress: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "bad_evals": self.bad_evals,
            "stopped_early": self.stopped_early,
            "last_metrics": self.last_metrics,
            "in_progress": self.in_progress,
        }

    @classmethod
    def from_meta(cls, meta: CheckpointMeta) -> _State:
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
        )


class _StopRequest:
    """Turns the first SIGINT/SIGTERM into a flag checked between steps; the second aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("interrupted: saving after this step (interrupt again to abort at once)")


def fit(
    model: nn.Module,
    train_batches: TrainBatches,
    dev_batches: DevBatches | None = None,
    config: TrainConfig | None = None,
    *,
    evaluate: Evaluate | None = None,
    out_dir: str | Path | None = None,
    task: str | None = None,
    model_config: Mapping[str, Any] | None = None,
    extras: Mapping[str, Any] | None = None,
    resume: bool = False,
    dist: DistInfo | None = None,
) -> FitResult:
    """Train `model` for `config.epochs` epochs; return the history and best dev metric.

    Every epoch ends with an evaluation (every config.eval_every epochs), `best/` when the dev
    metric improved (weights only) and `last/` (everything needed to resume). Under torchrun
    (dist.world_size > 1) the model is wrapped in DistributedDataParallel, the train loss and
    token counts are all-reduced, dev metrics come from rank 0, and only rank 0 writes files;
    resuming reads out_dir/last on every rank, so out_dir must be visible to all of them.

    model:         nn.Module, `model(batch) -> ModelOutput`; moved to the device here.
    train_batches: `train_batches(epoch)` (epoch from 0) -> this process's batches (on CPU or
                   any device), the same ones whenever called with the same epoch. Under
                   torchrun it yields this rank's shard, the same number of batches per rank
                   (see rnnkit.train.distributed).
    dev_batches:   `dev_batches()` -> the whole dev split (not sharded), or None: no
                   evaluation, no best checkpoint, no early stopping.
    evaluate:      `evaluate(model, batches) -> {name: value}`, called in eval mode under
                   no_grad with batches already on the model's device. Default: evaluate_loss,
                   {"loss": per-step dev loss}. config.metric must be one of the names.
    out_dir:       where to write (overrides config.out_dir; None and no config.out_dir writes
                   nothing): last/ and best/ checkpoints, metrics.jsonl, tb/, loss.png.
    task, model_config, extras: JSON data saved in every checkpoint, so that a checkpoint can
                   be checked against its task and the model and vocabularies rebuilt.
    resume:        continue from out_dir/last (weights, optimizer, schedule, RNG, epoch, step,
                   early-stopping state, history, position inside an interrupted epoch);
                   config.epochs may be raised to train longer.
    dist:          this process's DistInfo from init_distributed(); default: the initialised
                   process group if any, else a single process on config.device.
    """
    config = config if config is not None else TrainConfig()
    run = _Run(model, train_batches, dev_batches, config, evaluate or evaluate_loss,
               out_dir, task, model_config, extras, dist)
    return run.fit(resume)


def _on_device(batches: Iterable[Batch], device: torch.device) -> Iterator[Batch]:
    for batch in batches:
        yield batch.to(device)


class _Run:
    """One call of `fit`: the state shared by the epoch loop and its helpers."""

    def __init__(
        self,
        model: nn.Module,
        train_batches: TrainBatches,
        dev_batches: DevBatches | None,
        config: TrainConfig,
        evaluate: Evaluate,
        out_dir: str | Path | None,
        task: str | None,
        model_config: Mapping[str, Any] | None,
        extras: Mapping[str, Any] | None,
        dist: DistInfo | None,
    ) -> None:
        self.config = config
        self.dist = dist if dist is not None else current_dist(config.device)
        self.device = self.dist.device
        out = out_dir if out_dir is not None else config.out_dir
        self.out = None if out is None else Path(out)
        self.writes = self.out is not None and self.dist.is_main
        self.model = model.to(self.device)
        self.net: nn.Module = self.model  # DistributedDataParallel(model) under torchrun
        self.train_batches = train_batches
        self.dev_batches = dev_batches
        self.evaluate = evaluate
        self.task = task
        self.model_config = dict(model_config or {})
        self.extras = dict(extras or {})
        self.optimizer = make_optimizer(self.model, config)
        self.schedule = LRSchedule(config)
        self.average = (WeightAverage(self.model, config.ema_decay)
                        if config.ema_decay > 0 else None)
        self.state = _State()
        self.best_weights: dict[str, Tensor] | None = None
        self.stop = _StopRequest()
        self.show_progress = config.progress and self.dist.is_main and sys.stderr.isatty()

    # --- the run -----------------------------------------------------------------------------

    def fit(self, resume: bool) -> FitResult:
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        seed_everything(self.config.seed + self.dist.rank)
        if resume:
            self._resume()
        if self.dist.is_distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.logger = MetricsLogger(
            self.out if self.writes else None,
            keep_until_step=self.state.global_step if resume else None,
        )
        self.stop.install()
        try:
            while self.state.epoch < self.config.epochs and not self.state.stopped_early:
                self._epoch(self.state.epoch)
        finally:
            self.stop.uninstall()
            self.logger.close()
        self._finish()
        return FitResult(
            history=self.state.history,
            best_metric=self.state.best_metric,
            best_epoch=self.state.best_epoch,
            epochs_completed=self.state.epoch,
            global_step=self.state.global_step,
            stopped_early=self.state.stopped_early,
            final_metrics=dict(self.state.last_metrics),
            out_dir=self.out,
        )

    def _resume(self) -> None:
        if self.out is None:
            raise RnnkitError("resume needs an out_dir that holds a 'last' checkpoint")
        loaded = load_checkpoint(self.out / "last", expected_task=self.task)
        keeps_average = self.average is not None and loaded.average_state is not None
        loaded.restore(self.model, self.optimizer, self.schedule,
                       self.average if keeps_average else None)
        if self.average is not None and not keeps_average:
            self.average = WeightAverage(self.model, self.config.ema_decay)  # from here on
        self.state = _State.from_meta(loaded.meta)
        saved = loaded.meta.train_config
        changed = sorted(k for k, v in to_dict(self.config).items()
                         if k in saved and saved[k] != v and k not in _RESUME_FREE)
        if changed and self.dist.is_main:
            log.warning("resuming with a changed training config (%s): the run will differ from "
                        "an uninterrupted one", ", ".join(changed))
        if len(loaded.meta.rng) == self.dist.world_size:
            loaded.meta.rng[self.dist.rank].restore(self.device)
        else:
            log.warning("checkpoint has RNG states for %d processes, this run has %d: reseeding",
                        len(loaded.meta.rng), self.dist.world_size)
            seed_everything(self.config.seed + self.dist.rank + 1000 * self.state.epoch)

    def _epoch(self, epoch: int) -> None:
        train = self._train(epoch)
        if train is None:  # interrupted inside the epoch
            self._save_last()
            barrier(self.dist)
            raise KeyboardInterrupt
        record: dict[str, Any] = {"kind": "epoch", "epoch": epoch + 1,
                                  "step": self.state.global_step, **train}
        improved = False
        last_epoch = epoch + 1 == self.config.epochs
        if self.dev_batches is not None and ((epoch + 1) % self.config.eval_every == 0
                                             or last_epoch):
            t0 = time.perf_counter()
            metrics = self._evaluate()
            record.update({f"dev_{k}": v for k, v in metrics.items()})
            record["eval_seconds"] = time.perf_counter() - t0
            improved = self._track(metrics, epoch)
        self.state.history.append(record)
        self.state.epoch = epoch + 1
        self.logger.log(record)
        if self.dist.is_main:
            log.info("epoch %d/%d  %s", epoch + 1, self.config.epochs, "  ".join(
                f"{k}={v:.4g}" for k, v in record.items()
                if k not in ("kind", "epoch", "step") and isinstance(v, float)))
        if improved:
            with self._averaged():
                if self.config.restore_best:
                    self.best_weights = {k: v.detach().to("cpu", copy=True)
                                         for k, v in self.model.state_dict().items()}
                if self.writes:
                    assert self.out is not None
                    save_checkpoint(self.out / "best", self.model, meta=self._meta([]))
        self._save_last()
        if all_reduce_max([float(self.stop.requested)], self.dist)[0] > 0:
            raise KeyboardInterrupt

    def _train(self, epoch: int) -> dict[str, float] | None:
        """One pass over train_batches(epoch): its summary, or None when a stop was requested
        midway (the position and running sums are then in state.in_progress).

        The sums live in one small device tensor, acc = [sum loss*count, sum count, sum of
        pre-clip gradient norms], updated without synchronising; they are read every
        log_every steps and at the end. The gradient norm is the same on every rank (DDP
        averages the gradients first), so only the loss sums and token counts are all-reduced.
        """
        config, dist, state = self.config, self.dist, self.state
        acc = torch.zeros(3, dtype=accumulator_dtype(self.device), device=self.device)
        skip, tokens, seconds_before = 0, 0, 0.0
        ip = state.in_progress
        if ip is not None and ip["epoch"] == epoch:
            skip, seconds_before = int(ip["steps"]), float(ip["seconds"])
            loss_sum, count, tokens = ip["loss_sum"], ip["count"], int(ip["tokens"])
            if not dist.is_main:  # the saved sums are over all ranks: count them once
                loss_sum, count, tokens = 0.0, 0.0, 0
            acc = torch.tensor([loss_sum, count, ip["grad_norm_sum"]], dtype=acc.dtype,
                               device=self.device)
        state.in_progress = None
        batches = self.train_batches(epoch)
        n = len(batches) if isinstance(batches, Sized) else None
        iterator = iter(batches)
        for i in range(skip):
            if next(iterator, None) is None:
                raise RnnkitError(f"resuming epoch {epoch + 1} at batch {skip + 1}, but "
                                  f"train_batches({epoch}) yields only {i}: the data changed")
        step_in_epoch = skip
        logged = [0.0, 0.0, 0.0]  # local acc at the last step record
        logged_tokens, logged_steps = 0, 0
        t_start = t_logged = time.perf_counter()
        self.net.train()
        bar = tqdm(total=n, initial=skip, disable=not self.show_progress, leave=False,
                   desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", dynamic_ncols=True)
        try:
            while True:
                batch = next(iterator, None)
                stop, end = self.stop.requested, batch is None
                if dist.is_distributed:  # every rank must take the same decision
                    missing, present, any_stop = all_reduce_max(
                        [float(batch is None), float(batch is not None), float(stop)], dist)
                    if missing > 0 and present > 0:
                        raise RnnkitError(
                            f"epoch {epoch + 1}: the ranks yielded different numbers of batches "
                            f"(rank {dist.rank} {'ran out' if end else 'has more'} after "
                            f"{step_in_epoch}); shard so that every rank gets as many batches"
                        )
                    end, stop = missing > 0, any_stop > 0
                if end:
                    break
                if stop:
                    self._save_progress(epoch, step_in_epoch, acc, tokens,
                                        seconds_before + time.perf_counter() - t_start)
                    return None
                assert batch is not None
                num_steps = batch.num_steps  # real time steps, counted on the CPU copy
                fraction = step_in_epoch / n if n else 0.0
                lr = self.schedule.lr(state.global_step, epoch, fraction)
                loss, count, grad_norm = self._step(batch.to(self.device), lr)
                c = count.to(acc.dtype)
                acc += torch.stack((loss.to(acc.dtype) * c, c, grad_norm.to(acc.dtype)))
                state.global_step += 1
                step_in_epoch += 1
                tokens += num_steps
                bar.update(1)
                if state.global_step % config.log_every == 0:
                    now = time.perf_counter()
                    local = acc.tolist()  # synchronises
                    loss_sum, count_sum, window_tokens = all_reduce_sum(
                        [local[0] - logged[0], local[1] - logged[1],
                         float(tokens - logged_tokens)], dist)
                    window_steps = step_in_epoch - logged_steps
                    train_loss = loss_sum / max(count_sum, 1.0)
                    self._check_finite(train_loss, epoch)
                    rec = {"kind": "step", "epoch": epoch + 1, "step": state.global_step,
                           "train_loss": train_loss,
                           "grad_norm": (local[2] - logged[2]) / max(window_steps, 1), "lr": lr,
                           "tokens_per_s": window_tokens / max(now - t_logged, 1e-9),
                           "seconds": seconds_before + now - t_start}
                    self.logger.log(rec)
                    bar.set_postfix(loss=f"{train_loss:.4f}", tok_s=f"{rec['tokens_per_s']:.0f}")
                    logged, logged_tokens, logged_steps, t_logged = (
                        local, tokens, step_in_epoch, now)
        finally:
            bar.close()
        if step_in_epoch == 0:
            raise RnnkitError(f"train_batches({epoch}) yielded no batches")
        local = acc.tolist()
        seconds = seconds_before + time.perf_counter() - t_start
        loss_sum, count_sum, tokens_all = all_reduce_sum([local[0], local[1], float(tokens)], dist)
        train_loss = loss_sum / max(count_sum, 1.0)
        self._check_finite(train_loss, epoch)
        return {
            "train_loss": train_loss,
            "grad_norm": local[2] / step_in_epoch,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "tokens_per_s": tokens_all / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def _step(self, batch: Batch, lr: float) -> tuple[Tensor, Tensor, Tensor]:
        """Forward, backward, clip, update. Returns (loss, count, pre-clip gradient norm),
        still on the device (reading them would synchronise)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        out: ModelOutput = self.net(batch)
        if out.loss is None:
            raise RnnkitError("the model returned no loss: training batches need targets")
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        max_norm = self.config.clip_norm if self.config.clip_norm is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
        return out.loss.detach(), out.count, grad_norm

    def _check_finite(self, loss: float, epoch: int) -> None:
        if not math.isfinite(loss):
            raise RnnkitError(
                f"training diverged: the train loss is {loss} in epoch {epoch + 1} (step "
                f"{self.state.global_step}); lower lr or clip_norm"
            )

    def _evaluate(self) -> dict[str, float]:
        """Every rank evaluates the whole dev split; rank 0's numbers are the ones used."""
        assert self.dev_batches is not None
        self.model.eval()
        try:
            with torch.no_grad(), self._averaged():
                raw = self.evaluate(self.model, _on_device(self.dev_batches(), self.device))
        finally:
            self.model.train()
        metrics = {str(k): float(v) for k, v in raw.items()}
        result: dict[str, float] = broadcast_object(metrics, self.dist)
        return result

    def _track(self, metrics: Mapping[str, float], epoch: int) -> bool:
        """Update best / early stopping / plateau schedule; True when this is the new best."""
        config, state = self.config, self.state
        if config.metric not in metrics:
            raise RnnkitError(
                f"dev metric {config.metric!r} is not among the evaluation results "
                f"({', '.join(sorted(metrics))}); set TrainConfig.metric to one of them"
            )
        value = metrics[config.metric]
        state.last_metrics = dict(metrics)
        self.schedule.observe(value)
        if _improves(value, state.best_metric, config.mode):
            state.best_metric, state.best_epoch, state.bad_evals = value, epoch + 1, 0
            return True
        state.bad_evals += 1
        if config.patience is not None and state.bad_evals >= config.patience:
            state.stopped_early = True
            if self.dist.is_main:
                log.info("early stopping: dev %s has not improved for %d evaluations (best %.4g "
                         "in epoch %s)", config.metric, state.bad_evals, state.best_metric,
                         state.best_epoch)
        return False

    def _averaged(self) -> contextlib.AbstractContextManager[None]:
        """The weight average swapped into the model for the block (nothing without one)."""
        return self.average.applied() if self.average is not None else contextlib.nullcontext()

    # --- checkpoints -------------------------------------------------------------------------

    def _meta(self, rng: list[RngState]) -> CheckpointMeta:
        s = self.state
        return CheckpointMeta(
            task=self.task, model_config=self.model_config, train_config=to_dict(self.config),
            extras=self.extras, epoch=s.epoch, global_step=s.global_step, history=s.history,
            best_metric=s.best_metric, best_epoch=s.best_epoch, train_state=s.to_json(),
            rng=rng,
        )

    def _save_last(self) -> None:
        rng: list[RngState] = gather_objects(RngState.capture(self.device), self.dist)
        if self.writes:
            assert self.out is not None
            save_checkpoint(self.out / "last", self.model, self.optimizer, self.schedule,
                            self._meta(rng), average=self.average)

    def _save_progress(self, epoch: int, steps: int, acc: Tensor, tokens: int,
                       seconds: float) -> None:
        local = acc.tolist()
        loss_sum, count_sum, tokens_all = all_reduce_sum([local[0], local[1], float(tokens)],
                                                         self.dist)
        self.state.in_progress = {
            "epoch": epoch, "steps": steps, "loss_sum": loss_sum, "count": count_sum,
            "grad_norm_sum": local[2], "tokens": int(tokens_all), "seconds": seconds,
        }
        if self.dist.is_main:
            where = "" if self.out is None else f" to {self.out / 'last'}"
            log.warning("saving the interrupted run%s (epoch %d, step %d)", where, epoch + 1,
                        self.state.global_step)

    def _finish(self) -> None:
        """Restore the best weights (else leave the average in the model), draw the loss
        curve, wait for every rank."""
        if self.config.restore_best and self.state.best_epoch is not None:
            if self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)
            elif self.out is not None and self.state.best_epoch != self.state.epoch:
                # best came before a resume: only on disk (shared by all ranks)
                load_checkpoint(self.out / "best", expected_task=self.task).restore(self.model)
            elif self.average is not None:  # best is the last epoch's average
                self.average.copy_to_model()
        elif self.average is not None:
            self.average.copy_to_model()
        if self.writes and self.state.history:
            assert self.out is not None
            plot_loss_curves(self.state.history, self.out / "loss.png",
                             title=self.task or None)
        barrier(self.dist)
