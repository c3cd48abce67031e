"""Speech recognition on spoken digits (the Free Spoken Digit Dataset): the recipe.

Audio x (8 kHz samples) becomes feature frames (log-mel energies every 10 ms, normalised
with the training frames' statistics), and a bidirectional GRU reads them:
  - preset "digits" (many-to-one): the mean of the frames' states -> softmax over the 10
    digits; metric accuracy;
  - preset "ctc" (many-to-many, T_x ≠ T_y): strings of 3-7 digits made by joining recordings
    with random silences (new strings every epoch from the training recordings; fixed ones
    from the dev recordings), transcribed by connectionist temporal classification; metric
    the digit error rate (edits / reference digits), greedy decoding, prefix beam search in
    `evaluate` and `transcribe`.
Data: FSDD's `{digit}_{speaker}_{take}.wav` recordings (`rnnkit data fetch fsdd`, or --data
FOLDER); takes 0-4 are the dataset's test split and never trained on; the dev split is takes
5-9, or every take of one held-out speaker (`--dev-split speaker --held-out-speaker NAME`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.fsdd import Recording, list_recordings, split_recordings
from rnnkit.data.paths import find_data
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.ctc_recognizer import CTCConfig, CTCRecognizer
from rnnkit.tasks.recipe import Loaded, Prepared, load_run, report_data, run_training
from rnnkit.tasks.speech.config import METRICS, PRESETS, SpeechConfig, SpeechDataConfig
from rnnkit.tasks.speech.data import (
    EVAL_BATCH_SIZE,
    augmenter,
    by_digit,
    digit_batches,
    fixed_string_batches,
    read_recordings,
    string_batches,
)
from rnnkit.tasks.speech.evaluation import evaluate_ctc, evaluate_digits
from rnnkit.tasks.speech.pipeline import SpeechPipeline
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import Evaluate, FitResult
from rnnkit.train.sources import on_device

NAME = "speech"
HELP = "spoken digits: which digit was said (many-to-one), or a digit string's digits (CTC)"
# Set from the data: the frames' size, and the digits as classes or CTC symbols.
HIDDEN = frozenset({"vocab_size", "embedding_dim", "num_features", "num_classes", "num_symbols"})

__all__ = [
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "SpeechConfig",
    "SpeechDataConfig",
    "SpeechPipeline",
    "build_model",
    "evaluate",
    "load",
    "prepare",
    "train",
]


def data_folder(config: SpeechDataConfig) -> Path:
    """The recordings' folder: --data, or the shared (or fetched) fsdd folder."""
    return find_data(
        config.path,
        "fsdd",
        "no spoken-digit recordings: run `rnnkit data fetch fsdd` for the Free Spoken Digit "
        "Dataset (CC BY-SA 4.0), or pass --data FOLDER of {digit}_{speaker}_{take}.wav files",
    )


def load_splits(config: SpeechDataConfig) -> dict[str, list[Recording]]:
    return split_recordings(
        list_recordings(data_folder(config)), config.dev_split, config.held_out_speaker
    )


def is_ctc(config: SpeechConfig) -> bool:
    return isinstance(config.model, CTCConfig)


def sized_model(config: SpeechConfig) -> ClassifierConfig | CTCConfig:
    """The model config with the frames' size (stacked for CTC) and the ten digits."""
    model = config.model
    dim = config.data.features.dim
    if isinstance(model, CTCConfig):
        encoder = replace(model.encoder, num_features=dim * model.subsample)
        return replace(model, encoder=encoder, num_symbols=10)
    return replace(model, encoder=replace(model.encoder, num_features=dim), num_classes=10)


def _check_metric(config: SpeechConfig) -> None:
    wanted = ("loss", "error_rate") if is_ctc(config) else ("loss", "accuracy")
    if config.train.metric not in wanted:
        kind = "a CTC transcriber" if is_ctc(config) else "a digit classifier"
        raise RnnkitError(f"--metric must be {' or '.join(wanted)} for {kind}")


