"""Activity recognition from video frames: the recipe.

Each frame x<t> (C, H, W) goes through a small CNN to features f<t> (F,), and a GRU reads
f<1..T> (`rnnkit.models.video.VideoModel`):
  - preset "digits" (default, many-to-one): the mean of the frames' states -> softmax over
    the activities; metric accuracy;
  - preset "frames" (many-to-many): a bidirectional GRU labels every frame with the activity
    under way; metric per-frame accuracy.
Data: with --data, a user's labels TSV (`clip<TAB>label`, or one label per frame for
"frames"; clips are video files or folders of numbered frames), split by class into train
and dev (--dev-fraction, or --folds/--fold). Without it, no real video data set ships with
rnnkit: the clips are GENERATED in memory from scikit-learn's 8 x 8 handwritten digits
(`rnnkit.data.moving_digits`): a digit moves left, right, up or down, or turns clockwise or
counterclockwise; training clips use digit images 0-1077 (new clips each epoch), dev clips
images 1078-1437 and test clips images 1438-1796, so both score clips of unseen digits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.batch import Batch
from rnnkit.data.moving_digits import MOTIONS, SPLITS
from rnnkit.data.splits import fold_split, stratified_split
from rnnkit.data.video import read_clip_labels
from rnnkit.errors import RnnkitError
from rnnkit.models.tagger import TaggerConfig
from rnnkit.models.video import VideoConfig, VideoModel
from rnnkit.tasks.labelled import classification_result, evaluate_classifier
from rnnkit.tasks.recipe import Loaded, Prepared, load_run, report_data, run_training
from rnnkit.tasks.video.config import METRICS, PRESETS, VideoDataConfig, VideoTaskConfig
from rnnkit.tasks.video.data import (
    EVAL_BATCH_SIZE,
    Labels,
    VideoPipeline,
    clip_batches,
    frame_evaluate,
    frame_scores,
    generated,
    label_ids,
    read_labelled,
)
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import Evaluate, FitResult, TrainBatches
from rnnkit.train.sources import on_device

NAME = "video"
HELP = "activity in video clips: one label per clip, or one per frame (preset frames)"
# Set from the data: the frames' channels and size, the feature size, the classes; and
# whether generated clips switch motion (the per-frame preset's).
HIDDEN = frozenset(
    {
        "vocab_size",
        "embedding_dim",
        "num_features",
        "num_classes",
        "num_tags",
        "in_channels",
        "frame_height",
        "frame_width",
        "size",
        "switch",
    }
)

__all__ = [
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "VideoDataConfig",
    "VideoPipeline",
    "VideoTaskConfig",
    "build_model",
    "evaluate",
    "load",
    "prepare",
    "train",
]
Data = tuple[list[torch.Tensor], Labels]


def is_per_frame(config: VideoTaskConfig) -> bool:
    return isinstance(config.model.sequence, TaggerConfig)


def sized_model(config: VideoTaskConfig, classes: int) -> VideoConfig:
    """The model config with the frames' channels and size, the sequence encoder reading F
    features, and `classes` outputs."""
    d, m = config.data, config.model
    frames = replace(
        m.frames, in_channels=d.frame_spec().channels, frame_height=d.height, frame_width=d.width
    )
    seq = m.sequence
    encoder = replace(seq.encoder, num_features=frames.frame_features)
    if isinstance(seq, TaggerConfig):
        return VideoConfig(frames, replace(seq, encoder=encoder, num_tags=classes))
    if classes < 2:
        raise RnnkitError(f"a clip classifier needs at least 2 labels, the data has {classes}")
    return VideoConfig(frames, replace(seq, encoder=encoder, num_classes=classes))


def _train_seed(d: VideoDataConfig, epoch: int) -> int:
    """The seed of the generated training clips of `epoch` (epoch 0's without fresh_clips)."""
    return d.data_seed * 100_003 + (epoch if d.fresh_clips else 0) + 1


def generated_split(d: VideoDataConfig, split: str, per_frame: bool, epoch: int = 0) -> Data:
    """Generated clips of a split: the fixed dev and test clips, or an epoch's training ones."""
    if split not in SPLITS:
        raise RnnkitError(f"--split must be one of {', '.join(SPLITS)} for generated clips")
    if split == "train":
        return generated("train", d.train_clips, _train_seed(d, epoch), d, per_frame)
    n = d.dev_clips if split == "dev" else d.test_clips
    return generated(split, n, d.data_seed, d, per_frame)


def user_clips(
    d: VideoDataConfig, per_frame: bool, names: tuple[str, ...] | None = None
) -> tuple[Path, Data, tuple[str, ...]]:
    """(the TSV, every clip it lists with class-id labels, the class names: `names`, or the
    sorted labels found)."""
    assert d.path is not None
    tsv, items = read_clip_labels(d.path)
    clips, labels = read_labelled(items, d, per_frame, tsv)
    if names is None:
        names = tuple(sorted({x for given in labels for x in given}))
    return tsv, (clips, label_ids(labels, names, items, tsv)), names


def user_split(d: VideoDataConfig, labels: Labels) -> tuple[list[int], list[int]]:
    """(train, dev) indices of a user's clips, stratified by each clip's (first) label."""
    keys = [int(y.reshape(-1)[0]) for y in labels]
    if d.folds:
        return fold_split(keys, d.folds, d.fold, d.data_seed)
    return stratified_split(keys, d.dev_fraction, d.data_seed)


def _generated_data(
    config: VideoTaskConfig, dist: DistInfo | None
) -> tuple[VideoPipeline, TrainBatches, Data]:
    """Generated clips: the pipeline (fitted on epoch 0's training clips), the training
    batches (new clips each epoch with fresh_clips) and the dev clips."""
    d, per_frame = config.data, is_per_frame(config)
    if d.folds:
        raise RnnkitError(
            "--folds cross-validates a user's clips (--data); generated clips "
            "have their own dev digit images"
        )
    train, dev = SPLITS["train"], SPLITS["dev"]
    fresh = "new ones each epoch" if d.fresh_clips else "the same ones each epoch"
    report_data(
        NAME,
        dist,
        f"{d.train_clips} clips generated in memory from scikit-learn's "
        f"digits by rnnkit.data.moving_digits (seed {d.data_seed}; digit images "
        f"{train[0]}-{train[1] - 1}, {fresh}), dev {d.dev_clips} clips of images "
        f"{dev[0]}-{dev[1] - 1}",
    )
    first = generated_split(d, "train", per_frame)
    pipeline = VideoPipeline.fit(MOTIONS, first[0], per_frame)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    size, seed = config.train.batch_size, config.train.seed

    def batches(epoch: int) -> list[Batch]:
        fresh = d.fresh_clips and epoch > 0
        clips, labels = generated_split(d, "train", per_frame, epoch) if fresh else first
        clips = [pipeline.normalize(x) for x in clips]
        return clip_batches(clips, labels, size, seed, True, per_frame, rank, world)(epoch)

    return pipeline, batches, generated_split(d, "dev", per_frame)


def prepare(config: VideoTaskConfig, dist: DistInfo | None = None) -> Prepared[VideoTaskConfig]:
    """The clips (generated, or the user's split into train and dev), their normalisation
    fitted on the training frames, and the batches."""
    d, per_frame = config.data, is_per_frame(config)
    if d.path is None:
        pipeline, train, dev = _generated_data(config, dist)
    else:
        tsv, (clips, labels), names = user_clips(d, per_frame)
        report_data(NAME, dist, tsv)
        train_idx, dev_idx = user_split(d, labels)
        pipeline = VideoPipeline.fit(names, [clips[i] for i in train_idx], per_frame)
        rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
        train = clip_batches(
            [pipeline.normalize(clips[i]) for i in train_idx],
            [labels[i] for i in train_idx],
            config.train.batch_size,
            config.train.seed,
            True,
            per_frame,
            rank,
            world,
        )
        dev = ([clips[i] for i in dev_idx], [labels[i] for i in dev_idx])
        d = replace(d, path=str(tsv))
    dev_clips = [pipeline.normalize(x) for x in dev[0]]
    dev_batches = clip_batches(dev_clips, dev[1], EVAL_BATCH_SIZE, 0, False, per_frame)(0)
    config = replace(config, data=d, model=sized_model(config, len(pipeline.names)))
    evaluate: Evaluate = frame_evaluate(pipeline.names) if per_frame else evaluate_classifier
    return Prepared(config, train, lambda: dev_batches, evaluate, extras=pipeline.to_extras())


def build_model(config: VideoTaskConfig) -> nn.Module:
    """The untrained video model a config describes (sized for the generated motions until
    the data says otherwise)."""
    return VideoModel(sized_model(config, config.model.num_classes))


def train(config: VideoTaskConfig, resume: bool = False) -> FitResult:
    """Train on the clips; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def load(checkpoint: str | Path) -> Loaded[VideoModel, VideoPipeline, VideoDataConfig]:
    """The trained model, its pipeline (class names, normalisation) and data config."""
    model, meta, data = load_run(checkpoint, NAME, VideoModel, VideoDataConfig)
    return Loaded(model, VideoPipeline.from_extras(meta.extras, checkpoint), data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    *,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Loss, accuracy (per clip, or per frame), macro F1, each class's report and the
    confusion matrix of a trained model on: generated clips ("dev" by default, "test": clips
    of digit images never trained on, "train") when it was trained on them and `data` is
    None; else the labels TSV `data` (or the model's own): "all" its clips (the default with
    `data`), or the "dev" (the default without) or "train" part of the model's split."""
    trained = load(checkpoint)
    model, pipeline = trained.model.to(device), trained.pipeline
    d = trained.data if data is None else replace(trained.data, path=data)
    per_frame = pipeline.per_frame
    if d.path is None:
        split = split or "dev"
        clips, labels = generated_split(d, split, per_frame)
    else:
        split = split or ("all" if data is not None else "dev")
        if split not in ("all", "dev", "train"):
            raise RnnkitError(f"--split must be all, dev or train for a labels file, got {split!r}")
        _, (clips, labels), _ = user_clips(d, per_frame, pipeline.names)
        if split != "all":
            chosen = user_split(d, labels)[split == "dev"]
            clips, labels = [clips[i] for i in chosen], [labels[i] for i in chosen]
    clips = [pipeline.normalize(x) for x in clips]
    batches = list(
        on_device(clip_batches(clips, labels, EVAL_BATCH_SIZE, 0, False, per_frame)(0), device)
    )
    if per_frame:
        result = frame_scores(model, batches, pipeline.names)
    else:
        result = classification_result(model, batches, pipeline.names)
    return {**result, "clips": len(clips), "split": split}
