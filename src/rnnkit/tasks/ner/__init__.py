"""Named-entity recognition (many-to-many, T_x = T_y): the recipe.

The lecture's example: read "Harry Potter and Hermione Granger invented a new spell." one word
x<t> per step and output one label y<t> per word. Real corpora tag *which* kind of name and
where it starts (BIO: B-PER I-PER O B-PER I-PER O ...); the readers convert every scheme to
BIO (`rnnkit.data.conll`), and the lecture's binary labels become entities of type NAME.

Data: CoNLL-2003 (`token POS chunk NER` columns) by default, the shared conll2003/eng.train for
training and conll2003/eng.testa as the dev split; `format` also reads `token<TAB>tag` files
("tsv") and the lecture's `sentence<TAB>0 1 1 0` lines ("binary").

Model presets (`config.PRESETS`):
  bilstm-crf  (default) words and characters -> BiLSTM -> CRF, as Lample et al. (2016)
              (`rnnkit.models.crf_tagger.CRFTagger`);
  softmax     the plain `SequenceTagger`: words -> BiLSTM -> softmax at every step, no
              characters, no CRF; for comparison.

The package: `config` (the configuration and presets), `pipeline` (reading tagged sentences,
tokens -> ids), `evaluation` (decoding and entity F1), `tagging` (raw text and files tagged
with a trained model); the recipe itself is here.

Words. A word is looked up in lowercase with every digit replaced by 0 ("Potter" and "potter"
share an embedding, "1996-08-22" reads as "0000-00-00"); its characters keep the original
spelling, so the case is not lost, only moved to the character encoder. The word vocabulary
holds the normalised training words seen at least `min_count` times; everything else is
`<unk>`. So that `<unk>` learns what an unseen word looks like, each training word seen only
once is replaced by `<unk>` with probability `unk_replace` in every epoch (Lample et al.'s
singleton replacement), drawn from a generator seeded by (seed, epoch), so an epoch's batches
are always the same.

Metric: entity-level micro F1 on the dev split (exact type and boundaries, as conlleval
counts; `rnnkit.metrics.entities`); it picks the best checkpoint and stops training early.
The word, character and tag vocabularies and the normalisation switches are saved in every
checkpoint, so `evaluate`, `tag_texts` and `tag_file` need only the checkpoint directory.

Raw text is split into words and punctuation by `rnnkit.data.text.tokenize_with_offsets`
(CoNLL / Penn Treebank conventions: "U.S." stays whole, "Clinton's" -> "Clinton" "'s",
"don't" -> "do" "n't"), which keeps each token's character offsets, so entities can be marked
in the original text with its spacing untouched.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.paths import find_data
from rnnkit.data.sequences import epoch_batches, in_order_batches
from rnnkit.errors import RnnkitError
from rnnkit.metrics.entities import EntityScores, entity_scores
from rnnkit.models.crf_tagger import CRFTagger, CRFTaggerConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks.ner.config import METRICS, PRESETS, NERConfig, NERDataConfig
from rnnkit.tasks.ner.evaluation import evaluator, predict_ids, score_batches
from rnnkit.tasks.ner.pipeline import (
    EVAL_BATCH_SIZE,
    FORMATS,
    Example,
    NERPipeline,
    collate,
    encode_sentences,
    read_sentences,
    sentence_length,
    singletons,
    unk_replacement,
)
from rnnkit.tasks.ner.tagging import (
    Entity,
    NERTagger,
    TaggedText,
    Token,
    entities,
    load,
    tag_file,
    tag_texts,
    tokenize_with_offsets,
)
from rnnkit.tasks.recipe import Prepared, report_data, run_training
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult

NAME = "ner"
HELP = "named-entity recognition on CoNLL-2003 (many-to-many, T_x = T_y)"
# Sizes and tags come from the training data; the inputs are always word ids.
HIDDEN = frozenset({"vocab_size", "num_features", "num_chars", "tags", "num_tags"})

__all__ = [
    "EVAL_BATCH_SIZE",
    "FORMATS",
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "Entity",
    "Example",
    "NERConfig",
    "NERDataConfig",
    "NERPipeline",
    "NERTagger",
    "TaggedText",
    "Token",
    "build_model",
    "data_files",
    "entities",
    "evaluate",
    "evaluator",
    "load",
    "predict_ids",
    "prepare",
    "read_sentences",
    "score_batches",
    "score_file",
    "tag_file",
    "tag_texts",
    "tokenize_with_offsets",
    "train",
]


def data_files(config: NERDataConfig) -> tuple[Path, Path]:
    """(train, dev) paths: the ones given, or the shared CoNLL-2003 eng.train and eng.testa."""
    if config.train_file is not None and config.dev_file is None:
        raise RnnkitError(
            "--train-file needs a --dev-file too: the dev entity F1 picks the best checkpoint"
        )
    if config.train_file is None and config.format != "conll":
        raise RnnkitError(f"--format {config.format} needs --train-file and --dev-file")
    missing = (
        "no training data: the CoNLL-2003 file conll2003/{} was not found; pass --train-file "
        "FILE and --dev-file FILE (`rnnkit data fetch conll2003` says how to get CoNLL-2003)"
    )
    train = find_data(config.train_file, "conll2003/eng.train", missing.format("eng.train"))
    dev = find_data(config.dev_file, "conll2003/eng.testa", missing.format("eng.testa"))
    return train, dev


def prepare(config: NERConfig, dist: DistInfo | None = None) -> Prepared[NERConfig]:
    """Read the files, build the vocabularies from the training sentences, encode both; the
    model config gets the vocabularies' sizes and the tags."""
    d = config.data
    train_path, dev_path = data_files(d)
    report_data(NAME, dist, train_path, dev_path)
    train_sentences = read_sentences(train_path, d.format)
    pipeline = NERPipeline.build(train_sentences, d.min_count, d.lowercase, d.zero_digits)
    dev_sentences = read_sentences(dev_path, d.format, tag_set=pipeline.tags.tokens)
    unk = pipeline.words.unk_id
    assert unk is not None
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    train_batches = epoch_batches(
        encode_sentences(train_sentences, pipeline),
        config.train.batch_size,
        config.train.seed,
        rank=rank,
        world_size=world,
        transform=unk_replacement(
            singletons(train_sentences, pipeline),
            config.train.seed,
            d.unk_replace,
            d.word_dropout,
            unk,
        ),
        collate=collate,
        length=sentence_length,
    )
    dev_examples = encode_sentences(dev_sentences, pipeline)
    dev = [b for _, b in in_order_batches(dev_examples, EVAL_BATCH_SIZE, collate, sentence_length)]
    sized = replace(
        config,
        data=replace(d, train_file=str(train_path.resolve()), dev_file=str(dev_path.resolve())),
        model=sized_model(config.model, pipeline),
    )
    return Prepared(
        sized, train_batches, lambda: dev, evaluator(pipeline.tags), pipeline.to_extras()
    )


