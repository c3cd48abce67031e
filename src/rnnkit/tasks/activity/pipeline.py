"""What a trained activity model needs besides its weights: the class and channel names, the
per-channel normalisation fitted on its training cases, and its window; saved in the
checkpoint's extras (JSON) and read back by `load`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.data.timeseries import ChannelStats, SeriesSet, window_starts
from rnnkit.errors import CheckpointError, DataError


@dataclass(frozen=True)
class ActivityPipeline:
    """classes: the class names in id order; channels: the C channel names the model read;
    stats: the training cases' per-channel mean and deviation; window: the steps of one
    window (`predict --stride` cuts recordings into these); stride: the training windows'
    stride; windowed: whether training cut long cases into windows (then a longer case is
    classified by the mean of its windows' probabilities)."""

    classes: tuple[str, ...]
    channels: tuple[str, ...]
    stats: ChannelStats
    window: int
    stride: int
    windowed: bool

    def to_extras(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "channels": list(self.channels),
            "normalisation": self.stats.to_dict(),
            "window": self.window,
            "window_stride": self.stride,
            "windowed": self.windowed,
        }

    @staticmethod
    def from_extras(extras: Mapping[str, Any], checkpoint: str | Path) -> ActivityPipeline:
        try:
            return ActivityPipeline(
                tuple(extras["classes"]),
                tuple(extras["channels"]),
                ChannelStats.from_dict(extras["normalisation"]),
                int(extras["window"]),
                int(extras["window_stride"]),
                bool(extras["windowed"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {checkpoint}: no activity pipeline ({e})") from None

    def check_channels(self, count: int, source: str) -> None:
        if count != len(self.channels):
            raise DataError(
                f"{count} channels, but the model reads {len(self.channels)} "
                f"({', '.join(self.channels)})",
                source,
            )

    def normalised(self, cases: SeriesSet) -> list[Tensor]:
        """Each case's (T_i, C) values, normalised."""
        self.check_channels(cases.num_channels, cases.source)
        return [self.stats.apply(x) for x in cases.series]

    def pieces(self, x: Tensor) -> list[Tensor]:
        """What the model reads of one normalised case: the case itself, or, when the model
        was trained on windows and the case is longer than one, its windows."""
        if not self.windowed or len(x) <= self.window:
            return [x]
        return [x[s : s + self.window] for s in window_starts(len(x), self.window, self.stride)]

    def class_ids(self, labels: Sequence[str], source: str) -> list[int]:
        """Labels -> the model's class ids; DataError for a class the model does not know."""
        ids = {name: i for i, name in enumerate(self.classes)}
        unknown = sorted(set(labels) - set(ids))
        if unknown:
            raise DataError(
                f"labels {unknown} are not classes of the model ({', '.join(self.classes)})", source
            )
        return [ids[label] for label in labels]
