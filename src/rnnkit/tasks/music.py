"""Music generation (one-to-many) on Bach chorales: the recipe.

Data: four-part Bach chorales as piano rolls, one multi-hot frame of the 88 piano keys
(MIDI 21-108) per quarter note. Two sources:
  - "music21": the chorales that ship inside music21 (real, offline), parsed once and cached,
    split by piece into train/valid/test (see `rnnkit.data.bach_chorales.chorale_split`);
  - "jsb": the JSB Chorales benchmark files (train.json, valid.json[, test.json]) of
    Boulanger-Lewandowski et al. (2012), to compare with the literature.
Model: a language model over frames, an LSTM by default, with one sigmoid per key:
P(x<t+1> | x<1..t>) = prod_k Bernoulli(σ(z_k<t>)). The metric is the negative log-likelihood
per time step (nats per frame, summed over the 88 keys), the usual JSB figure.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnnkit.data.bach_chorales import load_bach_chorales
from rnnkit.data.jsb import read_jsb
from rnnkit.data.paths import find_data
from rnnkit.data.piano_roll import PIANO_HIGH, PIANO_KEYS, PIANO_LOW, to_multihot
from rnnkit.data.sequences import epoch_batches, next_step_pair
from rnnkit.data.synth import SAMPLE_RATE, check_sample_rate
from rnnkit.errors import RnnkitError
from rnnkit.metrics.music import chorale_statistics
from rnnkit.models.checks import check_int, check_sampling, require
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, mixture_nll
from rnnkit.tasks.composing import (
    SAMPLE_STEPS,
    check_outputs,
    check_piece_options,
    compose,
    numbered,
    read_prime,
    sample_steps,
    transposed_to,
    write_piece,
)
from rnnkit.tasks.harmony import can_harmonise, harmony_nll, read_melody
from rnnkit.tasks.recipe import Loaded, Prepared, load_run, report_data, run_training
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult, evaluate_loss
from rnnkit.train.sources import on_device

NAME = "music"
HELP = "polyphonic music generation on Bach chorales (one-to-many)"
# The inputs are always the 88 keys' frames, and a language model reads them forwards.
HIDDEN = frozenset({"vocab_size", "embedding_dim", "num_features", "bidirectional", "merge"})
# The dev metrics `evaluate_nll` reports: --metric takes one of them.
METRICS: tuple[str, ...] = ("loss", "nll_per_step")
KEYS = PIANO_KEYS
EVAL_BATCH_SIZE = 32


@dataclass(frozen=True)
class MusicDataConfig:
    # "music21" (the Bach chorales bundled with music21) or "jsb" (JSB Chorales JSON files).
    source: str = "music21"
    # For "jsb": the folder with train.json and valid.json (test.json optional). Default: the
    # jsb-chorales folder of the shared data sets when it is found.
    path: str | None = field(default=None, metadata={"option": "data"})
    # Augmentation: each epoch, shift every training chorale by a random number of semitones
    # in [-transpose, transpose] (key-invariant music, eight times more data). 0 disables it.
    transpose: int = 0
    # Batches of chorales of similar length (less padding), or plain random batches (false):
    # with 229 JSB chorales, batches that change more from epoch to epoch overfit less.
    bucket: bool = False
    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"source": ("music21", "jsb")}

    def __post_init__(self) -> None:
        if self.source not in ("music21", "jsb"):
            raise RnnkitError(f"--source must be 'music21' or 'jsb', got {self.source!r}")
        if self.transpose < 0:
            raise RnnkitError(f"--transpose must be >= 0, got {self.transpose}")


@dataclass(frozen=True)
class MusicConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    data: MusicDataConfig = field(default_factory=MusicDataConfig)
    model: LanguageModelConfig = field(
        default_factory=lambda: LanguageModelConfig(
            encoder=EncoderConfig(
                num_features=KEYS, cell="lstm", hidden_size=256, input_dropout=0.1
            ),
            output_dropout=0.3,
            # the notes of a chord depend on each other: model them jointly (see LanguageModel),
            # each key's conditional with a NADE hidden layer, the top voice (melody) first
            within_frame=True,
            nade_hidden=150,
            key_order="descending",
        )
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=20,
            batch_size=4,
            lr=3e-3,
            lr_schedule="cosine",
            min_lr=1e-4,
            clip_norm=5.0,
            patience=8,
            out_dir="runs/music",
        )
    )


PRESETS: dict[str, MusicConfig] = {
    # Trains on music21's chorales in a few minutes on two CPU cores.
    "default": MusicConfig(),
    # The benchmark setting: JSB Chorales; a wider LSTM and NADE, more dropout, a weight
    # average, and a cosine schedule so long that the learning rate stays high until early
    # stopping ends the run (about epoch 47): on JSB that generalises better than decaying
    # sooner (benchmarks/music_jsb.py; the README's table says what each change adds).
    "jsb": MusicConfig(
        data=MusicDataConfig(source="jsb"),
        model=replace(
            MusicConfig().model,
            encoder=replace(MusicConfig().model.encoder, hidden_size=384, input_dropout=0.2),
            output_dropout=0.5,
            nade_hidden=200,
        ),
        train=replace(MusicConfig().train, epochs=100, ema_decay=0.995, out_dir="runs/music-jsb"),
    ),
}


# ------------------------------------------------------------------------------------ data


def jsb_folder(config: MusicDataConfig) -> Path:
    """The JSB Chorales folder: --data, or the shared jsb-chorales folder."""
    return find_data(
        config.path,
        "jsb-chorales",
        "no JSB Chorales folder: run `rnnkit data fetch jsb-chorales` (or pass --data FOLDER "
        "with train.json and valid.json)",
    )


def load_splits(config: MusicDataConfig) -> dict[str, list[list[list[int]]]]:
    """The chorales of each available split, as lists of steps of MIDI pitches."""
    if config.source == "music21":
        return load_bach_chorales()
    folder = jsb_folder(config)
    splits = {}
    for split in ("train", "valid", "test"):
        path = folder / f"{split}.json"
        if path.exists():
            splits[split] = read_jsb(path, low=PIANO_LOW, high=PIANO_HIGH)
        elif split != "test":
            raise RnnkitError(f"{path}: not found (expected JSB Chorales {split}.json in {folder})")
    return splits


def frame_examples(chorales: list[list[list[int]]]) -> list[tuple[Tensor, Tensor]]:
    """(inputs, targets) per chorale: targets the (T, 88) roll, inputs shifted behind a zero
    frame."""
    start = torch.zeros(KEYS)
    return [next_step_pair(to_multihot(c), start) for c in chorales]


def transposer(seed: int, semitones: int) -> Any:
    """The augmentation: a random, reproducible key shift per (epoch, chorale)."""

    def transform(epoch: int, index: int, example: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        shift = random.Random(f"{seed}:{epoch}:{index}").randint(-semitones, semitones)
        x, y = example
        keys = y.sum(0).nonzero()  # keys this chorale uses
        if shift == 0 or int(keys.min()) + shift < 0 or int(keys.max()) + shift >= KEYS:
            return example  # a shift off the keyboard keeps the original key
        return x.roll(shift, dims=1), y.roll(shift, dims=1)

    return transform


def evaluate_nll(model: nn.Module, batches: Any) -> dict[str, float]:
    """{"loss", "nll_per_step"}: the per-step negative log-likelihood, in nats per frame."""
    loss = evaluate_loss(model, batches)["loss"]
    return {"loss": loss, "nll_per_step": loss}


# ------------------------------------------------------------------------------ the recipe


def prepare(config: MusicConfig, dist: DistInfo | None = None) -> Prepared[MusicConfig]:
    """The chorales as next-frame examples: shuffled, transposed training batches (this
    rank's share) and the valid batches."""
    if config.data.source == "jsb":  # record the folder it reads
        config = replace(config, data=replace(config.data, path=str(jsb_folder(config.data))))
    splits = load_splits(config.data)
    report_data(NAME, dist, config.data.path or "the Bach chorales of the music21 corpus")
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    transform = (
        transposer(config.train.seed, config.data.transpose) if config.data.transpose else None
    )
    train_batches = epoch_batches(
        frame_examples(splits["train"]),
        config.train.batch_size,
        config.train.seed,
        rank=rank,
        world_size=world,
        transform=transform,
        bucket=config.data.bucket,
    )
    valid = epoch_batches(frame_examples(splits["valid"]), EVAL_BATCH_SIZE, 0, shuffle=False)(0)
    return Prepared(config, train_batches, lambda: valid, evaluate_nll, extras={})


def build_model(config: MusicConfig) -> LanguageModel:
    """The untrained chorale model a config describes."""
    return LanguageModel(config.model)


def train(config: MusicConfig, resume: bool = False) -> FitResult:
    """Train the chorale model; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def load(checkpoint: str | Path) -> Loaded[LanguageModel, None, MusicDataConfig]:
    """The trained model (frames need no pipeline) and the data config it was trained on."""
    model, _, data = load_run(checkpoint, NAME, LanguageModel, MusicDataConfig)
    return Loaded(model, None, data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    source: str | None = None,
    device: str | torch.device = "cpu",
    samples: int = 0,
    ensemble: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """NLL per step of a trained model on one split ("valid" by default) of its own data, or
    of the JSB folder `data` (with source "jsb"), or of another `source`; run on `device`.
    A model that predicts each frame's highest key first also reports the NLL split into
    the melody's part and the lower voices' part given it (`rnnkit.tasks.harmony`).
    With `ensemble` (more checkpoints of music models), also the NLL of the mixture of this
    model and those (`rnnkit.models.language_model.mixture_nll`).
    With `samples` = N > 0, also the statistics of `rnnkit.metrics.music` for N pieces of
    64 steps sampled from the model (seeds 0 .. N-1, temperature 1) beside the split's own."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise RnnkitError(f"--samples must be a whole number >= 0, got {samples!r}")
    trained = load(checkpoint)
    source = source or ("jsb" if data else trained.data.source)
    path = data if data is not None else (trained.data.path if source == "jsb" else None)
    splits = load_splits(MusicDataConfig(source=source, path=path))
    split = split or "valid"
    if split not in splits:
        raise RnnkitError(f"split {split!r} is not available; choose one of {', '.join(splits)}")
    batches = epoch_batches(frame_examples(splits[split]), EVAL_BATCH_SIZE, 0, shuffle=False)(0)
    model = trained.model.to(device)
    with torch.no_grad():
        if can_harmonise(model):  # one pass gives the NLL and its melody / lower-voices split
            parts = harmony_nll(model, on_device(batches, device))
            metrics = {"loss": parts["nll_per_step"], **parts}
        else:
            metrics = evaluate_nll(model, on_device(batches, device))
    result: dict[str, Any] = {
        **metrics,
        "chorales": len(splits[split]),
        "steps": sum(len(c) for c in splits[split]),
    }
    if ensemble:
        models = [model] + [load(c).model.to(device) for c in ensemble]
        result["ensemble_nll_per_step"] = mixture_nll(models, on_device(batches, device))
        result["ensemble_size"] = len(models)
    if samples:
        pieces = [sample_steps(model, SAMPLE_STEPS, seed=i) for i in range(samples)]
        result["samples"] = chorale_statistics(pieces)
        result[split] = chorale_statistics(splits[split])
    return result


def generate(
    checkpoint: str | Path,
    steps: int | None = None,
    out: str | Path = "sample.mid",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    png: str | Path | None = None,
    bpm: float = 80.0,
    device: str | torch.device = "cpu",
    prime: str | None = None,
    key: str | None = None,
    voices: bool = True,
    musicxml: str | Path | None = None,
    wav: str | Path | None = None,
    score: str | Path | None = None,
    soundfont: str | Path | None = None,
    sample_rate: int = SAMPLE_RATE,
    melody: str | None = None,
) -> list[list[int]]:
    """Sample `steps` (default 64) quarter notes from a trained model; write a MIDI file (and a
    piano-roll PNG beside it unless `png` says where) with the model on `device`. Returns the
    steps as lists of MIDI pitches (the same for a seed on every device, up to rounding).
    `prime`: a MIDI file or a corpus chorale (`read_prime`) that the piece starts with,
    unchanged, and the model continues for `steps` more. `key`: the piece (prime included) is
    transposed so that its estimated key's tonic is this one (`transposed_to`). `voices`: the
    MIDI file has four tracks, soprano to bass (`rnnkit.data.midi.split_voices`); else one.
    `musicxml`: also write the piece as a four-part MusicXML score there. `wav`: also write it
    as sound (`rnnkit.data.synth.write_wav` at `sample_rate`, or through FluidSynth with the
    `soundfont` file). `score`: also write a PNG of the four-part score there, engraved by
    LilyPond, or its piano roll where LilyPond is not installed (logged in one line); a
    `score` at the piano roll's path replaces the roll. Output paths and the soundfont are
    checked before the model is loaded. `melody` (`read_melody`: a MIDI file, a corpus
    chorale or note names): harmonise it, one step per beat, the melody the top voice."""
    return generate_pieces(
        checkpoint, steps, out, temperature, top_k, seed, png, bpm, device, prime, key,
        voices, musicxml, wav, score, soundfont, sample_rate, melody,
    )[0]  # fmt: skip


def generate_pieces(
    checkpoint: str | Path,
    steps: int | None = None,
    out: str | Path = "sample.mid",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    png: str | Path | None = None,
    bpm: float = 80.0,
    device: str | torch.device = "cpu",
    prime: str | None = None,
    key: str | None = None,
    voices: bool = True,
    musicxml: str | Path | None = None,
    wav: str | Path | None = None,
    score: str | Path | None = None,
    soundfont: str | Path | None = None,
    sample_rate: int = SAMPLE_RATE,
    melody: str | None = None,
    samples: int = 1,
) -> list[list[list[int]]]:
    """`samples` pieces, drawn as `generate` draws one but all together as one batch (one
    kernel call per step for the whole batch), each written as `generate` writes its piece.
    With samples > 1 every output file is numbered (`rnnkit.tasks.composing.numbered`):
    out.mid -> out-1.mid ... out-N.mid, and so each PNG, MusicXML, WAV and score. The same
    seed and number of samples give the same pieces; one sample is `generate`'s piece."""
    check_int("", "samples", samples, 1)
    check_piece_options(steps, prime, melody)
    check_sampling(temperature, top_k, seed)
    # MIDI stores the tempo as 24-bit microseconds per beat: 4 bpm is about its slowest.
    ok = isinstance(bpm, (int, float)) and 4 <= bpm <= 1000  # NaN is not
    require(ok, "", "bpm", "a number of beats per minute in [4, 1000]", bpm)
    if key is not None:
        transposed_to([], key)  # a bad key name is refused before anything is loaded
    files = {"out": out, "png": png, "musicxml": musicxml, "wav": wav, "score": score}
    check_outputs(files, soundfont, samples)
    check_sample_rate(sample_rate)
    given = read_prime(prime) if prime is not None else None
    tune = read_melody(melody) if melody is not None else None
    model = load(checkpoint).model.to(device)
    sampling = (temperature, top_k, seed)
    pieces, about = compose(model, steps or 64, sampling, given, tune, samples)
    for i, chorale in enumerate(pieces):
        if key is not None:
            pieces[i] = chorale = transposed_to(chorale, key)
        named = {n: None if p is None else numbered(p, i + 1, samples) for n, p in files.items()}
        title = f"{named['out'].name}: {about}"  # type: ignore[union-attr]
        write_piece(chorale, named, title, bpm, voices, soundfont, sample_rate)
    return pieces
