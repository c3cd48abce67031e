"""The DNA task's data: which file, read how, split how, encoded and batched how."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.dna import encode, position_features, reverse_complement_encoded
from rnnkit.data.dna_files import (
    FastaRecord,
    base_labels,
    is_fasta,
    label_names,
    parse_bed,
    parse_fasta,
    parse_labelled,
    record_lengths,
)
from rnnkit.data.paths import find_data
from rnnkit.data.sequences import epoch_batches
from rnnkit.data.splits import fold_split, stratified_split
from rnnkit.data.text import read_text
from rnnkit.errors import DataError, RnnkitError
from rnnkit.tasks.dna.config import SHARED, DNADataConfig
from rnnkit.tasks.labelled import class_batches

EVAL_BATCH_SIZE = 256
SPLITS = ("dev", "train", "all")


@dataclass(frozen=True)
class DNAData:
    """Sequences read from `path` (and `bed`): `names` (FASTA record names, or `file:line`),
    `sequences`; for classification `labels` (class ids into `classes`); for tagging `tags`
    (per-base ids (T_i,) into `classes`, "O" first)."""

    path: Path
    bed: Path | None
    names: list[str]
    sequences: list[str]
    classes: list[str]
    labels: list[int]
    tags: list[Tensor]

    @property
    def tagging(self) -> bool:
        return self.bed is not None

    def strata(self) -> list[int]:
        """What a split keeps in proportion: the class, or (tagging) whether a sequence has
        a marked base."""
        if self.tagging:
            return [int(bool(t.any())) for t in self.tags]
        return self.labels

    def subset(self, indices: Sequence[int]) -> DNAData:
        pick = list(indices)
        return DNAData(
            self.path,
            self.bed,
            [self.names[i] for i in pick],
            [self.sequences[i] for i in pick],
            self.classes,
            [self.labels[i] for i in pick] if self.labels else [],
            [self.tags[i] for i in pick] if self.tags else [],
        )


def data_file(config: DNADataConfig, tagging: bool) -> Path:
    """The sequences' file: --data, else (classification) the preset's shared data set."""
    if tagging and not config.path:
        raise RnnkitError("tagging needs --data FASTA and --bed BED (name start end label)")
    return find_data(
        config.path,
        SHARED[config.dataset],
        f"no DNA sequences: run `rnnkit data fetch {config.dataset}` (UCI, CC BY 4.0), or pass "
        "--data FILE of label<TAB>sequence lines",
    )


def read_data(
    config: DNADataConfig, tagging: bool, classes: Sequence[str] | None = None
) -> DNAData:
    """Read the sequences the config names, as the model kind needs them. `classes`: the
    class (or tag) names a trained model knows; a label outside them is a DataError."""
    path = data_file(config, tagging)
    text = read_text(path)
    fasta = is_fasta(text)
    if tagging:
        if not fasta:
            raise DataError("tagging reads a FASTA file ('>name' records) with --bed", path=path)
        if not config.bed:
            raise RnnkitError("tagging needs --bed BED: intervals name start end label")
        return _tagged(path, text, Path(config.bed), config.unknown, classes)
    if fasta:
        raise DataError(
            "a FASTA file carries no class labels: classification reads label<TAB>sequence "
            "lines (per-base labels: --preset tagging with --bed)",
            path=path,
        )
    rows = parse_labelled(text, path, config.unknown)
    names = sorted({r.label for r in rows}) if classes is None else list(classes)
    index = {name: i for i, name in enumerate(names)}
    for r in rows:
        if r.label not in index:
            raise DataError(
                f"label {r.label!r} is not one the model knows ({', '.join(names)})",
                path=path,
                line=r.line,
            )
    if len(names) < 2:
        raise DataError(f"every sequence has label {names[0]!r}: need two classes", path=path)
    return DNAData(
        path,
        None,
        [f"{path.name}:{r.line}" for r in rows],
        [r.sequence for r in rows],
        names,
        [index[r.label] for r in rows],
        [],
    )


def _tagged(
    path: Path, text: str, bed: Path, unknown: str | None, classes: Sequence[str] | None
) -> DNAData:
    records: list[FastaRecord] = parse_fasta(text, path, unknown)
    intervals = parse_bed(read_text(bed), bed, record_lengths(records, path))
    names = label_names(intervals)
    if classes is not None:
        unknown_labels = sorted(set(names) - set(classes))
        if unknown_labels:
            first = next(iv for iv in intervals if iv.label in unknown_labels)
            raise DataError(
                f"label {first.label!r} is not one the model knows ({', '.join(classes)})",
                path=bed,
                line=first.line,
            )
        names = list(classes)
    tags = base_labels(records, intervals, names)
    return DNAData(
        path, bed, [r.name for r in records], [r.sequence for r in records], names, [], tags
    )


def split_indices(data: DNAData, config: DNADataConfig) -> tuple[list[int], list[int]]:
    """(train, dev) indices: fold `fold` of `folds` stratified folds, or a stratified
    `dev_fraction`; identical sequences always on one side (the splice file repeats 125)."""
    strata, groups = data.strata(), data.sequences
    if config.folds > 0:
        return fold_split(strata, config.folds, config.fold, config.split_seed, groups)
    train, dev = stratified_split(strata, config.dev_fraction, config.split_seed, groups)
    if not train or not dev:
        raise DataError(
            f"{len(data.sequences)} sequences are too few to hold out --dev-fraction "
            f"{config.dev_fraction} and train on the rest",
            path=data.path,
        )
    return train, dev


def split_part(data: DNAData, config: DNADataConfig, split: str) -> DNAData:
    """The "train" or "dev" part of the data as `split_indices` cuts it, or "all" of it."""
    if split not in SPLITS:
        raise RnnkitError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "all":
        return data
    train, dev = split_indices(data, config)
    return data.subset(dev if split == "dev" else train)


def model_input(seq: str, config: DNADataConfig) -> Tensor:
    """A sequence as the model reads it: `rnnkit.data.dna.encode`, with the position
    features after the one-hot columns when the config asks for them."""
    x = encode(seq, config.encoding, config.k)
    return with_positions(x, config.positions)


def with_positions(x: Tensor, positions: int) -> Tensor:
    """One-hot frames (T, 4) -> (T, 4 + P) with the position features; as is when P = 0."""
    if not positions:
        return x
    return torch.cat([x[:, :4], position_features(x.shape[0], positions)], -1)  # (T, 4 + P)


def encode_all(data: DNAData, config: DNADataConfig) -> list[Tensor]:
    """Each sequence as the model reads it (`model_input`); errors name the sequence."""
    out = []
    for name, seq in zip(data.names, data.sequences, strict=True):
        try:
            out.append(model_input(seq, config))
        except RnnkitError as e:
            raise DataError(f"sequence {name}: {e}", path=data.path) from None
    return out


def reverse_complement_input(x: Tensor, config: DNADataConfig) -> Tensor:
    """`model_input` of the reverse complement from `model_input` of the sequence: the
    bases flipped, the position features kept in order."""
    bases = x[:, :4] if config.positions else x
    flipped = reverse_complement_encoded(bases, config.encoding, config.k)
    return with_positions(flipped, config.positions)


def _flip(seed: int, epoch: int, index: int) -> bool:
    """The coin of the reverse-complement augmentation, from (seed, epoch, index) alone."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + index)
    return bool(torch.rand((), generator=g) < 0.5)


