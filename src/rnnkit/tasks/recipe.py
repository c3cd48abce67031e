"""The recipe contract: the parts every task module has, and the steps written once for all.

A task recipe (`rnnkit.tasks.music`, `.sentiment`, `.ner`, `.text`) is a module with

    NAME      the task's name: `rnnkit train NAME`, and the task recorded in its checkpoints
    HELP      one line for `rnnkit --help`
    PRESETS   named starting configurations, "default" among them; each a frozen dataclass
              with three parts: `data` (which files, how they become ids), `model` (the model
              config of `rnnkit.models`) and `train` (`TrainConfig`)
    HIDDEN    config fields the task sets itself from the data (not command-line options)
    METRICS   the names of the dev metrics its evaluation reports, one of which
              `config.train.metric` must be (checked before any data is read)
    prepare(config, dist)   read the data (naming the file it uses, or saying how to get
              it), build the vocabularies and the batches: a `Prepared`
    build_model(config)     the untrained model a config describes
    train(config, resume)   prepare, build, fit: `run_training` does it for every task
    evaluate(checkpoint, data, split, device=...)   metrics of a trained model as a dict
    load(checkpoint)        the trained model with what it needs for inference: a `Loaded`

and whatever verbs it adds (generate, predict, tag). The command line is written against this
contract alone (`rnnkit.cli`), and a test runs every recipe through it. The smallest recipe,
`rnnkit.tasks.music`, is the example to copy for a new task.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch import nn

from rnnkit.config import from_dict, to_dict
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.models.registry import describe_model
from rnnkit.train.checkpoint import CheckpointMeta, checkpoint_exists, checkpoint_extras
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import DistInfo, current_dist
from rnnkit.train.fit import DevBatches, Evaluate, FitResult, TrainBatches, fit
from rnnkit.train.loading import load_model
from rnnkit.train.rundir import check_run_dir

__all__ = [
    "Loaded",
    "Prepared",
    "Recipe",
    "TaskConfig",
    "TrainedModel",
    "load_run",
    "recorded_config",
    "report_data",
    "run_training",
]


class TaskConfig(Protocol):
    """What every task's configuration has: data, model and training parts."""

    @property
    def data(self) -> Any: ...

    @property
    def model(self) -> Any: ...

    @property
    def train(self) -> TrainConfig: ...


C = TypeVar("C", bound=TaskConfig)
M = TypeVar("M", bound=nn.Module)
P = TypeVar("P")
D = TypeVar("D")


@dataclass(frozen=True)
class Prepared(Generic[C]):
    """A task's data, ready for `fit`.

    config:  the task config with what the data decides filled in (vocabulary sizes, tags)
             and the data paths it actually read: `build_model(config)` sizes the model to
             the data, and `config.data` is saved in the checkpoint.
    extras:  what inference needs besides the weights (vocabularies, ...), saved in the
             checkpoint beside the data config.
    """

    config: C
    train_batches: TrainBatches
    dev_batches: DevBatches | None
    evaluate: Evaluate
    extras: dict[str, Any]


@dataclass(frozen=True)
class Loaded(Generic[M, P, D]):
    """A trained model and what it needs for inference: its input pipeline (vocabularies,
    tokenisation; None where raw inputs need none) and the data config it was trained on."""

    model: M
    pipeline: P
    data: D


class TrainedModel(Generic[M, P, D]):
    """A trained model loaded once from a checkpoint onto a device, with its pipeline and the
    data config it was trained on: the base of the tasks' many-call inference objects
    (`SentimentClassifier`, `NERTagger`)."""

    def __init__(
        self, loaded: Loaded[M, P, D], checkpoint: str | Path, device: str | torch.device
    ) -> None:
        self.device = torch.device(device)
        self.model: M = loaded.model.to(self.device)
        self.pipeline: P = loaded.pipeline
        self.data: D = loaded.data  # the data config it was trained on
        self.checkpoint = str(checkpoint)


class Recipe(Protocol[C]):
    """The contract of a task module (see the module docstring). mypy checks each task module
    against it in `rnnkit.tasks.RECIPES`."""

    NAME: str
    HELP: str
    HIDDEN: frozenset[str]
    METRICS: tuple[str, ...]

    @property
    def PRESETS(self) -> Mapping[str, C]: ...

    def prepare(self, config: C, dist: DistInfo | None = None) -> Prepared[C]: ...

    def build_model(self, config: C) -> nn.Module: ...

    def train(self, config: C, resume: bool = False) -> FitResult: ...

    def evaluate(
        self,
        checkpoint: str | Path,
        data: str | None = None,
        split: str | None = None,
        *,
        device: str | torch.device = "cpu",
    ) -> dict[str, Any]: ...

    def load(self, checkpoint: str | Path) -> Loaded[Any, Any, Any]: ...


