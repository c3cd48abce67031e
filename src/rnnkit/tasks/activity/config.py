"""The activity task's configuration: which recordings and how they are split, normalised,
windowed and augmented; the classifier; how to train it; the presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rnnkit.data.timeseries import FORMATS, MISSING_POLICIES
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.train.config import TrainConfig

METRICS: tuple[str, ...] = ("loss", "accuracy", "macro_f1")
# The shared data sets a preset reads when --data is not given (their registry names, and
# the file under $RNNKIT_SHARED_DATA or the `rnnkit data fetch` folder).
SHARED_FILES = {
    "basicmotions": "basicmotions/BasicMotions_TRAIN.ts",
    "japanese-vowels": "japanese-vowels/JapaneseVowels_TRAIN.ts",
}
DATASETS = (*SHARED_FILES, "none")


@dataclass(frozen=True)
class ActivityDataConfig:
    # The labelled cases: a .ts file (sktime/aeon), a UCI HAR Dataset folder (its train/
    # split), an .npz (x, y, lengths, label_names, groups) or a long-format .csv
    # (case,t,<channels...>,label); see rnnkit.data.timeseries. Default: --dataset's file.
    path: str | None = field(default=None, metadata={"option": "data"})
    # The shared data set read when --data is not given: basicmotions, japanese-vowels, or
    # none (then --data is needed).
    dataset: str = "basicmotions"
    # The file format: auto (a folder is UCI HAR, else by the suffix .ts, .npz, .csv), ts,
    # har, npz or csv.
    format: str = "auto"
    # Missing values (? or NaN): error (refuse them, naming file and line), interpolate
    # (linearly within the channel) or zero.
    missing: str = "error"
    # Fraction of each class held out as the dev split (whole subjects where the data names
    # them: UCI HAR, or the groups/subject of an .npz/.csv), when --folds is 0.
    dev_fraction: float = 0.2
    # Seed of the dev split and of the folds, separate from the training seed.
    split_seed: int = 0
    # Cross-validation folds (0: none, the dev split is --dev-fraction); `rnnkit crossval
    # activity --folds K` trains one model per fold.
    folds: int = 0
    # Which fold (0 .. folds-1) is the dev split when --folds is given.
    fold: int = 0
    # Train on windows of this many steps cut from the cases longer than it (0: whole
    # cases). A model's window is also what `predict --stride` cuts a long recording into;
    # with 0 that is the longest training case.
    window: int = 0
    # Steps between the starts of consecutive training windows (0: half the window).
    window_stride: int = 0
    # Augmentation while training: Gaussian noise of this standard deviation (in normalised
    # units) added to every value (0: none).
    jitter: float = 0.0
    # Augmentation while training: each channel of a case scaled by 1 + a Gaussian of this
    # standard deviation (0: none).
    scaling: float = 0.0

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "dataset": DATASETS,
        "format": FORMATS,
        "missing": MISSING_POLICIES,
    }

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("dataset", self.dataset, DATASETS),
            ("format", self.format, FORMATS),
            ("missing", self.missing, MISSING_POLICIES),
        ):
            if value not in allowed:
                raise RnnkitError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise RnnkitError(f"--dev-fraction must be between 0 and 1, got {self.dev_fraction}")
        if self.folds == 1 or self.folds < 0:
            raise RnnkitError(
                f"--folds must be 0 (no cross-validation) or at least 2, got {self.folds}"
            )
        if not 0 <= self.fold < max(self.folds, 1):
            raise RnnkitError(
                f"--fold must be between 0 and {max(self.folds - 1, 0)}, got {self.fold}"
            )
        for name, number in (("window", self.window), ("window_stride", self.window_stride)):
            if number < 0:
                raise RnnkitError(f"--{name.replace('_', '-')} must be at least 0, got {number}")
        if self.window_stride > 0 and self.window == 0:
            raise RnnkitError("--window-stride needs --window (the length of the windows)")
        for name, deviation in (("jitter", self.jitter), ("scaling", self.scaling)):
            if deviation < 0:
                raise RnnkitError(f"--{name} must be at least 0, got {deviation}")

    @property
    def stride(self) -> int:
        """The training windows' stride: window_stride, or half the window."""
        return self.window_stride or max(self.window // 2, 1)


def _classifier(
    channels: int, classes: int, hidden: int, layers: int, input_dropout: float = 0.0
) -> ClassifierConfig:
    # num_features and num_classes are set from the data by the recipe
    return ClassifierConfig(
        encoder=EncoderConfig(
            num_features=channels,
            cell="gru",
            hidden_size=hidden,
            num_layers=layers,
            bidirectional=True,
            dropout=0.2,
            input_dropout=input_dropout,
        ),
        num_classes=classes,
        pooling="mean",
        output_dropout=0.3,
    )


def _train(epochs: int, batch_size: int, out_dir: str) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=3e-3,
        lr_schedule="cosine",
        min_lr=1e-4,
        weight_decay=1e-4,
        clip_norm=5.0,
        metric="accuracy",
        out_dir=out_dir,
    )


@dataclass(frozen=True)
class ActivityConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    data: ActivityDataConfig = field(default_factory=ActivityDataConfig)
    # A many-to-one classifier over the normalised channels: a bidirectional GRU read over
    # every step, the mean of its states, softmax over the classes.
    model: ClassifierConfig = field(default_factory=lambda: _classifier(6, 4, 64, 2))
    train: TrainConfig = field(default_factory=lambda: _train(60, 8, "runs/activity"))


PRESETS: dict[str, ActivityConfig] = {
    # BasicMotions (UEA): 6 smart-watch channels x 100 steps, 4 activities, 40 cases.
    "basicmotions": ActivityConfig(
        data=ActivityDataConfig(jitter=0.05, scaling=0.1),
    ),
    # Japanese Vowels (UCI): 12 LPC coefficients x 7-26 frames, 9 speakers, 270 cases. No
    # channel scaling (it would change the spectral shape that tells speakers apart); wider,
    # with dropout on the input frames (5-fold CV 99.3% against 98.9% without, 98.2% at 64).
    "japanese-vowels": ActivityConfig(
        data=ActivityDataConfig(dataset="japanese-vowels", jitter=0.05),
        model=_classifier(12, 9, 128, 2, input_dropout=0.1),
        train=_train(60, 16, "runs/activity-vowels"),
    ),
    # UCI HAR inertial signals (--data FOLDER): 9 channels x 128 steps, 6 activities; the
    # dev split holds out whole subjects.
    "har": ActivityConfig(
        data=ActivityDataConfig(dataset="none"),
        model=_classifier(9, 6, 64, 2),
        train=replace(_train(20, 64, "runs/activity-har"), weight_decay=0.0),
    ),
}
PRESETS["default"] = PRESETS["basicmotions"]
