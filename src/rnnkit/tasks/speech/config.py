"""The speech task's configuration: which recordings and how they become feature frames, the
model (a many-to-one digit classifier or a CTC transcriber), how to train it; the presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rnnkit.data.features import FeatureConfig
from rnnkit.data.fsdd import DEV_SPLITS
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.ctc_recognizer import CTCConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.train.config import TrainConfig

NORMALIZATIONS = ("global", "utterance", "none")
METRICS: tuple[str, ...] = ("loss", "accuracy", "error_rate")


@dataclass(frozen=True)
class SpeechDataConfig:
    # FSDD's recordings: a folder of {digit}_{speaker}_{take}.wav files (or one holding
    # recordings/). Default: the shared fsdd folder, or what `rnnkit data fetch fsdd` got.
    path: str | None = field(default=None, metadata={"option": "data"})
    # The dev split: "takes" (takes 5-9 of every speaker and digit) or "speaker" (every take
    # of --held-out-speaker; the model trains on the other speakers).
    dev_split: str = "takes"
    # The speaker the "speaker" split holds out (george, jackson, lucas, nicolas, theo,
    # yweweler).
    held_out_speaker: str | None = None
    # Feature frames: log-mel energies or MFCCs, window and hop (rnnkit.data.features).
    features: FeatureConfig = field(default_factory=FeatureConfig)
    # Feature normalisation: "global" (each dimension's mean and deviation over the training
    # frames), "utterance" (each recording's own), or "none".
    normalize: str = "global"
    # SpecAugment while training: this many time masks (up to time_width frames each) and
    # frequency masks (up to freq_width bands each) per recording; 0 disables each kind.
    time_masks: int = 2
    time_width: int = 8
    freq_masks: int = 2
    freq_width: int = 6
    # Digit strings (CTC): strings made from the training recordings for every epoch (new
    # ones each epoch), and fixed ones from the dev recordings for the dev split.
    train_strings: int = 4000
    dev_strings: int = 500
    # Digits per string, and the silence before, between and after them, in seconds.
    min_digits: int = 3
    max_digits: int = 7
    min_gap_s: float = 0.05
    max_gap_s: float = 0.3
    # White noise over each string at this signal-to-noise ratio (dB); None: no noise.
    snr_db: float | None = None

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "dev_split": DEV_SPLITS,
        "normalize": NORMALIZATIONS,
    }

    def __post_init__(self) -> None:
        if self.dev_split not in DEV_SPLITS:
            raise RnnkitError(f"--dev-split must be one of {', '.join(DEV_SPLITS)}")
        if self.normalize not in NORMALIZATIONS:
            raise RnnkitError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}")
        if self.dev_split == "speaker" and not self.held_out_speaker:
            raise RnnkitError("--dev-split speaker needs --held-out-speaker NAME")
        if not 1 <= self.min_digits <= self.max_digits:
            raise RnnkitError(
                f"need 1 <= --min-digits <= --max-digits, got {self.min_digits} and "
                f"{self.max_digits}"
            )
        if not 0 <= self.min_gap_s <= self.max_gap_s:
            raise RnnkitError(
                f"need 0 <= --min-gap-s <= --max-gap-s, got {self.min_gap_s} and {self.max_gap_s}"
            )
        counts = {
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "freq_masks": self.freq_masks,
            "freq_width": self.freq_width,
            "train_strings": self.train_strings - 1,
            "dev_strings": self.dev_strings - 1,
        }
        for name, value in counts.items():
            if value < 0:
                low = 1 if name.endswith("strings") else 0
                option = name.replace("_", "-")
                raise RnnkitError(f"--{option} must be at least {low}")


def _encoder(hidden: int, layers: int, dropout: float) -> EncoderConfig:
    # num_features is set from the feature config by the recipe
    return EncoderConfig(
        num_features=40,
        cell="gru",
        hidden_size=hidden,
        num_layers=layers,
        bidirectional=True,
        dropout=dropout,
    )


@dataclass(frozen=True)
class SpeechConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    # A digit classifier (many-to-one: mean over the frames' states, softmax over 10) or a
    # CTC transcriber (many-to-many, T_x ≠ T_y); which one decides what the task does.
    model: ClassifierConfig | CTCConfig = field(
        default_factory=lambda: ClassifierConfig(
            encoder=_encoder(128, 2, 0.2), num_classes=10, pooling="mean", output_dropout=0.2
        )
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=30,
            batch_size=32,
            lr=2e-3,
            lr_schedule="cosine",
            min_lr=1e-4,
            clip_norm=5.0,
            metric="accuracy",
            ema_decay=0.99,
            out_dir="runs/speech",
        )
    )


PRESETS: dict[str, SpeechConfig] = {
    # Many-to-one: which digit was spoken.
    "digits": SpeechConfig(),
    # CTC: the digits of a spoken string ("4 0 7 1"), strings built from the recordings.
    "ctc": SpeechConfig(
        model=CTCConfig(encoder=_encoder(128, 2, 0.1), num_symbols=10, subsample=3),
        train=replace(
            SpeechConfig().train,
            epochs=20,
            batch_size=16,
            metric="error_rate",
            out_dir="runs/speech-ctc",
        ),
    ),
}
PRESETS["default"] = PRESETS["digits"]