def class_train_batches(
    data: DNAData, config: DNADataConfig, batch_size: int, seed: int, rank: int, world: int
) -> Callable[[int], list[Batch]]:
    """Shuffled training batches, each sequence reverse-complemented with p = 0.5 per epoch
    when the config asks."""

    def augment(x: Tensor, generator: torch.Generator) -> Tensor:
        if torch.rand((), generator=generator) < 0.5:
            return reverse_complement_input(x, config)
        return x

    return class_batches(
        encode_all(data, config), data.labels, batch_size, seed, True, rank, world,
        augment=augment if config.reverse_complement else None,
    )  # fmt: skip


def class_eval_batches(data: DNAData, config: DNADataConfig) -> list[Batch]:
    return class_batches(encode_all(data, config), data.labels, EVAL_BATCH_SIZE, 0, False)(0)


def tag_batches(
    data: DNAData,
    config: DNADataConfig,
    batch_size: int,
    seed: int,
    shuffle: bool,
    rank: int = 0,
    world: int = 1,
) -> Callable[[int], list[Batch]]:
    """Batches of (frames or ids, per-base tags); when shuffling with the augmentation on,
    each sequence and its tags are reversed (and complemented) with p = 0.5 per epoch."""
    pairs: list[tuple[Tensor, Tensor | None]] = list(
        zip(encode_all(data, config), data.tags, strict=True)
    )

    def transform(
        epoch: int, i: int, pair: tuple[Tensor, Tensor | None]
    ) -> tuple[Tensor, Tensor | None]:
        x, y = pair
        if not _flip(seed, epoch, i):
            return pair
        return reverse_complement_input(x, config), None if y is None else y.flip(0)

    augment = transform if shuffle and config.reverse_complement else None
    return epoch_batches(pairs, batch_size, seed, shuffle, rank, world, transform=augment)