def run_training(
    name: str,
    config: C,
    prepare: Callable[[C, DistInfo | None], Prepared[C]],
    build_model: Callable[[C], nn.Module],
    resume: bool = False,
    prepare_resumed: Callable[[C, DistInfo | None, Mapping[str, Any]], Prepared[C]] | None = None,
) -> FitResult:
    """Train a task: prepare its data, build the model from the seed, fit, checkpoint.

    Checkpoints and logs go to config.train.out_dir; each records the task's name, the model's
    description, the whole task config (`recorded_config`), its data config and the recipe's
    extras (vocabularies), which is all `load` needs. A directory that holds a run is refused
    before any data is read, unless resume or config.train.overwrite (`rnnkit.train.rundir`).

    resume: continue the run in out_dir on the data it recorded: data settings left None
    (the file) take the recorded values, different ones are refused unless
    config.train.change_data; `prepare_resumed(config, dist, recorded extras)` prepares the
    data with the recorded vocabularies (without it the rebuilt ones must equal those).
    """
    check_metric(name, config.train)
    dist = current_dist(config.train.device)
    out = config.train.out_dir
    check_run_dir(out, resume, config.train.overwrite)
    recorded: dict[str, Any] | None = None
    if resume:
        assert out is not None  # check_run_dir refuses resume without a directory
        if not checkpoint_exists(Path(out) / "last"):
            raise RnnkitError(f"--resume: {out} holds no run to continue (no {out}/last)")
        recorded = checkpoint_extras(Path(out) / "last", expected_task=name)
        config = _replaced(config, data=_resumed_data(config, recorded, out))
    if recorded is not None and prepare_resumed is not None:
        prepared = prepare_resumed(config, dist, recorded)
    else:
        prepared = prepare(config, dist)
    extras = {**prepared.extras, "data": to_dict(prepared.config.data)}
    if recorded is not None:
        _check_same_pipeline(prepared.extras, recorded, str(out))
    torch.manual_seed(config.train.seed)
    model = build_model(prepared.config)
    return fit(
        model,
        prepared.train_batches,
        prepared.dev_batches,
        config.train,
        evaluate=prepared.evaluate,
        task=name,
        model_config=describe_model(model),
        extras={**extras, "config": to_dict(prepared.config)},
        resume=resume,
        dist=dist,
    )


def recorded_config(name: str, config_type: type[C], out_dir: str | Path) -> C | None:
    """The task config the run in `out_dir` recorded in its `last` checkpoint (overwrite and
    change_data off), to resume it with; None when there is no such run, or it was made by an
    rnnkit that recorded none."""
    if not checkpoint_exists(Path(out_dir) / "last"):
        return None
    extras = checkpoint_extras(Path(out_dir) / "last", expected_task=name)
    if "config" not in extras:
        return None
    try:
        config = from_dict(config_type, extras["config"])
    except RnnkitError as e:
        raise CheckpointError(f"checkpoint {out_dir}/last: unusable task config ({e})") from None
    return _replaced(config, train=replace(config.train, overwrite=False, change_data=False))


def _replaced(config: C, **changes: Any) -> C:
    """dataclasses.replace for a task config (a frozen dataclass the TypeVar cannot say)."""
    return replace(config, **changes)  # type: ignore[type-var]


def _resumed_data(config: C, recorded: Mapping[str, Any], out: str) -> Any:
    """config.data with the settings left None taken from the run's recorded data config;
    settings that differ from it are refused unless config.train.change_data."""
    given = config.data
    try:
        saved = from_dict(type(given), recorded.get("data", {}))
    except RnnkitError as e:
        raise CheckpointError(f"checkpoint {out}/last: unusable data config ({e})") from None
    values, changed = {}, []
    for f in dataclasses.fields(given):
        new, old = getattr(given, f.name), getattr(saved, f.name)
        if new is None or new == old or _same_file(new, old):
            values[f.name] = old
        else:
            values[f.name] = new
            option = "--" + f.metadata.get("option", f.name).replace("_", "-")
            changed.append(f"{option} {new} (the run's: {old})")
    if changed and not config.train.change_data:
        raise RnnkitError(
            f"--resume continues the run in {out} on the data it recorded, but "
            f"{'; '.join(changed)}: drop the option to resume on the run's data, or add "
            "--change-data to continue its weights on other data (its vocabulary is kept)"
        )
    return replace(given, **values)


def _same_file(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and Path(a).resolve() == Path(b).resolve()


def _check_same_pipeline(built: Mapping[str, Any], recorded: Mapping[str, Any], out: str) -> None:
    """The vocabularies a resumed run's data gave must be the run's: ids must keep meaning."""
    differ = sorted(k for k in built if k in recorded and built[k] != recorded[k])
    if differ:
        raise RnnkitError(
            f"--resume: the data gives a {', '.join(differ)} other than the run's in {out}, so "
            "the trained weights would be read under other ids; resume on the run's own data"
        )


def report_data(task: str, dist: DistInfo | None, *sources: str | Path) -> None:
    """One line naming the data a recipe trains on (logged by the main process), so that no
    data is ever used without the user seeing which: `music: training on /path/train.json`."""
    if dist is None or dist.is_main:
        where = ", ".join(str(s) for s in sources)
        logging.getLogger("rnnkit.tasks").info("%s: training on %s", task, where)


def check_metric(name: str, train: TrainConfig) -> None:
    """Refuse a `train.metric` that task `name`'s evaluation does not report (its recipe's
    METRICS), before any data is read or any epoch is run. A name that is not a registered
    task is not checked."""
    from rnnkit.tasks import RECIPES

    recipe = RECIPES.get(name)
    if recipe is not None and train.metric not in recipe.METRICS:
        raise RnnkitError(
            f"--metric must be one of {', '.join(recipe.METRICS)} for task {name}, "
            f"got {train.metric!r}"
        )


def load_run(
    checkpoint: str | Path, name: str, model_type: type[M], data_type: type[D]
) -> tuple[M, CheckpointMeta, D]:
    """A task's trained model (in eval mode), its checkpoint metadata and the data config it
    was trained on. CheckpointError when the checkpoint belongs to another task or model."""
    model, meta = load_model(checkpoint, expected_task=name)
    if not isinstance(model, model_type):
        raise CheckpointError(
            f"checkpoint {checkpoint}: holds a {type(model).__name__}, not a {model_type.__name__}"
        )
    try:
        data = from_dict(data_type, meta.extras.get("data", {}))
    except RnnkitError as e:
        raise CheckpointError(f"checkpoint {checkpoint}: unusable data config ({e})") from None
    return model, meta, data
