"""The video task's examples: generated moving-digit clips or a user's labelled clips, their
normalisation (saved in the checkpoint), batches and per-frame scores."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.moving_digits import make_clips
from rnnkit.data.sequences import epoch_batches
from rnnkit.data.video import (
    ClipLabels,
    decode_clip,
    normalize_frames,
    resize_frames,
    subsample,
    to_frames,
)
from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.metrics.classification import class_report, confusion_matrix
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput
from rnnkit.tasks.labelled import class_batches
from rnnkit.tasks.video.config import VideoDataConfig

EVAL_BATCH_SIZE = 32
Labels = list[Tensor]  # each () a class id, or (T_i,) one per frame
Scores = dict[str, float]


@dataclass(frozen=True)
class VideoPipeline:
    """How frames in [0, 1] become model inputs, and what the classes are called: names
    (class id -> label), mean and std (per channel, of the training frames), per_frame (one
    label per frame, or per clip)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    per_frame: bool

    @classmethod
    def fit(cls, names: Sequence[str], clips: Sequence[Tensor], per_frame: bool) -> VideoPipeline:
        """Each channel's mean and deviation over every pixel of the (T, C, H, W) clips."""
        pixels = torch.cat([c.transpose(0, 1).reshape(c.shape[1], -1) for c in clips], 1)
        mean, std = pixels.double().mean(1), pixels.double().std(1).clamp_min(1e-3)
        return cls(tuple(names), tuple(mean.tolist()), tuple(std.tolist()), per_frame)

    def normalize(self, clip: Tensor) -> Tensor:
        return normalize_frames(clip, list(self.mean), list(self.std))

    def to_extras(self) -> dict[str, Any]:
        return {
            "labels": list(self.names),
            "mean": list(self.mean),
            "std": list(self.std),
            "per_frame": self.per_frame,
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> VideoPipeline:
        try:
            mean, std = tuple(map(float, extras["mean"])), tuple(map(float, extras["std"]))
            return cls(tuple(map(str, extras["labels"])), mean, std, bool(extras["per_frame"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {where}: unusable video pipeline ({e})") from None


def generated(
    split: str, n: int, seed: int, config: VideoDataConfig, per_frame: bool
) -> tuple[list[Tensor], Labels]:
    """`n` moving-digit clips of `split` as (T, C, H, W) frames in [0, 1] (every frame_step-th,
    at most max_frames, resized, RGB repeated from gray when not grayscale) with their
    motion ids: one per clip, or one per frame."""
    size = max(config.height, config.width)
    spec = replace(config.digits, size=size, switch=per_frame)
    clips = make_clips(split, n, seed, spec)
    kept = subsample(list(range(spec.frames)), config.frame_spec())
    frames = clips.frames[:, kept]  # (N, T, 1, S, S)
    N, T = frames.shape[:2]
    frames = resize_frames(frames.flatten(0, 1), config.height, config.width)
    frames = frames.reshape(N, T, 1, config.height, config.width)
    if not config.grayscale:
        frames = frames.expand(-1, -1, 3, -1, -1)
    labels = clips.labels[:, kept] if per_frame else clips.labels
    return list(frames.unbind(0)), list(labels.unbind(0))


def read_labelled(
    items: Sequence[ClipLabels], config: VideoDataConfig, per_frame: bool, tsv: Path
) -> tuple[list[Tensor], list[list[str]]]:
    """Each listed clip's (T, C, H, W) frames in [0, 1] and its labels: one per clip, or one
    per kept frame. A DataError names the TSV line of a clip that is unreadable, or whose
    labels do not fit (per frame: one for each of the clip's frames)."""
    spec = config.frame_spec()
    clips, labels = [], []
    for item in items:
        try:
            raw = decode_clip(item.path)  # every frame, to match per-frame labels
        except DataError as e:
            raise DataError(str(e), tsv, item.line) from None
        given = list(item.labels)
        if per_frame and len(given) != len(raw):
            raise DataError(
                f"{len(given)} labels for the {len(raw)} frames of {item.path.name}: the "
                "per-frame model needs one label per frame",
                tsv,
                item.line,
            )
        if not per_frame and len(given) != 1:
            raise DataError(
                f"{len(given)} labels: a clip classifier needs one label per clip (per-frame "
                "labels need --preset frames)",
                tsv,
                item.line,
            )
        kept = subsample(list(range(len(raw))), spec)
        clips.append(to_frames(raw[kept], spec))
        labels.append([given[i] for i in kept] if per_frame else given)
    return clips, labels


def label_ids(
    labels: Sequence[list[str]], names: Sequence[str], items: Sequence[ClipLabels], tsv: Path
) -> Labels:
    """Labels as class-id tensors: () per clip, (T,) per frame; a DataError names the line
    of a label the model does not know."""
    ids = {name: i for i, name in enumerate(names)}
    out = []
    for item, given in zip(items, labels, strict=True):
        unknown = [x for x in given if x not in ids]
        if unknown:
            raise DataError(
                f"label {unknown[0]!r} is not one of the model's: {', '.join(names)}",
                tsv,
                item.line,
            )
        out.append(torch.tensor([ids[x] for x in given]))
    return out


def clip_batches(
    clips: Sequence[Tensor],
    labels: Labels,
    batch_size: int,
    seed: int,
    shuffle: bool,
    per_frame: bool,
    rank: int = 0,
    world_size: int = 1,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: clips (B, T, C, H, W) bucketed by length, shuffled per epoch when
    `shuffle`; targets (B,) class ids (`rnnkit.tasks.labelled.class_batches`), or (B, T) per
    frame, padded with -100."""
    if not per_frame:
        ids = [int(y.reshape(-1)[0]) for y in labels]
        return class_batches(clips, ids, batch_size, seed, shuffle, rank, world_size)
    return epoch_batches(list(zip(clips, labels)), batch_size, seed, shuffle, rank, world_size)


def frame_scores(
    model: nn.Module, batches: Iterable[Batch], names: Sequence[str]
) -> dict[str, Any]:
    """The per-frame model's loss (per real frame), frame accuracy, macro F1 over the
    classes, each class's report and the confusion matrix of the real frames."""
    means = RunningMeans()
    confusion = torch.zeros(len(names), len(names), dtype=torch.long)
    with torch.no_grad():
        for batch in batches:
            out: ModelOutput = model(batch)
            if out.loss is None or batch.targets is None:
                raise RnnkitError("the evaluation batches carry no targets")
            means.add("loss", out.loss, out.count)
            found = out.logits.argmax(-1)[batch.mask].cpu()  # (frames,)
            confusion += confusion_matrix(batch.targets[batch.mask].cpu(), found, len(names))
    if not means.names():
        raise RnnkitError("the evaluation split yielded no batches")
    report = class_report(confusion, names)
    return {
        "loss": means.means()["loss"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "frames": int(confusion.sum()),
        "classes": report["classes"],
        "confusion": confusion.tolist(),
    }


def frame_evaluate(
    names: Sequence[str],
) -> Callable[[nn.Module, Iterable[Batch]], dict[str, float]]:
    """The per-frame model's dev evaluation: {"loss", "accuracy", "macro_f1"}."""

    def evaluate(model: nn.Module, batches: Iterable[Batch]) -> Scores:
        scores = frame_scores(model, batches, names)
        return {k: float(scores[k]) for k in ("loss", "accuracy", "macro_f1")}

    return evaluate
