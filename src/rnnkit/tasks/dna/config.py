"""The DNA task's configuration: which sequences and how they are encoded, the model (a
many-to-one classifier or a per-base tagger), how to train it; the presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rnnkit.data.dna import ENCODINGS, MAX_K, check_unknown
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.train.config import TrainConfig

CLASS_METRICS: tuple[str, ...] = ("loss", "accuracy", "macro_f1")
TAG_METRICS: tuple[str, ...] = ("loss", "accuracy", "interval_f1", "base_f1")
METRICS: tuple[str, ...] = (*CLASS_METRICS, "interval_f1", "base_f1")
# The shared files the classification presets read by default.
SHARED = {"dna-splice": "dna-splice/train.tsv", "dna-promoters": "dna-promoters/train.tsv"}


@dataclass(frozen=True)
class DNADataConfig:
    # Sequences to train on: `label<TAB>sequence` lines (classification; default: the shared
    # dna-splice/train.tsv, or dna-promoters/train.tsv for --preset promoters), or a FASTA
    # file whose bases --bed labels (--preset tagging). gzip is read as such.
    path: str | None = field(default=None, metadata={"option": "data"})
    # BED intervals `name start end label` (0-based, half-open) marking bases of the FASTA
    # records (--preset tagging); every other base is "O".
    bed: str | None = None
    # The shared data set a classification preset reads when --data is not given.
    dataset: str = "dna-splice"
    # How bases reach the model: "onehot" (soft one-hot frames (T, 4): an IUPAC code spreads
    # its probability over its bases), "tokens" (an embedded id per letter, one per IUPAC
    # code) or "kmer" (an embedded id per overlapping k-mer; one <unk-kmer> id for any k-mer
    # holding a code). Tagging reads one-hot frames.
    encoding: str = "onehot"
    # k of the k-mer encoding (1..6).
    k: int = 3
    # Append P sinusoidal position features to every one-hot frame (0: none), so that the
    # model knows where in an aligned window each base sits (rnnkit.data.dna.position_features).
    positions: int = 0
    # Augmentation: each epoch, each training sequence is read as it is or as its reverse
    # complement (p = 0.5, seeded; per-base labels reversed with it). Off by default: splice
    # sites and promoters are strand-specific (the reverse complement of a donor site is not
    # a donor site read on its own strand), so the flipped copy would carry a wrong label.
    reverse_complement: bool = False
    # Map characters outside ACGT + IUPAC (U is read as T) to this letter, e.g. N; by
    # default such a character is an error naming its file, line and column.
    unknown: str | None = None
    # Fraction of the sequences held out as the dev split (stratified by class; identical
    # sequences always land on one side), when --folds is 0.
    dev_fraction: float = 0.15
    # Seed of the dev split and the folds, separate from the training seed.
    split_seed: int = 0
    # Cross-validation: cut the data into this many stratified folds and hold out --fold as
    # the dev split (0: no folds, hold out --dev-fraction instead).
    folds: int = 0
    # Which fold is the dev split when --folds > 0 (0 .. folds - 1).
    fold: int = 0

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "encoding": ENCODINGS,
        "dataset": tuple(SHARED),
    }

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise RnnkitError(f"--encoding must be one of {', '.join(ENCODINGS)}")
        if self.dataset not in SHARED:
            raise RnnkitError(f"--dataset must be one of {', '.join(SHARED)}")
        if not 1 <= self.k <= MAX_K:
            raise RnnkitError(f"--k must be between 1 and {MAX_K}, got {self.k}")
        check_unknown(self.unknown)
        if self.positions < 0 or self.positions % 2:
            raise RnnkitError(f"--positions must be 0 or an even number, got {self.positions}")
        if self.positions and self.encoding != "onehot":
            raise RnnkitError("--positions goes with --encoding onehot (frames)")
        if not 0.0 < self.dev_fraction < 1.0:
            raise RnnkitError(f"--dev-fraction must be between 0 and 1, got {self.dev_fraction}")
        if self.folds == 1 or self.folds < 0:
            raise RnnkitError(f"--folds must be 0 (no folds) or at least 2, got {self.folds}")
        if not 0 <= self.fold < max(self.folds, 1):
            last = max(self.folds - 1, 0)
            raise RnnkitError(f"--fold must be between 0 and {last}, got {self.fold}")


def _encoder(hidden: int, input_dropout: float, cell: str = "gru") -> EncoderConfig:
    # num_features / vocab_size are set from the encoding by the recipe
    return EncoderConfig(
        num_features=4,
        embedding_dim=32,
        cell=cell,
        hidden_size=hidden,
        bidirectional=True,
        input_dropout=input_dropout,
    )


def _train(out_dir: str, epochs: int, metric: str = "accuracy", **more: float) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=32,
        lr=3e-3,
        lr_schedule="cosine",
        min_lr=1e-4,
        clip_norm=5.0,
        metric=metric,
        out_dir=out_dir,
        **more,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class DNAConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    # The splice windows are aligned (the candidate site sits between bases 30 and 31), so
    # the model is told where each base sits (--positions 16).
    data: DNADataConfig = field(default_factory=lambda: DNADataConfig(positions=16))
    # A classifier (many-to-one: the max over the positions' states, softmax over the
    # classes) or a tagger (many-to-many: a label for every base); which one decides the task.
    # 128 units with dropout 0.5 before the head: splice 5-fold CV 97.22% ± 0.49 after the
    # last epoch, against 96.79% ± 0.56 for 64 units with dropout 0.3 (better on every fold).
    model: ClassifierConfig | TaggerConfig = field(
        default_factory=lambda: ClassifierConfig(
            encoder=_encoder(128, 0.1), num_classes=3, pooling="max", output_dropout=0.5
        )
    )
    # Evaluated and saved with an average of the weights (ema_decay): the dev score then
    # moves less from epoch to epoch, so the best epoch is less a pick of the dev split's noise.
    train: TrainConfig = field(
        default_factory=lambda: _train("runs/dna-splice", 30, weight_decay=1e-4, ema_decay=0.99)
    )


PRESETS: dict[str, DNAConfig] = {
    # UCI splice junctions: 60-base windows, donor (EI), acceptor (IE) or neither (N).
    "splice": DNAConfig(),
    # UCI E. coli promoters: 57-base windows aligned on the transcription start, promoter (+)
    # or not (-); 85 sequences, so a small model with dropout; judge it by cross-validation
    # (`rnnkit crossval dna --preset promoters --folds 5`), not by one dev split.
    "promoters": DNAConfig(
        data=DNADataConfig(dataset="dna-promoters", dev_fraction=0.2, positions=16),
        model=ClassifierConfig(
            encoder=_encoder(32, 0.1), num_classes=2, pooling="max", output_dropout=0.3
        ),
        train=replace(_train("runs/dna-promoters", 60), batch_size=8, lr=5e-3),
    ),
    # Per-base tagging of marked intervals (a FASTA file and --bed): T_x = T_y.
    "tagging": DNAConfig(
        data=DNADataConfig(),
        model=TaggerConfig(encoder=_encoder(32, 0.0), num_tags=2, output_dropout=0.1),
        train=_train("runs/dna-tagging", 20, metric="interval_f1"),
    ),
}
PRESETS["default"] = PRESETS["splice"]
