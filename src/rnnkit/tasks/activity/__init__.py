"""Activity recognition from sensor streams (and other multichannel time series): the recipe.

A case x<1..T_x> of C sensor channels (accelerometer, gyroscope, LPC coefficients) is
normalised per channel with the training cases' mean and deviation, read by a bidirectional
GRU, and the mean of its states gives one class (many-to-one):

    x<t> (C,) -> (x<t> - mean) / std -> BiGRU -> a<t> (2H,) -> mean over t -> softmax (K,)

Presets: "basicmotions" (default; UEA BasicMotions, 4 activities), "japanese-vowels" (UCI
Japanese Vowels, 9 speakers) and "har" (UCI HAR inertial signals, --data FOLDER). Data: the
readers of `rnnkit.data.timeseries` (.ts, UCI HAR, .npz, .csv). The dev split is a stratified
--dev-fraction of the training file, whole subjects on one side where the data names them,
or fold --fold of --folds (`rnnkit crossval activity --folds 5` trains them all). With
--window L, cases longer than L are cut into windows of L steps (stride --window-stride),
each labelled with its case's class; the model's window is what `predict --stride` cuts a
long recording into. Metrics: accuracy (the default --metric) and macro F1; `evaluate`
adds each class's precision, recall and F1 and the confusion matrix (and its picture).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.batch import Batch
from rnnkit.data.timeseries import ChannelStats, SeriesSet, series_format
from rnnkit.diagnose.plots import plot_confusion_matrix
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.activity.config import (
    METRICS,
    PRESETS,
    ActivityConfig,
    ActivityDataConfig,
)
from rnnkit.tasks.activity.data import (
    TEST_SPLITS,
    augmenter,
    data_path,
    examples,
    read_cases,
    split_cases,
)
from rnnkit.tasks.activity.pipeline import ActivityPipeline
from rnnkit.tasks.labelled import class_batches, classification_result, evaluate_classifier
from rnnkit.tasks.recipe import Loaded, Prepared, load_run, report_data, run_training
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult
from rnnkit.train.sources import on_device

NAME = "activity"
HELP = "activity recognition from sensor streams: one class per recording (many-to-one)"
# Set from the data: the channels as features, the classes.
HIDDEN = frozenset({"vocab_size", "embedding_dim", "num_features", "num_classes"})
EVAL_BATCH_SIZE = 256

__all__ = [
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "ActivityConfig",
    "ActivityDataConfig",
    "ActivityPipeline",
    "build_model",
    "evaluate",
    "load",
    "prepare",
    "train",
]


def sized_model(model: ClassifierConfig, channels: int, classes: int) -> ClassifierConfig:
    """The classifier config reading `channels` features and telling `classes` apart."""
    encoder = replace(model.encoder, num_features=channels, vocab_size=0)
    return replace(model, encoder=encoder, num_classes=classes)


def prepare(config: ActivityConfig, dist: DistInfo | None = None) -> Prepared[ActivityConfig]:
    """Read the cases, split them, fit the normalisation on the training part, and make the
    batches (windows of long cases when --window is given; augmented while training)."""
    d = config.data
    path = data_path(d)
    report_data(NAME, dist, path)
    cases = read_cases(d, path)
    train_cases, dev_cases = split_cases(cases, d)
    longest = max(train_cases.lengths)
    pipeline = ActivityPipeline(
        cases.classes,
        cases.channels,
        ChannelStats.fit(train_cases.series),
        d.window or longest,
        d.stride,
        windowed=d.window > 0,
    )
    train_x, train_y = examples(pipeline, train_cases, train_cases.targets())
    dev_x, dev_y = examples(pipeline, dev_cases, dev_cases.targets())
    model = sized_model(config.model, cases.num_channels, len(cases.classes))
    config = replace(config, data=replace(d, path=str(path)), model=model)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    size, seed = config.train.batch_size, config.train.seed
    train = class_batches(train_x, train_y, size, seed, True, rank, world, augmenter(d))
    dev = class_batches(dev_x, dev_y, EVAL_BATCH_SIZE, 0, shuffle=False)(0)
    return Prepared(config, train, lambda: dev, evaluate_classifier, pipeline.to_extras())


def build_model(config: ActivityConfig) -> nn.Module:
    """The untrained classifier a config describes."""
    return SequenceClassifier(config.model)


def train(config: ActivityConfig, resume: bool = False) -> FitResult:
    """Train on the cases; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def load(
    checkpoint: str | Path,
) -> Loaded[SequenceClassifier, ActivityPipeline, ActivityDataConfig]:
    """The trained classifier, its pipeline (classes, channels, normalisation, window) and the
    data config it was trained on."""
    model, meta, data = load_run(checkpoint, NAME, SequenceClassifier, ActivityDataConfig)
    return Loaded(model, ActivityPipeline.from_extras(meta.extras, checkpoint), data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    *,
    confusion: str | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Loss, accuracy, macro F1, each class's precision/recall/F1/support and the confusion
    matrix (rows: true class) of a trained model on one split: "dev" (default: the split it
    was trained beside, recomputed from its data config), "train", "test" (X_TEST.ts beside
    X_TRAIN.ts, or a UCI HAR folder's test/), or "all" (every case; the default for --data
    PATH other than the model's own). `confusion`: also draw the matrix into that PNG."""
    trained = load(checkpoint)
    d = trained.data
    if data is not None:
        d = replace(d, path=data, format="auto")
    split = split or ("dev" if data is None else "all")
    if split not in TEST_SPLITS:
        raise RnnkitError(f"--split must be one of {', '.join(TEST_SPLITS)}, got {split!r}")
    path = data_path(d)
    if split == "all" and series_format(path, d.format) == "har":
        split = "test"
    cases = read_cases(d, path, "test" if split == "test" else "train")
    if split in ("dev", "train"):
        cases = split_cases(cases, d)[0 if split == "train" else 1]
    pipeline, model = trained.pipeline, trained.model.to(device)
    labels = pipeline.class_ids(cases.labels or [], cases.source)
    batches = _case_batches(pipeline, cases, labels)
    result = classification_result(model, on_device(batches, device), pipeline.classes)
    result = {"split": split, "cases": len(cases), "source": cases.source, **result}
    if confusion is not None:
        title = f"{Path(cases.source).name} ({split}): {result['accuracy']:.1%} of {len(cases)}"
        result["confusion_png"] = str(
            plot_confusion_matrix(result["confusion"], pipeline.classes, confusion, title)
        )
    return result


def _case_batches(pipeline: ActivityPipeline, cases: SeriesSet, labels: list[int]) -> list[Batch]:
    x, y = examples(pipeline, cases, labels)
    return class_batches(x, y, EVAL_BATCH_SIZE, 0, shuffle=False)(0)
