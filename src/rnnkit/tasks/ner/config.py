"""The NER task's configuration: which sentences and how words become ids, the tagger, and
how to train it; the presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rnnkit.errors import RnnkitError
from rnnkit.models.crf_tagger import CRFTaggerConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.ner.pipeline import FORMATS
from rnnkit.train.config import TrainConfig

# The dev metrics of `rnnkit.tasks.ner.evaluation.evaluator`: --metric takes one of them.
METRICS: tuple[str, ...] = ("loss", "precision", "recall", "f1", "accuracy")


@dataclass(frozen=True)
class NERDataConfig:
    # Training sentences. Default: the shared CoNLL-2003 conll2003/eng.train.
    train_file: str | None = None
    # Dev sentences, whose entity F1 picks the best checkpoint. Default: the shared
    # conll2003/eng.testa (required when train_file is given).
    dev_file: str | None = None
    # File format: "conll" (token first, tag last, whitespace-separated columns), "tsv"
    # (token<TAB>tag) or "binary" (the lecture's `sentence<TAB>0 1 1 0` lines).
    format: str = "conll"
    # Training words (lowercased, digits -> 0) seen fewer times than this become <unk>.
    min_count: int = 1
    # Probability of replacing a training word seen only once by <unk>, drawn anew each epoch,
    # so that the <unk> embedding learns what unseen words look like. 0 disables it.
    unk_replace: float = 0.5
    # Probability of replacing any other training word by <unk>, drawn anew each epoch (word
    # dropout: the tagger learns to rely on the characters and the context too). 0 disables it.
    word_dropout: float = 0.0
    # Look words up in lowercase (their characters keep the original case).
    lowercase: bool = True
    # Replace every digit by 0 before the word lookup.
    zero_digits: bool = True
    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"format": FORMATS}

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RnnkitError(f"--format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.min_count < 1:
            raise RnnkitError(f"--min-count must be at least 1, got {self.min_count}")
        if not 0.0 <= self.unk_replace < 1.0:
            raise RnnkitError(f"--unk-replace must be in [0, 1), got {self.unk_replace}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise RnnkitError(f"--word-dropout must be in [0, 1), got {self.word_dropout}")


@dataclass(frozen=True)
class NERConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    # Which sentences, and how words become ids (with word dropout 0.1 in training).
    data: NERDataConfig = field(default_factory=lambda: NERDataConfig(word_dropout=0.1))
    # The tagger: a CRFTaggerConfig (words and characters -> BiLSTM -> CRF) or a TaggerConfig
    # (words -> BiLSTM -> softmax per step). Its vocabulary sizes and tags are set from the
    # training data when training starts.
    model: CRFTaggerConfig | TaggerConfig = field(
        default_factory=lambda: CRFTaggerConfig(
            encoder=EncoderConfig(
                vocab_size=20_000,
                embedding_dim=100,
                cell="lstm",
                hidden_size=200,
                bidirectional=True,
                input_dropout=0.5,
            ),
            output_dropout=0.5,
        )
    )
    # How to train; the dev entity F1 picks the best checkpoint and stops training early.
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=15,
            batch_size=32,
            lr=2e-3,
            clip_norm=5.0,
            lr_schedule="cosine",
            min_lr=1e-4,
            metric="f1",
            patience=5,
            ema_decay=0.999,
            out_dir="runs/ner",
        )
    )


_CRF = NERConfig()

PRESETS: dict[str, NERConfig] = {
    # Lample et al. (2016) without pretrained embeddings: word embeddings (100) and a character
    # BiLSTM (2 x 25) -> BiLSTM -> CRF, dropout 0.5 before and after the BiLSTM. Two changes:
    # 200 units per direction instead of 100 (random embeddings leave more to the BiLSTM: +0.6
    # dev F1 in 6-epoch runs), and Adam with batches of 32 and a cosine decay of the learning
    # rate from 2e-3 to 1e-4 over 15 epochs (Lample et al. used SGD on single sentences, which
    # needs many more, slower epochs on a CPU). Two regularisers on top: word dropout 0.1
    # (any training word becomes <unk> with probability 0.1, so the tagger leans on the
    # characters and the context: dev F1 90.00 -> 90.95 with seed 1, 90.11 -> 90.66 with
    # seed 0), and weights evaluated and saved as an exponential moving average over about the
    # last 1,000 steps (ema_decay 0.999, some 2 epochs): the dev F1 of the raw weights jumps
    # by a point from epoch to epoch, the average's climbs smoothly and higher (90.11 against
    # 89.87 at best, same settings otherwise).
    "default": _CRF,
    "bilstm-crf": _CRF,
    # The per-step softmax tagger over word embeddings alone, for comparison.
    "softmax": replace(
        _CRF,
        model=TaggerConfig(encoder=_CRF.model.encoder, num_tags=9, output_dropout=0.5),
    ),
}
