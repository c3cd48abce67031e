"""From audio to the frames a speech model reads, the same way in training and inference:
samples -> log-mel (or MFCC) frames -> normalised; and the symbols a transcript is written in.
Saved in every checkpoint beside the weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.config import from_dict, to_dict
from rnnkit.data.batching import pad_sequences
from rnnkit.data.features import FeatureConfig, FeatureStats, features, per_utterance_normalize
from rnnkit.errors import CheckpointError, RnnkitError

DIGITS = "0123456789"
FEATURE_BATCH = 64  # recordings whose features are computed at once


@dataclass(frozen=True)
class SpeechPipeline:
    """features: how frames are computed; normalize: "global" (with `stats`, from the
    training frames), "utterance" or "none"; symbols: what class s (digits) or CTC class
    s + 1 (strings) stands for."""

    features: FeatureConfig
    normalize: str
    stats: FeatureStats | None
    symbols: str = DIGITS

    def frames(self, waves: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """B recordings (N_b,) at the feature rate -> normalised frames (B, T, D) and their
        frame counts (B,); padded frames are 0."""
        padded, lengths = pad_sequences(list(waves), 0.0)  # (B, N), (B,)
        x, frame_lengths = features(padded, lengths, self.features)  # (B, T, D)
        if self.normalize == "global":
            assert self.stats is not None
            x = self.stats.apply(x, frame_lengths)
        elif self.normalize == "utterance":
            x = per_utterance_normalize(x, frame_lengths)
        return x, frame_lengths

    def frames_each(self, waves: Sequence[Tensor]) -> list[Tensor]:
        """Each recording's own (T_b, D) normalised frames, computed in batches."""
        out: list[Tensor] = []
        for start in range(0, len(waves), FEATURE_BATCH):
            x, lengths = self.frames(waves[start : start + FEATURE_BATCH])
            out += [x[b, : int(n)].clone() for b, n in enumerate(lengths)]
        return out

    @classmethod
    def fit(
        cls, config: FeatureConfig, normalize: str, waves: Sequence[Tensor], symbols: str = DIGITS
    ) -> SpeechPipeline:
        """The pipeline with global statistics over the frames of `waves` (the training
        recordings) when `normalize` is "global"."""
        raw = cls(config, "none", None, symbols)
        stats = None
        if normalize == "global":
            stats = FeatureStats.fit(
                raw.frames(waves[s : s + FEATURE_BATCH])
                for s in range(0, len(waves), FEATURE_BATCH)
            )
        return cls(config, normalize, stats, symbols)

    def to_extras(self) -> dict[str, Any]:
        return {
            "features": to_dict(self.features),
            "normalize": self.normalize,
            "stats": None if self.stats is None else self.stats.to_dict(),
            "symbols": self.symbols,
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> SpeechPipeline:
        try:
            config = from_dict(FeatureConfig, extras["features"])
            stats = None if extras["stats"] is None else FeatureStats.from_dict(extras["stats"])
            return cls(config, str(extras["normalize"]), stats, str(extras["symbols"]))
        except (KeyError, TypeError, ValueError, RnnkitError) as e:
            raise CheckpointError(f"checkpoint {where}: unusable speech pipeline ({e})") from None
