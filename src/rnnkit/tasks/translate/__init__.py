"""Machine translation (many-to-many, T_x != T_y): the recipe.

The lecture's last architecture: "Voulez-vous chanter avec moi?" -> "Do you want to sing with
me?". An encoder reads the whole French sentence, a decoder writes the English one while
attending over the encoder's outputs (`rnnkit.models.Seq2Seq`).

Data: a tab-separated pair file, `English<TAB>French` one pair a line (the Tatoeba file of
manythings.org; `rnnkit data fetch eng-fra`, or the shared eng-fra/train.txt.gz), French ->
English by default (`--direction en-fr` reverses it). The dev split is carved from it by a
fixed rule: every 10th line (as the held-back test split was), or, stricter, 10% grouped by
English sentence (`--dev-split grouped`: Tatoeba repeats an English sentence with several
French variants, which the every-10th split puts on both sides). Text is normalised (NFC,
typographic quotes and the narrow no-break spaces of French punctuation), lowercased and
split into words and punctuation (`rnnkit.data.translation_text`); each side has its own
vocabulary of the training words seen at least `min_count` times. A lower-cased model's output
is written in each word's usual case, learned from the training targets (`tom` -> `Tom`).

Metric: BLEU of the greedy translations of `dev_bleu_sentences` dev pairs (spread evenly over
the split, evaluated with the weight average when training keeps one) against
their raw references (sacrebleu, case-insensitive since the model writes lowercase), which
picks the best checkpoint; `evaluate` reports BLEU (case-insensitive and as is) and chrF with
greedy or beam-search decoding, and sacrebleu's signature.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from rnnkit.data.pairs import build_vocabularies, tokenize_pairs
from rnnkit.data.paths import shared_data_dir
from rnnkit.data.sequences import epoch_batches, in_order_batches
from rnnkit.data.translation_text import tokenize_pair_text, truecase_table
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq, collate_pairs
from rnnkit.tasks.recipe import Prepared, report_data, run_training
from rnnkit.tasks.translate.config import PRESETS, TranslateConfig, TranslateDataConfig
from rnnkit.tasks.translate.inference import (
    Translator,
    evaluate,
    load,
    plot_attention,
    score_translations,
    translate,
)
from rnnkit.tasks.translate.pipeline import (
    TranslationPipeline,
    encode_pairs,
    read_direction,
    split_pairs,
)
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult
from rnnkit.train.results import evaluate_loss

NAME = "translate"
HELP = "machine translation, French to English (encoder-decoder, many-to-many, T_x != T_y)"
# The vocabulary sizes and special ids come from the data.
HIDDEN = frozenset(
    {"source_vocab_size", "target_vocab_size", "pad_id", "unk_id", "bos_id", "eos_id"}
)
METRICS: tuple[str, ...] = ("loss", "bleu")
EVAL_BATCH_SIZE = 64

__all__ = [
    "HELP",
    "HIDDEN",
    "METRICS",
    "NAME",
    "PRESETS",
    "TranslateConfig",
    "TranslateDataConfig",
    "TranslationPipeline",
    "Translator",
    "build_model",
    "evaluate",
    "load",
    "plot_attention",
    "prepare",
    "train",
    "translate",
]


def data_file(config: TranslateDataConfig) -> Path:
    """--data, else the shared eng-fra/train.txt.gz or the fetched eng-fra/train.txt."""
    if config.path:
        return Path(config.path)
    folder = shared_data_dir()
    for name in ("eng-fra/train.txt.gz", "eng-fra/train.txt"):
        if folder is not None and (folder / name).is_file():
            return folder / name
    raise RnnkitError(
        "no pairs to train on: pass --data FILE (English<TAB>French lines), or run "
        "`rnnkit data fetch eng-fra` for the Tatoeba English-French pairs"
    )


def prepare(config: TranslateConfig, dist: DistInfo | None = None) -> Prepared[TranslateConfig]:
    """Read and split the pairs, build both vocabularies from the training part, encode; the
    model config gets the vocabulary sizes."""
    d = config.data
    path = data_file(d)
    report_data(NAME, dist, path)
    train_pairs, dev_pairs = split_pairs(read_direction(path, d.direction), d.dev_split, 0)
    if not train_pairs or not dev_pairs:
        raise RnnkitError(f"{path}: too few pairs to hold out a dev split ({d.dev_split})")
    train_tokens = tokenize_pairs(train_pairs, lowercase=d.lowercase)
    source, target = build_vocabularies(train_tokens, min_count=d.min_count)
    truecase = {}
    if d.lowercase:  # the model writes lower case: how each word is usually written
        truecase = truecase_table(
            tokenize_pair_text(p.target, lowercase=False) for p in train_pairs
        )
    pipeline = TranslationPipeline(
        source, target, d.lowercase, d.direction, d.max_source_tokens, truecase
    )
    dev_examples = encode_pairs(tokenize_pairs(dev_pairs, lowercase=d.lowercase), pipeline)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    train_batches = epoch_batches(
        encode_pairs(train_tokens, pipeline),
        config.train.batch_size,
        config.train.seed,
        rank=rank,
        world_size=world,
        collate=collate_pairs,
        length=_source_then_target_length,
    )
    dev_batches = [b for _, b in in_order_batches(dev_examples, EVAL_BATCH_SIZE, collate_pairs)]
    # A spread of the dev pairs (the file runs from short sentences to long ones).
    step = max(1, len(dev_pairs) // max(d.dev_bleu_sentences, 1))
    scored = dev_pairs[::step][: d.dev_bleu_sentences]

    def evaluate_dev(model: nn.Module, batches: Any) -> dict[str, float]:
        metrics = evaluate_loss(model, batches)
        if not scored:
            return metrics
        assert isinstance(model, Seq2Seq)
        scores = score_translations(model, pipeline, scored, beam=1)
        return {**metrics, "bleu": scores["bleu_uncased"]}

    sized = replace(
        config,
        data=replace(d, path=str(path)),
        model=replace(config.model, source_vocab_size=len(source), target_vocab_size=len(target)),
    )
    return Prepared(sized, train_batches, lambda: dev_batches, evaluate_dev, pipeline.to_extras())


def _source_then_target_length(example: tuple[Tensor, Tensor]) -> int:
    """The bucketing key: source length, then target length (so a batch's targets pad less:
    84% of its target steps are real, against 70% bucketed by the source alone)."""
    return len(example[0]) * 100_000 + len(example[1])


def build_model(config: TranslateConfig) -> Seq2Seq:
    """The untrained encoder-decoder a config describes."""
    return Seq2Seq(config.model)


def train(config: TranslateConfig, resume: bool = False) -> FitResult:
    """Train the translator; checkpoints and logs go to config.train.out_dir."""
    if config.train.metric == "bleu" and config.data.dev_bleu_sentences == 0:
        raise RnnkitError("--metric bleu needs --dev-bleu-sentences > 0 (or --metric loss)")
    return run_training(NAME, config, prepare, build_model, resume)
