"""The translation task's configuration: which pairs and how they become ids, the
encoder-decoder, and how to train it; the presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from rnnkit.models.checks import check_choice, check_int
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.translate.pipeline import DEV_SPLITS, DIRECTIONS
from rnnkit.train.config import TrainConfig


@dataclass(frozen=True)
class TranslateDataConfig:
    # English<TAB>French pairs, one a line (plain or .gz). Default: the shared
    # eng-fra/train.txt.gz, or what `rnnkit data fetch eng-fra` downloaded.
    path: str | None = field(default=None, metadata={"option": "data"})
    # "fr-en" (French source, English target) or "en-fr".
    direction: str = "fr-en"
    # The dev split: "every10" (every 10th line) or "grouped" (10% of the English sentences,
    # with all their French variants).
    dev_split: str = "every10"
    # Lowercase both sides before looking words up.
    lowercase: bool = True
    # Training words seen fewer times than this become <unk>.
    min_count: int = 2
    # Source sentences longer than this many tokens are refused when translating.
    max_source_tokens: int = 100
    # Dev pairs translated (greedily) after each epoch for the BLEU that picks the best
    # checkpoint, spread evenly over the dev split; 0 evaluates the loss only.
    dev_bleu_sentences: int = 1000

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "direction": DIRECTIONS,
        "dev_split": DEV_SPLITS,
    }

    def __post_init__(self) -> None:
        me = "TranslateDataConfig"
        check_choice(me, "direction", self.direction, DIRECTIONS)
        check_choice(me, "dev_split", self.dev_split, DEV_SPLITS)
        check_int(me, "min_count", self.min_count, 1)
        check_int(me, "max_source_tokens", self.max_source_tokens, 1)
        check_int(me, "dev_bleu_sentences", self.dev_bleu_sentences, 0)


@dataclass(frozen=True)
class TranslateConfig:
    data: TranslateDataConfig = field(default_factory=TranslateDataConfig)
    # A bidirectional GRU encoder and a GRU decoder with additive attention and input feeding;
    # the vocabulary sizes are set from the data. Regularised by label smoothing and an average
    # of the weights rather than dropout: on the Tatoeba pairs, after three epochs, dropout 0.1
    # cost 1.8 dev BLEU and 0.2 cost 4.3 (benchmarks/translate_tatoeba.py, README).
    model: Seq2SeqConfig = field(
        default_factory=lambda: Seq2SeqConfig(
            source_embedding_dim=256,
            target_embedding_dim=256,
            cell="gru",
            hidden_size=256,
            attention="additive",
            dropout=0.0,
            label_smoothing=0.1,
        )
    )
    # About 50 minutes on one CPU thread for the Tatoeba file's 115,658 training pairs where
    # the CPU multiplies bfloat16 natively (precision auto), about 70 in float32.
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=8,
            batch_size=64,
            lr=2e-3,
            clip_norm=1.0,
            lr_schedule="cosine",
            min_lr=2e-4,
            ema_decay=0.999,
            metric="bleu",
            patience=3,
            precision="auto",
            out_dir="runs/translate",
        )
    )


PRESETS: dict[str, TranslateConfig] = {
    "default": TranslateConfig(),
    # A quick look in a few minutes on a CPU: a small model, three epochs.
    "small": TranslateConfig(
        model=replace(
            TranslateConfig().model,
            source_embedding_dim=64,
            target_embedding_dim=64,
            hidden_size=64,
        ),
        train=replace(TranslateConfig().train, epochs=3),
    ),
}
