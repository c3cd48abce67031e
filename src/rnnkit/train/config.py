"""The training configuration.

`TrainConfig` holds everything the engine (`rnnkit.train.fit`) needs to know about *how* to
train; what to train (model, data) is the caller's. It is saved in every checkpoint, so a run
can be inspected and resumed from its directory alone.

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rnnkit.errors import RnnkitError

LR_SCHEDULES = ("constant", "cosine", "plateau")
OPTIMIZERS = ("adam", "adamw", "sgd")
MODES = ("min", "max")
# Fields that may change between a run and its resumption without making it differ from an
# uninterrupted one (how long, where, how it is shown), so without a warning.
RESUME_FREE = frozenset(
    {"epochs", "out_dir", "progress", "device", "log_every", "patience", "num_threads"}
    | {"overwrite", "change_data"}
)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, gradient clipping, schedule, evaluation, early stopping, I/O.

    Step counts are optimiser steps (one per batch); epochs are passes over the training data.
    """

    # Passes over the training data.
    epochs: int = 10
    # Sequences per batch (per process under torchrun). The engine does not batch; whoever
    # builds the batches reads it, so that it is saved with the run.
    batch_size: int = 32
    # Peak learning rate. 1e-3 is Adam's usual step size and trains the lecture's RNNs well.
    lr: float = 1e-3
    # "adam" (L2 weight decay added to the gradient), "adamw" (decoupled decay) or "sgd"
    # (plain gradient descent, momentum 0.9).
    optimizer: str = "adam"
    # Weight decay coefficient; 0 disables it.
    weight_decay: float = 0.0
    # Rescale the gradient when its global L2 norm over all parameters exceeds this: the
    # standard remedy for exploding gradients in backpropagation through time. None disables.
    clip_norm: float | None = 5.0
    # "constant", "cosine" (decay from lr to min_lr over all epochs) or "plateau" (multiply
    # by plateau_factor when the dev metric stalls for plateau_patience evaluations).
    lr_schedule: str = "constant"
    # Ramp the learning rate linearly from lr / warmup_steps to lr over the first steps.
    warmup_steps: int = 0
    # Floor of the cosine and plateau schedules.
    min_lr: float = 0.0
    # Factor the plateau schedule multiplies the learning rate by.
    plateau_factor: float = 0.5
    # Evaluations without improvement the plateau schedule tolerates before it lowers the rate.
    plateau_patience: int = 2
    # Keep an exponential moving average of the weights (Polyak averaging), updated after every
    # step as avg += (1 - d) * (w - avg) with d = min(ema_decay, (1 + n) / (10 + n)) at update
    # n; evaluation, `best/` and the returned model use the average, `last/` keeps the raw
    # weights and the average, so a run resumes exactly. 0 disables it; 0.999 averages over
    # roughly the last thousand steps.
    ema_decay: float = 0.0
    # Evaluate on the dev split every this many epochs (and always after the last one).
    eval_every: int = 1
    # Dev metric that picks the best checkpoint, drives early stopping and the plateau schedule.
    metric: str = "loss"
    # Whether a smaller ("min", losses) or larger ("max", accuracy, F1) metric is better.
    mode: str = "min"
    # Stop after this many evaluations without improvement of the metric; None never stops.
    patience: int | None = None
    # At the end, load the best checkpoint's weights back into the model (when there was a dev
    # split), so the returned model is the one saved as `best`.
    restore_best: bool = True
    # Intra-op CPU threads for torch; None keeps torch's default (one per core). On a machine
    # shared with other busy processes, 1 can be many times faster for small models.
    num_threads: int | None = None
    # Seeds Python's, NumPy's and torch's random generators at the start of training
    # (plus the rank under torchrun, so dropout differs between processes).
    seed: int = 0
    # "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Under torchrun the
    # device comes from `rnnkit.train.distributed.init_distributed`.
    device: str = "auto"
    # Steps between step records in the metrics log and progress-bar updates. Reading the loss
    # synchronises with the GPU, so it is not done on every step.
    log_every: int = 50
    # Show a tqdm progress bar (only ever on a terminal, and only on rank 0).
    progress: bool = True
    # Directory for checkpoints (last/, best/), metrics.jsonl, TensorBoard events and the loss
    # curve; None writes nothing. `fit(out_dir=...)` overrides it.
    out_dir: str | None = None
    # Replace the run already in out_dir (its checkpoints, metrics.jsonl, tb/, loss.png)
    # instead of refusing to start; the old run is deleted once this one owns the directory.
    overwrite: bool = False
    # With --resume: continue on a data file other than the one the run recorded (the run's
    # vocabulary is kept; text it cannot encode is an error). Without it that is refused.
    change_data: bool = False

    def __post_init__(self) -> None:
        _check(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _check(
            self.optimizer in OPTIMIZERS,
            f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}",
        )
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _check(
            self.clip_norm is None or self.clip_norm > 0,
            f"clip_norm must be > 0 or None (no clipping), got {self.clip_norm}",
        )
        _check(
            self.lr_schedule in LR_SCHEDULES,
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {self.lr_schedule!r}",
        )
        _check(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        _check(
            0 <= self.min_lr <= self.lr,
            f"min_lr must be between 0 and lr={self.lr}, got {self.min_lr}",
        )
        _check(
            0 < self.plateau_factor < 1,
            f"plateau_factor must be in (0, 1), got {self.plateau_factor}",
        )
        _check(
            self.plateau_patience >= 0,
            f"plateau_patience must be >= 0, got {self.plateau_patience}",
        )
        _check(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}")
        _check(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        _check(self.mode in MODES, f"mode must be 'min' or 'max', got {self.mode!r}")
        _check(
            self.patience is None or self.patience >= 1,
            f"patience must be >= 1 or None (no early stopping), got {self.patience}",
        )
        _check(
            self.num_threads is None or self.num_threads >= 1,
            f"num_threads must be >= 1 or None, got {self.num_threads}",
        )
        _check(self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}")
        _check(
            self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps"),
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}",
        )
        _check(
            self.out_dir != "",
            "out_dir must be a directory or None (writes nothing), got '' (an empty path)",
        )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RnnkitError(f"TrainConfig: {message}")


def changed_on_resume(config: TrainConfig, saved: Mapping[str, Any]) -> list[str]:
    """The fields of `config` that differ from the run's saved TrainConfig (as JSON) and make
    the resumed run differ from an uninterrupted one (all but RESUME_FREE)."""
    return sorted(
        f.name
        for f in fields(config)
        if f.name in saved
        and saved[f.name] != getattr(config, f.name)
        and f.name not in RESUME_FREE
    )
