"""The training engine: the fit loop, checkpoints, logging, torchrun.

    from rnnkit.train import TrainConfig, fit
    result = fit(model, train_batches, dev_batches, TrainConfig(epochs=5), out_dir="runs/x")

`model(batch) -> ModelOutput(logits, loss, count)` is the only thing the engine asks of a
model; `train_batches(epoch)` and `dev_batches()` produce `Batch`es. The losses a model computes
live beside the models (`rnnkit.models.losses`), the running means in `rnnkit.metrics`.

The modules, one concern each:

    fit          fit(): the epoch loop, evaluation, best/last checkpoints, early stopping
    step         one optimisation step: forward, backward, clip, optimiser, weight average
    progress     where training stands: the run's resumable state, one epoch's running sums,
                 its step records and summary
    loop         the epoch loop's decisions: skip a resumed epoch's done batches, ranks agree
    optim        the optimiser and the learning-rate schedule
    averaging    the weight average (EMA)
    interrupt    Ctrl-C / SIGTERM: stop after this step
    checkpoint   checkpoint directories (rng: the RNG states, state_tree: state_dicts as JSON
                 plus tensors)
    distributed  torchrun: which process am I, collectives
    logging      metrics.jsonl and TensorBoard;  plots: loss.png;  config: TrainConfig;
    loading      load_model(checkpoint) and save_model(model, path), one call each
    callbacks    fit's callbacks (on_epoch_end, on_step_end) and torch lr schedulers
    sources      fit's batches from a DataLoader or list as well as a function

Determinism and resuming. `train_batches(epoch)` must return the same batches every time it is
called with the same epoch (and must not draw from the global random generators), e.g. a
seeded `rnnkit.data.batching.BucketBatcher`. The RNG states (dropout) are seeded from
`config.seed` and saved in every checkpoint, so on CPU

    fit(..., epochs=4)   and   fit(..., epochs=2); fit(..., epochs=4, resume=True)

end with identical weights and metrics. Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after
the current step: it saves `last` including the position inside the epoch and the running sums,
then raises KeyboardInterrupt; `resume=True` skips the batches already done and continues as if
never interrupted (a model that carries state between batches gets it back, `carry`). A second
Ctrl-C aborts at once, except during a checkpoint write, which completes first (a `last`
announced as saved is saved); after an abort the previous `last` stays valid.

Run directories (`rundir`): one run at a time owns out_dir (`.lock`), and a directory that
holds a run is refused unless `resume=True` or `config.overwrite` says what to do with it.
"""

from rnnkit.train.averaging import WeightAverage
from rnnkit.train.callbacks import Callback, FitHooks
from rnnkit.train.checkpoint import (
    CheckpointMeta,
    LoadedCheckpoint,
    RngState,
    check_model_state,
    checkpoint_exists,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    unwrap_model,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import (
    DistInfo,
    cleanup_distributed,
    current_dist,
    distributed_run,
    init_distributed,
    resolve_device,
    single_process,
)
from rnnkit.train.fit import (
    FitResult,
    LRSchedule,
    evaluate_loss,
    fit,
    make_optimizer,
    seed_everything,
)
from rnnkit.train.loading import load_model, save_model
from rnnkit.train.logging import MetricsLogger, read_metrics
from rnnkit.train.plots import plot_loss_curves

__all__ = [
    "Callback",
    "CheckpointMeta",
    "DistInfo",
    "FitHooks",
    "FitResult",
    "LRSchedule",
    "LoadedCheckpoint",
    "MetricsLogger",
    "RngState",
    "TrainConfig",
    "WeightAverage",
    "check_model_state",
    "checkpoint_exists",
    "cleanup_distributed",
    "current_dist",
    "distributed_run",
    "evaluate_loss",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "load_model",
    "load_model_weights",
    "make_optimizer",
    "plot_loss_curves",
    "read_metrics",
    "resolve_device",
    "save_checkpoint",
    "save_model",
    "seed_everything",
    "single_process",
    "unwrap_model",
]
