"""The training configuration.

`TrainConfig` holds everything the engine (`rnnkit.train.fit`) needs to know about *how* to
train; what to train (model, data) is the caller's. It is saved in every checkpoint, so a run
can be inspected and resumed from its directory alone.

"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from rnnkit.models.checks import (
    check_choice,
    check_int,
    check_positive,
    check_seed,
    require,
)

LR_SCHEDULES = ("constant", "cosine", "plateau")
OPTIMIZERS = ("adam", "adamw", "sgd")
MODES = ("min", "max")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # rnnkit.train.precision
# Fields that may change between a run and its resumption without making it differ from an
# uninterrupted one (how long, where, how it is shown), so without a warning.
RESUME_FREE = frozenset(
    {"epochs", "out_dir", "progress", "device", "log_every", "patience", "num_threads"}
    | {"overwrite", "change_data", "compile"}  # compile: the same values to float rounding
)

# Metrics where smaller is better (losses, and error rates): `mode` follows them ("min")
# unless given; any other metric (accuracy, precision, recall, f1, bleu) is better larger.
LOSS_METRICS = frozenset(
    {"loss", "nll_per_step", "nats_per_char", "bits_per_char", "perplexity", "error_rate"}
)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, gradient clipping, schedule, evaluation, early stopping, I/O.

    Step counts are optimiser steps (one per `accumulate` batches); epochs are passes over the
    training data.
    """

    # Passes over the training data.
    epochs: int = 10
    # Sequences per batch (per process under torchrun). The engine does not batch; whoever
    # builds the batches reads it, so that it is saved with the run.
    batch_size: int = 32
    # Gradient accumulation: one optimiser step every this many batches, on their gradients'
    # mean weighted by each batch's real steps (the gradient of one batch holding them all,
    # for a loss averaged over real steps); an epoch's last, shorter group still steps. The
    # schedule, warmup, weight average, log_every and logged "step" count optimiser steps (the
    # logged grad_norm averages, over batches, their step's norm). A run stopped inside a
    # group resumes at the group's first batch (its partial gradient is not saved).
    accumulate: int = 1
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
    # Whether a smaller ("min", losses) or larger ("max", accuracy, F1) metric is better;
    # None follows the metric: "min" for a loss (loss, nll_per_step, bits_per_char, ...),
    # "max" for any other (`best_mode` resolves it).
    mode: str | None = None
    # Stop after this many evaluations without improvement of the metric; None never stops.
    patience: int | None = None
    # At the end, load the best checkpoint's weights back into the model (when there was a dev
    # split), so the returned model is the one saved as `best`.
    restore_best: bool = True
    # "fp32", "bf16" (the training step's forward pass under bfloat16 autocast; weights,
    # gradients and optimiser state stay float32), "fp16" (float16 autocast with loss scaling,
    # CUDA only) or "auto" (bf16 where the CPU or GPU multiplies bfloat16 natively, else fp32).
    # Evaluation always runs in float32. See rnnkit.train.precision.
    precision: str = "fp32"
    # torch.compile the model for the training steps (TorchInductor: fused element-wise work
    # around the recurrent kernels); evaluation runs eagerly. Values equal eager's to float
    # rounding. On the CPU PyTorch unrolls its recurrent kernels over the time steps: each new
    # sequence length compiles again (up to torch's recompile limit, then eager): worth it
    # there only for batches of one length; on a GPU cuDNN's kernel is one opaque call.
    compile: bool = False
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

    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "optimizer": OPTIMIZERS,
        "lr_schedule": LR_SCHEDULES,
        "mode": MODES,
        "precision": PRECISIONS,
    }

    def __post_init__(self) -> None:
        me = "TrainConfig"
        check_int(me, "epochs", self.epochs, 1)
        check_int(me, "batch_size", self.batch_size, 1)
        check_int(me, "accumulate", self.accumulate, 1)
        check_positive(me, "lr", self.lr)
        check_choice(me, "optimizer", self.optimizer, OPTIMIZERS)
        require(
            _finite(self.weight_decay, 0), me, "weight_decay", "a number >= 0", self.weight_decay
        )
        if self.clip_norm is not None:
            check_positive(me, "clip_norm", self.clip_norm)
        check_choice(me, "lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_int(me, "warmup_steps", self.warmup_steps, 0)
        ok = _finite(self.min_lr, 0) and self.min_lr <= self.lr
        require(ok, me, "min_lr", f"between 0 and --lr {self.lr}", self.min_lr)
        ok = _finite(self.plateau_factor, 0) and 0 < self.plateau_factor < 1
        require(ok, me, "plateau_factor", "in (0, 1)", self.plateau_factor)
        check_int(me, "plateau_patience", self.plateau_patience, 0)
        ok = _finite(self.ema_decay, 0) and self.ema_decay < 1
        require(ok, me, "ema_decay", "in [0, 1)", self.ema_decay)
        check_int(me, "eval_every", self.eval_every, 1)
        require(
            isinstance(self.metric, str) and bool(self.metric),
            me,
            "metric",
            "a metric name",
            self.metric,
        )
        if self.mode is not None:
            check_choice(me, "mode", self.mode, MODES)
        if self.patience is not None:
            check_int(me, "patience", self.patience, 1)
        check_choice(me, "precision", self.precision, PRECISIONS)
        if self.num_threads is not None:
            check_int(me, "num_threads", self.num_threads, 1)
        check_seed(me, "seed", self.seed)
        check_int(me, "log_every", self.log_every, 1)
        ok = isinstance(self.device, str) and (
            self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps")
        )
        require(ok, me, "device", "'auto', 'cpu', 'cuda' or 'cuda:N'", self.device)
        require(
            self.out_dir != "",
            me,
            "out_dir",
            "a directory (not an empty path) or None",
            self.out_dir,
        )

    @property
    def best_mode(self) -> str:
        """Whether a smaller ("min") or larger ("max") `metric` is better: `mode` when given,
        else "min" for a loss-like metric (`LOSS_METRICS`) and "max" for any other."""
        if self.mode is not None:
            return self.mode
        return "min" if self.metric in LOSS_METRICS else "max"


def _finite(value: object, low: float) -> bool:
    """A finite number (not a bool) >= low."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return ok and math.isfinite(value) and value >= low  # type: ignore[arg-type, operator]


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
