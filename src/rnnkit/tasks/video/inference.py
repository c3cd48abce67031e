"""Labelling clips with a trained video model: one activity per clip, or one per frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.batching import make_batch
from rnnkit.data.video import read_clip
from rnnkit.errors import RnnkitError
from rnnkit.models.video import VideoModel
from rnnkit.tasks.recipe import TrainedModel
from rnnkit.tasks.video import load
from rnnkit.tasks.video.config import VideoDataConfig
from rnnkit.tasks.video.data import EVAL_BATCH_SIZE, VideoPipeline


@dataclass(frozen=True)
class Prediction:
    """What the model saw in one clip: `labels`, one for the clip or one per kept frame;
    `scores`, the model's probability of each of them; `probabilities`, every class's
    probability (one mapping for the clip, or one per frame)."""

    clip: str
    labels: list[str]
    scores: list[float]
    probabilities: list[dict[str, float]]


class VideoLabeller(TrainedModel[VideoModel, VideoPipeline, VideoDataConfig]):
    """A trained video model loaded once, ready for many clips.

    >>> VideoLabeller("runs/video/best").predict(["clip.mkv"])  # doctest: +SKIP
    [Prediction(clip='clip.mkv', labels=['left'], scores=[0.99], probabilities=[{...}])]
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)

    def read(self, path: str | Path) -> Tensor:
        """A video file or frame folder as the model's normalised (T, C, H, W) frames."""
        return self.pipeline.normalize(read_clip(path, self.data.frame_spec()))

    def probabilities(self, clips: Sequence[Tensor]) -> list[Tensor]:
        """Each clip's class probabilities: (K,), or (T_i, K) per frame."""
        batch = make_batch(list(clips)).to(self.device)
        with torch.no_grad():
            logits = self.model(batch).logits
            p = self.model.probabilities(logits).cpu()  # (B, K), (B,) or (B, T, K)
        if p.dim() == 1:  # two classes: P(y = 1)
            p = torch.stack([1 - p, p], dim=-1)  # (B, 2)
        if self.pipeline.per_frame:
            return [p[b, : int(n)] for b, n in enumerate(batch.lengths.cpu())]
        return list(p.unbind(0))

    def predict(self, paths: Sequence[str | Path]) -> list[Prediction]:
        """One Prediction per clip, in order."""
        if not paths:
            raise RnnkitError("no clips to label")
        names = self.pipeline.names
        out: list[Prediction] = []
        for start in range(0, len(paths), EVAL_BATCH_SIZE):
            chunk = list(paths[start : start + EVAL_BATCH_SIZE])
            for path, p in zip(
                chunk, self.probabilities([self.read(c) for c in chunk]), strict=True
            ):
                rows = p.reshape(-1, len(names))  # (1, K) or (T, K)
                best = rows.argmax(-1)
                out.append(
                    Prediction(
                        str(path),
                        [names[int(k)] for k in best],
                        [float(rows[i, k]) for i, k in enumerate(best)],
                        [{n: float(v) for n, v in zip(names, row, strict=True)} for row in rows],
                    )
                )
        return out


def predict(
    checkpoint: str | Path, clips: Sequence[str | Path], device: str | torch.device = "cpu"
) -> list[Prediction]:
    """Label video files or frame folders with the model in `checkpoint`."""
    return VideoLabeller(checkpoint, device).predict(clips)
