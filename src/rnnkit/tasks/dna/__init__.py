"""DNA sequence analysis: the recipe.

The bases x<1..T> of a DNA sequence are read by a bidirectional GRU, as soft one-hot frames
(T, 4) (an IUPAC ambiguity code spreads its probability over its bases), embedded letters or
embedded overlapping k-mers (`rnnkit.data.dna`):
  - preset "splice" (default, many-to-one): UCI primate splice junctions, 60-base windows
    labelled EI (donor), IE (acceptor) or N; the max over the positions' states -> softmax.
    The windows are aligned on the candidate site, so each frame also carries 16 sinusoidal
    position features (--positions): without them the GRU must count to find base 31, and
    dev accuracy stays near 93%; with them it reaches 97-98% (benchmarks/dna_uci.py);
  - preset "promoters" (many-to-one): UCI E. coli promoters, 57-base windows, + or -; 85
    sequences: judge it by cross-validation (`rnnkit crossval dna --preset promoters`);
  - preset "tagging" (many-to-many, T_x = T_y): a label for every base of FASTA records,
    learnt from BED intervals; scored by base accuracy and interval F1.
Data: `label<TAB>sequence` lines (classification; the shared dna-splice/dna-promoters
train.tsv by default, `rnnkit data fetch dna-splice`), or a FASTA file with --bed (tagging).
The dev split is a stratified --dev-fraction of the file, or fold --fold of --folds; identical
sequences always land on the same side.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.dna import vocab_size
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks.dna.config import (
    CLASS_METRICS,
    METRICS,
    PRESETS,
    TAG_METRICS,
    DNAConfig,
    DNADataConfig,
)
from rnnkit.tasks.dna.data import (
    EVAL_BATCH_SIZE,
    DNAData,
    class_eval_batches,
    class_train_batches,
    read_data,
    split_indices,
    split_part,
    tag_batches,
)
from rnnkit.tasks.dna.tagging import evaluate_tagger, tag_result
from rnnkit.tasks.labelled import classification_result, evaluate_classifier
from rnnkit.tasks.recipe import Loaded, Prepared, load_run, report_data, run_training
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import Evaluate, FitResult
from rnnkit.train.sources import on_device

NAME = "dna"
HELP = "DNA sequences: splice junctions, promoters (many-to-one), or per-base tagging"
# Set from the data and the encoding: the input size or vocabulary, the classes or tags.
HIDDEN = frozenset({"vocab_size", "num_features", "num_classes", "num_tags"})

__all__ = [
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "DNAConfig",
    "DNADataConfig",
    "build_model",
    "evaluate",
    "load",
    "prepare",
    "train",
]


def is_tagging(config: DNAConfig) -> bool:
    return isinstance(config.model, TaggerConfig)


def sized_model(config: DNAConfig, classes: int | None = None) -> ClassifierConfig | TaggerConfig:
    """The model config with the encoding's input (4 + P frame features, or V ids) and, when
    given, the number of classes (tags)."""
    d, model = config.data, config.model
    V = vocab_size(d.encoding, d.k)
    encoder = replace(model.encoder, vocab_size=V, num_features=0 if V else 4 + d.positions)
    if isinstance(model, TaggerConfig):
        return replace(model, encoder=encoder, num_tags=classes or model.num_tags)
    return replace(model, encoder=encoder, num_classes=classes or model.num_classes)


def _check(config: DNAConfig) -> None:
    wanted = TAG_METRICS if is_tagging(config) else CLASS_METRICS
    if config.train.metric not in wanted:
        kind = "a per-base tagger" if is_tagging(config) else "a classifier"
        raise RnnkitError(f"--metric must be one of {', '.join(wanted)} for {kind}")
    if is_tagging(config) and config.data.encoding == "kmer":
        raise RnnkitError(
            "a per-base tagger needs one input per base: --encoding onehot or tokens, not kmer"
        )


def prepare(config: DNAConfig, dist: DistInfo | None = None) -> Prepared[DNAConfig]:
    """Read the sequences, split them into train and dev, encode and batch them; the model
    config gets the encoding's input size and the data's classes (tags)."""
    _check(config)
    d, tagging = config.data, is_tagging(config)
    data = read_data(d, tagging)
    report_data(NAME, dist, *([data.path, data.bed] if data.bed else [data.path]))
    train_idx, dev_idx = split_indices(data, d)
    train_part, dev_part = data.subset(train_idx), data.subset(dev_idx)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    seed, size = config.train.seed, config.train.batch_size
    evaluate: Evaluate
    if tagging:
        train = tag_batches(train_part, d, size, seed, True, rank, world)
        dev = tag_batches(dev_part, d, EVAL_BATCH_SIZE, 0, False)(0)
        evaluate = evaluate_tagger
    else:
        train = class_train_batches(train_part, d, size, seed, rank, world)
        dev = class_eval_batches(dev_part, d)
        evaluate = evaluate_classifier
    bed = None if data.bed is None else str(data.bed.resolve())
    config = replace(
        config,
        data=replace(d, path=str(data.path.resolve()), bed=bed),
        model=sized_model(config, len(data.classes)),
    )
    # The training sequences' shortest and longest length: `predict` warns about a sequence
    # far outside them (a whole gene given to a model of 60-base windows).
    sizes = [len(s) for s in train_part.sequences]
    extras = {"classes": data.classes, "lengths": [min(sizes), max(sizes)]}
    return Prepared(config, train, lambda: dev, evaluate, extras=extras)


def build_model(config: DNAConfig) -> nn.Module:
    """The untrained classifier or tagger a config describes."""
    model = sized_model(config)
    if isinstance(model, TaggerConfig):
        return SequenceTagger(model)
    return SequenceClassifier(model)


def train(config: DNAConfig, resume: bool = False) -> FitResult:
    """Train on the sequences; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def load(checkpoint: str | Path) -> Loaded[Any, list[str], DNADataConfig]:
    """The trained model (a SequenceClassifier or a SequenceTagger), its class (tag) names
    and the data config it was trained on (encoding, k, files)."""
    model, meta, data = load_run(checkpoint, NAME, nn.Module, DNADataConfig)
    if not isinstance(model, (SequenceClassifier, SequenceTagger)):
        raise RnnkitError(f"checkpoint {checkpoint}: not a DNA model ({type(model).__name__})")
    classes = meta.extras.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise RnnkitError(f"checkpoint {checkpoint}: no class names recorded")
    return Loaded(model, classes, data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    *,
    bed: str | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Metrics of a trained model: on the "dev" part (default) or the "train" part of its own
    data as it was split, or on "all" of it; or on all of the file `data` (with `bed` for a
    tagger). Classifier: loss, accuracy, macro F1, each class's precision, recall, F1 and
    support, the confusion matrix. Tagger: loss, base accuracy, interval and base F1."""
    trained = load(checkpoint)
    d, model = trained.data, trained.model.to(device)
    tagging = isinstance(model, SequenceTagger)
    if data is not None:
        d = replace(d, path=data, bed=bed)
        split = split or "all"
    elif bed is not None:
        raise RnnkitError("--bed goes with --data FASTA (the model's own data has its BED)")
    part: DNAData = split_part(read_data(d, tagging, trained.pipeline), d, split or "dev")
    head = {"examples": len(part.sequences), "split": split or "dev", "data": str(part.path)}
    if tagging:
        batches = tag_batches(part, d, EVAL_BATCH_SIZE, 0, False)(0)
        return {**head, **tag_result(model, on_device(batches, device))}
    batches_c = class_eval_batches(part, d)
    return {**head, **classification_result(model, on_device(batches_c, device), trained.pipeline)}