def prepare(config: SpeechConfig, dist: DistInfo | None = None) -> Prepared[SpeechConfig]:
    """Read the recordings, split them, fit the feature statistics on the training part, and
    make the batches: recordings (digits) or strings built from them (CTC)."""
    _check_metric(config)
    d = config.data
    folder = data_folder(d)
    report_data(NAME, dist, folder)
    splits = load_splits(d)
    rate = d.features.sample_rate
    train_waves = read_recordings(splits["train"], rate)
    dev_waves = read_recordings(splits["dev"], rate)
    pipeline = SpeechPipeline.fit(d.features, d.normalize, train_waves)
    config = replace(config, data=replace(d, path=str(folder)), model=sized_model(config))
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    evaluate: Evaluate
    seed, size = config.train.seed, config.train.batch_size
    train_labels = [r.digit for r in splits["train"]]
    dev_labels = [r.digit for r in splits["dev"]]
    if is_ctc(config):
        clips = by_digit(train_waves, train_labels)
        train = string_batches(pipeline, clips, d, size, seed, rank, world)
        dev = fixed_string_batches(pipeline, by_digit(dev_waves, dev_labels), d)
        evaluate = evaluate_ctc
    else:
        frames = pipeline.frames_each(train_waves)
        augment = augmenter(d, seed)
        train = digit_batches(frames, train_labels, size, seed, augment, rank, world)
        dev = digit_batches(pipeline.frames_each(dev_waves), dev_labels, EVAL_BATCH_SIZE, 0)(0)
        evaluate = evaluate_digits
    return Prepared(config, train, lambda: dev, evaluate, extras=pipeline.to_extras())


def build_model(config: SpeechConfig) -> nn.Module:
    """The untrained classifier or CTC transcriber a config describes."""
    model = sized_model(config)
    if isinstance(model, CTCConfig):
        return CTCRecognizer(model)
    return SequenceClassifier(model)


def train(config: SpeechConfig, resume: bool = False) -> FitResult:
    """Train on the recordings; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def load(checkpoint: str | Path) -> Loaded[Any, SpeechPipeline, SpeechDataConfig]:
    """The trained model (a SequenceClassifier or a CTCRecognizer), its feature pipeline and
    the data config it was trained on."""
    model, meta, data = load_run(checkpoint, NAME, nn.Module, SpeechDataConfig)
    if not isinstance(model, (SequenceClassifier, CTCRecognizer)):
        raise RnnkitError(f"checkpoint {checkpoint}: not a speech model ({type(model).__name__})")
    return Loaded(model, SpeechPipeline.from_extras(meta.extras, checkpoint), data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    *,
    beam: int = 8,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Metrics of a trained model on one split ("dev" by default; "test" is the dataset's
    takes 0-4, where the folder has them) of its own recordings or of the folder `data`.
    Digits: loss, accuracy and the accuracy for each speaker. CTC: loss and the digit error
    rate of greedy decoding and of prefix beam search (`beam` wide) on strings built, with a
    fixed seed, from that split's recordings."""
    trained = load(checkpoint)
    d = trained.data if data is None else replace(trained.data, path=data)
    splits = load_splits(d)
    split = split or "dev"
    if split not in splits or not splits[split]:
        have = ", ".join(k for k, v in splits.items() if v)
        raise RnnkitError(f"split {split!r} has no recordings here; choose one of {have}")
    recordings = splits[split]
    pipeline, model = trained.pipeline, trained.model.to(device)
    waves = read_recordings(recordings, pipeline.features.sample_rate)
    labels = [r.digit for r in recordings]
    with torch.no_grad():
        if isinstance(model, CTCRecognizer):
            batches = fixed_string_batches(pipeline, by_digit(waves, labels), d)
            metrics = evaluate_ctc(model, on_device(batches, device), beam=beam)
            return {**metrics, "strings": d.dev_strings, "recordings": len(recordings)}
        frames = pipeline.frames_each(waves)
        out: dict[str, Any] = {}
        for speaker in [None, *sorted({r.speaker for r in recordings})]:
            chosen = [i for i, r in enumerate(recordings) if speaker in (None, r.speaker)]
            batches = digit_batches([frames[i] for i in chosen], [labels[i] for i in chosen],
                                    EVAL_BATCH_SIZE, 0)(0)  # fmt: skip
            metrics = evaluate_digits(model, on_device(batches, device))
            if speaker is None:
                out.update(metrics, recordings=len(recordings))
            else:
                out[f"accuracy_{speaker}"] = metrics["accuracy"]
        return out
