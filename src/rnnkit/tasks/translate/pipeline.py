"""Translation data as the model sees it: pairs read and split, tokens turned into ids and back,
exactly as the model was trained (saved in every checkpoint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.pairs import (
    Pair,
    TokenizedPair,
    read_pairs,
    split_every_nth,
    split_grouped,
)
from rnnkit.data.translation_text import detokenize_english, tokenize_pair_text
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import CheckpointError, RnnkitError

DIRECTIONS = ("fr-en", "en-fr")
DEV_SPLITS = ("every10", "grouped")
LANGUAGES = {"en": "English", "fr": "French"}


def columns(direction: str) -> tuple[int, int]:
    """(source column, target column) of an `English<TAB>French` file."""
    return (1, 0) if direction == "fr-en" else (0, 1)


def read_direction(path: str | Path, direction: str) -> list[Pair]:
    """The pairs of a tab-separated file, source and target as `direction` says."""
    source, target = columns(direction)
    return read_pairs(path, source_column=source, target_column=target)


def split_pairs(pairs: Sequence[Pair], dev_split: str, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, dev): every 10th line (0-based index % 10 == 9, as the held-back test split was
    carved), or 10% grouped by target sentence (no target sentence on both sides: Tatoeba
    repeats an English sentence with several French variants)."""
    if dev_split == "every10":
        return split_every_nth(pairs, n=10, offset=9)
    return split_grouped(pairs, fraction=0.1, seed=seed)


@dataclass(frozen=True)
class TranslationPipeline:
    """Text -> source ids and target ids -> text, as trained: `tokenize_pair_text` (NFC,
    typographic quotes and spaces normalised, punctuation split, lowercased when `lowercase`),
    and the two vocabularies (<pad> 0, <unk> 1, <bos> 2, <eos> 3)."""

    source: Vocabulary
    target: Vocabulary
    lowercase: bool
    direction: str
    max_source_tokens: int
    # lower-cased target word -> its usual written form (`truecase_table` of the training
    # targets), applied when a lower-cased model's output is written out.
    truecase: Mapping[str, str] = field(default_factory=dict)

    def tokens(self, text: str, lowercase: bool | None = None) -> list[str]:
        """The tokens of a text as trained (lowercased when the model was), or as written
        with lowercase=False."""
        lower = self.lowercase if lowercase is None else lowercase
        return tokenize_pair_text(text, lowercase=lower)

    def encode_source(self, text: str, what: str = "text") -> Tensor:
        """(T_x,) ids of one source sentence; an empty or too long one is an RnnkitError."""
        tokens = self.tokens(text)
        if not tokens:
            raise RnnkitError(f"{what} is empty: nothing to translate")
        if len(tokens) > self.max_source_tokens:
            raise RnnkitError(
                f"{what} has {len(tokens)} tokens, more than the model's limit of "
                f"{self.max_source_tokens} (--max-source-tokens): split it into sentences"
            )
        return torch.tensor(self.source.encode(tokens), dtype=torch.int64)

    def encode_target(self, text: str) -> Tensor:
        """(T_y,) target ids ending with <eos>."""
        eos = self.target.eos_id
        assert eos is not None
        return torch.tensor([*self.target.encode(self.tokens(text)), eos], dtype=torch.int64)

    def target_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.target.token(i) for i in ids]

    def detokenize(self, ids: Sequence[int]) -> str:
        """A translation as text: words in their usual case (`truecase`), English
        detokenised (spacing, capitals); French tokens joined by the same rules (good enough
        for reading; BLEU tokenises again)."""
        return self.detokenize_tokens(self.target_tokens(ids))

    def detokenize_tokens(self, tokens: Sequence[str]) -> str:
        """Target tokens as text (see `detokenize`)."""
        return detokenize_english(tokens, self.truecase)

    def to_extras(self) -> dict[str, Any]:
        return {
            "source_vocab": self.source.to_dict(),
            "target_vocab": self.target.to_dict(),
            "lowercase": self.lowercase,
            "direction": self.direction,
            "max_source_tokens": self.max_source_tokens,
            "truecase": dict(self.truecase),
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> TranslationPipeline:
        try:
            return cls(
                Vocabulary.from_dict(extras["source_vocab"]),
                Vocabulary.from_dict(extras["target_vocab"]),
                bool(extras["lowercase"]),
                str(extras["direction"]),
                int(extras["max_source_tokens"]),
                _string_map(extras.get("truecase", {})),  # absent before it existed
            )
        except (KeyError, TypeError, ValueError, RnnkitError) as e:
            raise CheckpointError(
                f"checkpoint {where}: no usable source and target vocabularies ({e})"
            ) from None


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("truecase: expected a JSON object of strings")
    return dict(value)


def encode_pairs(
    tokenized: Sequence[TokenizedPair], pipeline: TranslationPipeline
) -> list[tuple[Tensor, Tensor]]:
    """(source ids, target ids + <eos>) per tokenized pair, through the pipeline's
    vocabularies."""
    eos = pipeline.target.eos_id
    assert eos is not None
    out = []
    for tp in tokenized:
        x = torch.tensor(pipeline.source.encode(tp.source), dtype=torch.int64)
        y = torch.tensor([*pipeline.target.encode(tp.target), eos], dtype=torch.int64)
        out.append((x, y))
    return out