def sized_model(
    model: CRFTaggerConfig | TaggerConfig, pipeline: NERPipeline
) -> CRFTaggerConfig | TaggerConfig:
    """The model config with the vocabularies' sizes and the tags of the training data."""
    encoder = replace(model.encoder, vocab_size=len(pipeline.words))
    if isinstance(model, TaggerConfig):
        return replace(model, encoder=encoder, num_tags=len(pipeline.tags))
    return replace(
        model, encoder=encoder, num_chars=len(pipeline.chars), tags=tuple(pipeline.tags.tokens)
    )


def build_model(config: NERConfig) -> nn.Module:
    """The untrained tagger a config describes: a CRFTagger or a softmax SequenceTagger."""
    if isinstance(config.model, TaggerConfig):
        return SequenceTagger(config.model)
    return CRFTagger(config.model)


def train(config: NERConfig, resume: bool = False) -> FitResult:
    """Train the tagger; checkpoints and logs go to config.train.out_dir."""
    return run_training(NAME, config, prepare, build_model, resume)


def score_file(
    checkpoint: str | Path,
    path: str | Path | None = None,
    format: str | None = None,
    device: str | torch.device = "cpu",
) -> EntityScores:
    """Entity-level precision, recall and F1 (overall and per type) on a labelled file
    (default: the dev file the model was trained with, in its format).

    Raises DataError naming the file and line for malformed input, for tags that mix schemes,
    and for a tag the model was never trained on.
    """
    tagger = NERTagger(checkpoint, device)
    trained = tagger.data
    if path is None and trained.dev_file is None:
        raise RnnkitError(f"checkpoint {checkpoint} does not name its dev file; pass --data")
    source = path if path is not None else str(trained.dev_file)
    sentences = read_sentences(
        source, format or trained.format, tag_set=tagger.pipeline.tags.tokens
    )
    predicted = tagger.tag_tokens([s.tokens for s in sentences])
    return entity_scores([s.tags for s in sentences], predicted)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    format: str | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """`score_file` as a dict: {"overall": {precision, recall, f1, ...}, "per_type": {...},
    "accuracy", "tokens"}. `split` is not used: a CoNLL file is one split."""
    scores = score_file(checkpoint, data, format, device)
    return scores.to_dict()
