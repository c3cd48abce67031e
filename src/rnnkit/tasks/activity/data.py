"""The activity task's data: where the cases are, how they split into train and dev (or
folds), which examples the model reads (whole cases, or windows of long ones), and the
augmentation seen while training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.paths import find_data
from rnnkit.data.splits import fold_split, stratified_split
from rnnkit.data.timeseries import SeriesSet, read_series, series_format
from rnnkit.errors import DataError, RnnkitError
from rnnkit.tasks.activity.config import SHARED_FILES, ActivityDataConfig
from rnnkit.tasks.activity.pipeline import ActivityPipeline
from rnnkit.tasks.labelled import Augment

TEST_SPLITS = ("dev", "train", "test", "all")


def data_path(config: ActivityDataConfig) -> Path:
    """The cases' file or folder: --data, else --dataset's shared (or fetched) file."""
    if config.path:
        return Path(config.path)
    if config.dataset == "none":
        raise RnnkitError(
            "no data: pass --data PATH (a .ts, .npz or .csv file of cases, or a UCI HAR "
            "Dataset folder)"
        )
    return find_data(
        None,
        SHARED_FILES[config.dataset],
        f"no {config.dataset} data: run `rnnkit data fetch {config.dataset}`, or pass --data "
        "PATH (.ts, .npz, .csv or a UCI HAR Dataset folder)",
    )


def read_cases(config: ActivityDataConfig, path: Path, split: str = "train") -> SeriesSet:
    """The labelled cases at `path`; `split` "test" reads the test part where the format has
    one (a UCI HAR folder's test/, or X_TEST.ts beside X_TRAIN.ts)."""
    kind = series_format(path, config.format)
    if split == "test":
        if kind == "ts" and "_TRAIN" in path.name:
            path = path.with_name(path.name.replace("_TRAIN", "_TEST"))
        elif kind != "har":
            raise RnnkitError(
                f"{path}: no test split (a UCI HAR folder has test/, X_TRAIN.ts has X_TEST.ts "
                "beside it); evaluate another file with --data FILE"
            )
    cases = read_series(
        path, kind, config.missing, har_split="test" if split == "test" else "train"
    )
    if cases.labels is None:
        raise DataError(
            "the cases have no labels (a .ts needs @classLabel true, an .npz y, "
            "a .csv a label column)",
            cases.source,
        )
    if len(cases.classes) < 2:
        raise DataError(
            f"only one class ({', '.join(cases.classes)}): nothing to tell apart", cases.source
        )
    return cases


def split_cases(cases: SeriesSet, config: ActivityDataConfig) -> tuple[SeriesSet, SeriesSet]:
    """(train, dev): fold `fold` of `folds` when folds > 0, else a dev_fraction of each class;
    stratified, and whole groups (subjects) on one side when the cases have groups."""
    labels = cases.labels or []
    if config.folds > 0:
        train, dev = fold_split(labels, config.folds, config.fold, config.split_seed, cases.groups)
    else:
        train, dev = stratified_split(labels, config.dev_fraction, config.split_seed, cases.groups)
    return cases.subset(train), cases.subset(dev)


def examples(
    pipeline: ActivityPipeline, cases: SeriesSet, labels: Sequence[int]
) -> tuple[list[Tensor], list[int]]:
    """The normalised examples the model reads, and their class ids: each case, or each
    window of a case longer than the pipeline's training window (with the case's class)."""
    xs: list[Tensor] = []
    ys: list[int] = []
    for x, y in zip(pipeline.normalised(cases), labels, strict=True):
        pieces = pipeline.pieces(x)
        xs += pieces
        ys += [y] * len(pieces)
    return xs, ys


def augmenter(config: ActivityDataConfig) -> Augment | None:
    """x (T, C) -> x * (1 + scaling * s) + jitter * e, with s (C,) and e (T, C) standard
    Gaussian draws; None when both deviations are 0."""
    if config.jitter == 0 and config.scaling == 0:
        return None

    def augment(x: Tensor, generator: torch.Generator) -> Tensor:
        scale = 1 + config.scaling * torch.randn(x.shape[1], generator=generator)  # (C,)
        noise = config.jitter * torch.randn(x.shape, generator=generator)  # (T, C)
        return x * scale + noise

    return augment
