"""The training loop every rnnkit task uses.

Each optimiser step (`rnnkit.train.step`) trains on `config.accumulate` batches (one by
default): forward, backward through time, global-norm clipping, the update at lr(step), the
weight average (`ema_decay`); schedule, logs and global_step count these steps. At the end of
each epoch: evaluate on the dev split, keep the best checkpoint, stop early when the dev metric
stalls, save `last`. With a weight average (`rnnkit.train.averaging`) the evaluation, `best`
and the model returned are the average's. The engine knows nothing about tasks: a model is
any nn.Module with `model(batch) -> ModelOutput`, and metrics come from `evaluate`.

This module holds `fit` and its epoch loop; the parts it wires live beside it, each testable
alone: `step` (one optimisation step), `progress` (the run's state, one epoch's running sums,
step records and summary), `loop` (skipping a resumed epoch's done batches, the ranks agreeing
to go on), `optim` (optimiser, learning-rate schedule), `interrupt` (Ctrl-C), `rng` (seeding).

Determinism, resuming and run directories: see the `rnnkit.train` package docstring.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence, Sized
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from rnnkit.config import to_dict
from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.train.averaging import WeightAverage
from rnnkit.train.callbacks import FitHooks, LRSchedulerFactory
from rnnkit.train.carry import capture_carry, restore_carry
from rnnkit.train.checkpoint import (
    CheckpointMeta,
    RngState,
    load_checkpoint,
    save_checkpoint,
)
from rnnkit.train.config import TrainConfig, changed_on_resume
from rnnkit.train.distributed import (
    DistInfo,
    all_reduce_max,
    barrier,
    broadcast_object,
    current_dist,
    gather_objects,
    training_net,
)
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.loading import model_description
from rnnkit.train.logging import MetricsLogger
from rnnkit.train.loop import agree_across_ranks, skip_done
from rnnkit.train.optim import LRSchedule, improves, make_optimizer
from rnnkit.train.plots import plot_loss_curves
from rnnkit.train.precision import autocast_dtype, check_precision, grad_scaler
from rnnkit.train.progress import EpochProgress, RunState
from rnnkit.train.results import FitResult, evaluate_loss
from rnnkit.train.rng import seed_everything
from rnnkit.train.rundir import claim_run_dir
from rnnkit.train.sources import (
    DevBatches,
    DevSource,
    Evaluate,
    TrainBatches,
    TrainSource,
    dev_source,
    on_device,
    train_source,
)
from rnnkit.train.step import accumulated_step, group_loss

__all__ = [  # LRSchedule, make_optimizer and seed_everything live beside, and are used, here
    "DevBatches",
    "Evaluate",
    "FitResult",
    "LRSchedule",
    "TrainBatches",
    "evaluate_loss",
    "fit",
    "make_optimizer",
    "seed_everything",
]

log = logging.getLogger("rnnkit.train")


def fit(
    model: nn.Module,
    train_batches: TrainSource,
    dev_batches: DevSource | None = None,
    config: TrainConfig | None = None,
    *,
    evaluate: Evaluate | None = None,
    out_dir: str | Path | None = None,
    task: str | None = None,
    model_config: Mapping[str, Any] | None = None,
    extras: Mapping[str, Any] | None = None,
    resume: bool = False,
    dist: DistInfo | None = None,
    callbacks: Sequence[object] = (),
    lr_scheduler: LRSchedulerFactory | None = None,
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
                   (see rnnkit.train.distributed). Or a DataLoader or list (train.sources).
    dev_batches:   `dev_batches()` -> the whole dev split (not sharded), or None: no
                   evaluation, no best checkpoint, no early stopping.
    evaluate:      `evaluate(model, batches) -> {name: value}`, called in eval mode under
                   no_grad with batches already on the model's device. Default: evaluate_loss,
                   {"loss": per-step dev loss}. config.metric must be one of the names.
    out_dir:       where to write (overrides config.out_dir; None and no config.out_dir writes
                   nothing): last/ and best/ checkpoints, metrics.jsonl, tb/, loss.png. A
                   directory holding a run is refused unless resume or config.overwrite.
    task, model_config, extras: JSON saved in every checkpoint (model_config default:
                   describe_model(model)), to check its task, rebuild model and vocabularies.
    resume:        continue from out_dir/last (weights, optimizer, schedule, RNG, early stopping,
                   history, position in the epoch); raise config.epochs to train longer.
    dist:          this process's DistInfo from init_distributed(); default: the initialised
                   process group if any, else a single process on config.device.
    callbacks, lr_scheduler: see rnnkit.train.callbacks.
    """
    config = config if config is not None else TrainConfig()
    run = _Run(
        model,
        train_source(train_batches),
        dev_source(dev_batches),
        config,
        evaluate or evaluate_loss,
        out_dir,
        task,
        model_config if model_config is not None else model_description(model),
        extras,
        dist,
    )
    run.hooks = FitHooks(run.optimizer, config, callbacks, lr_scheduler)
    return run.fit(resume)


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
        if out is not None and str(out) == "":
            raise RnnkitError(
                "out_dir is an empty path; give a directory, or None to write nothing"
            )
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
        self.hooks = FitHooks(self.optimizer, config)  # fit() adds callbacks and lr_scheduler
        self.schedule = LRSchedule(config)
        self.average = WeightAverage(self.model, config.ema_decay) if config.ema_decay > 0 else None
        check_precision(config.precision, self.device)
        self.autocast_dtype = autocast_dtype(config.precision, self.device)
        self.scaler = grad_scaler(config.precision, self.device)
        self.state = RunState()
        self.best_weights: dict[str, Tensor] | None = None
        self.stop = StopRequest()
        self.show_progress = config.progress and self.dist.is_main and sys.stderr.isatty()

    # --- the run -----------------------------------------------------------------------------

    def fit(self, resume: bool) -> FitResult:
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        if self.autocast_dtype is not None and self.dist.is_main:
            log.info("training steps run under %s autocast", self.autocast_dtype)
        lock = claim_run_dir(self.out if self.writes else None, resume, self.config, self.dist)
        try:
            self._run(resume)
        finally:
            if lock is not None:
                lock.release()
        return self.state.result(self.out)

    def _run(self, resume: bool) -> None:
        seed_everything(self.config.seed + self.dist.rank)
        if resume:
            self._resume()
        self.net = training_net(self.model, self.dist, self.config.compile)
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

    def _resume(self) -> None:
        if self.out is None:
            raise RnnkitError("resume needs an out_dir that holds a 'last' checkpoint")
        loaded = load_checkpoint(self.out / "last", expected_task=self.task)
        keeps_average = self.average is not None and loaded.average_state is not None
        loaded.restore(
            self.model, self.optimizer, self.schedule, self.average if keeps_average else None
        )
        if self.average is not None and not keeps_average:
            self.average = WeightAverage(self.model, self.config.ema_decay)  # from here on
        self.state = RunState.from_meta(loaded.meta)
        if self.scaler is not None and self.state.grad_scaler is not None:
            self.scaler.load_state_dict(self.state.grad_scaler)
        changed = changed_on_resume(self.config, loaded.meta.train_config)
        if changed and self.dist.is_main:
            log.warning(
                "resuming with a changed training config (%s): the run will differ from "
                "an uninterrupted one",
                ", ".join(changed),
            )
        if len(loaded.meta.rng) == self.dist.world_size:
            loaded.meta.rng[self.dist.rank].restore(self.device)
            if loaded.carry_state is not None:  # a stateful model, saved mid-epoch
                restore_carry(self.model, loaded.carry_state[self.dist.rank], self.device)
        else:
            log.warning(
                "checkpoint has RNG states for %d processes, this run has %d: reseeding",
                len(loaded.meta.rng),
                self.dist.world_size,
            )
            seed_everything(self.config.seed + self.dist.rank + 1000 * self.state.epoch)

    def _epoch(self, epoch: int) -> None:
        train = self._train(epoch)
        if train is None:  # interrupted inside the epoch
            self._save_last()
            barrier(self.dist)
            raise KeyboardInterrupt
        record: dict[str, Any] = {
            "kind": "epoch",
            "epoch": epoch + 1,
            "step": self.state.global_step,
            **train,
        }
        improved = False
        last_epoch = epoch + 1 == self.config.epochs
        if self.dev_batches is not None and (
            (epoch + 1) % self.config.eval_every == 0 or last_epoch
        ):
            t0 = time.perf_counter()
            metrics = self._evaluate()
            record.update({f"dev_{k}": v for k, v in metrics.items()})
            record["eval_seconds"] = time.perf_counter() - t0
            improved = self._track(metrics, epoch)
        self.state.history.append(record)
        self.state.epoch = epoch + 1
        self.logger.log(record)
        if self.dist.is_main:
            log.info(
                "epoch %d/%d  %s",
                epoch + 1,
                self.config.epochs,
                "  ".join(
                    f"{k}={v:.4g}"
                    for k, v in record.items()
                    if k not in ("kind", "epoch", "step") and isinstance(v, float)
                ),
            )
        self.hooks.epoch_end(epoch + 1, record)
        if improved:
            with self._averaged():
                if self.config.restore_best:
                    self.best_weights = {
                        k: v.detach().to("cpu", copy=True)
                        for k, v in self.model.state_dict().items()
                    }
                if self.writes:
                    assert self.out is not None
                    with self.stop.finishing():
                        save_checkpoint(self.out / "best", self.model, meta=self._meta([]))
        self._save_last()
        if all_reduce_max([float(self.stop.requested)], self.dist)[0] > 0:
            raise KeyboardInterrupt

    def _train(self, epoch: int) -> dict[str, float] | None:
        """One pass over train_batches(epoch): its summary, or None when a stop was requested
        midway (the position and running sums are then in state.in_progress)."""
        config, state = self.config, self.state
        saved = state.in_progress
        progress = EpochProgress(
            epoch,
            self.device,
            self.dist,
            saved if saved is not None and saved["epoch"] == epoch else None,
        )
        state.in_progress = None
        batches = self.train_batches(epoch)
        n = len(batches) if isinstance(batches, Sized) else None
        iterator = iter(batches)
        skip_done(iterator, progress.steps, epoch)
        progress.start()
        self.net.train()
        bar = tqdm(
            total=n,
            initial=progress.steps,
            disable=not self.show_progress,
            leave=False,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="batch",
            dynamic_ncols=True,
        )
        try:
            while True:
                group = self._next_group(iterator, epoch, progress.steps)
                if group is None:
                    self._save_progress(progress)
                    return None
                if not group:
                    break
                fraction = progress.steps / n if n else 0.0
                lr = self.hooks.lr(self.schedule.lr(state.global_step, epoch, fraction))
                on_device = [batch.to(self.device) for batch in group]
                options = (config.clip_norm, self.average, self.autocast_dtype, self.scaler)
                outs = accumulated_step(self.net, self.optimizer, on_device, lr, *options)
                for out, batch in zip(outs, group, strict=True):
                    progress.add(out, batch.num_steps)  # real time steps, on the CPU copy
                state.global_step += 1
                self.hooks.step_end(state.global_step, group_loss(outs))
                bar.update(len(group))
                if state.global_step % config.log_every == 0:
                    self._log_step(progress, lr, bar)
        finally:
            bar.close()
        return progress.summary(state.global_step, float(self.optimizer.param_groups[0]["lr"]))

    def _next_group(self, batches: Iterator[Batch], epoch: int, done: int) -> list[Batch] | None:
        """The next step's batches (up to config.accumulate; [] at the epoch's end), or None on
        a stop: the group begun is dropped, a resume restarts at its first batch (`done`)."""
        group: list[Batch] = []
        while len(group) < self.config.accumulate:
            batch = next(batches, None)
            end, stop = agree_across_ranks(
                batch is None, self.stop.requested, self.dist, epoch, done + len(group)
            )
            if end or stop:
                return group if end else None
            group.append(batch)  # type: ignore[arg-type]  # not None: not the end
        return group

    def _log_step(self, progress: EpochProgress, lr: float, bar: tqdm[Any]) -> None:
        """A step record in the log, and the loss and speed beside the progress bar."""
        record = progress.step_record(self.state.global_step, lr)
        self.logger.log(record)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}", tok_s=f"{record['tokens_per_s']:.0f}")

    def _evaluate(self) -> dict[str, float]:
        """Every rank evaluates the whole dev split; rank 0's numbers are the ones used."""
        assert self.dev_batches is not None
        self.model.eval()
        try:
            with torch.no_grad(), self._averaged():
                raw = self.evaluate(self.model, on_device(self.dev_batches(), self.device))
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
        if improves(value, state.best_metric, config.best_mode):
            state.best_metric, state.best_epoch, state.bad_evals = value, epoch + 1, 0
            return True
        state.bad_evals += 1
        if config.patience is not None and state.bad_evals >= config.patience:
            state.stopped_early = True
            if self.dist.is_main:
                log.info(
                    "early stopping: dev %s has not improved for %d evaluations (best %.4g "
                    "in epoch %s)",
                    config.metric,
                    state.bad_evals,
                    state.best_metric,
                    state.best_epoch,
                )
        return False

    def _averaged(self) -> contextlib.AbstractContextManager[None]:
        """The weight average swapped into the model for the block (nothing without one)."""
        return self.average.applied() if self.average is not None else contextlib.nullcontext()

    # --- checkpoints -------------------------------------------------------------------------

    def _meta(self, rng: list[RngState]) -> CheckpointMeta:
        s = self.state
        s.grad_scaler = None if self.scaler is None else self.scaler.state_dict()
        return CheckpointMeta(
            task=self.task,
            model_config=self.model_config,
            train_config=to_dict(self.config),
            extras=self.extras,
            epoch=s.epoch,
            global_step=s.global_step,
            history=s.history,
            best_metric=s.best_metric,
            best_epoch=s.best_epoch,
            train_state=s.to_json(),
            rng=rng,
        )

    def _save_last(self) -> None:
        rng: list[RngState] = gather_objects(RngState.capture(self.device), self.dist)
        carry = capture_carry(self.model) if self.state.in_progress is not None else None
        carries = None if carry is None else gather_objects(carry, self.dist)
        if self.writes:
            assert self.out is not None
            with self.stop.finishing():
                save_checkpoint(
                    self.out / "last",
                    self.model,
                    self.optimizer,
                    self.schedule,
                    self._meta(rng),
                    average=self.average,
                    carry=carries,
                )

    def _save_progress(self, progress: EpochProgress) -> None:
        """Keep the interrupted epoch's position and sums in the state (saved with `last`)."""
        self.state.in_progress = progress.snapshot()
        if self.dist.is_main:
            where = "" if self.out is None else f" to {self.out / 'last'}"
            log.warning(
                "saving the interrupted run%s (epoch %d, step %d)",
                where,
                progress.epoch + 1,
                self.state.global_step,
            )

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
            plot_loss_curves(self.state.history, self.out / "loss.png", title=self.task or None)
        barrier(self.dist)
