"""NER data: reading tagged sentences, and the pipeline that turns tokens into ids exactly as
the model was trained (see `rnnkit.tasks.ner` for the choices)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.batching import make_batch
from rnnkit.data.conll import (
    TaggedSentence,
    read_binary,
    read_conll,
    read_token_tags,
    stream_binary,
    stream_conll,
    stream_token_tags,
)
from rnnkit.data.tags import OUTSIDE, to_bio
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.models.crf_tagger import CHARS, WORD_LENGTHS

FORMATS = ("conll", "tsv", "binary")
EVAL_BATCH_SIZE = 128


def read_sentences(
    path: str | Path, format: str = "conll", tag_set: Iterable[str] | None = None
) -> list[TaggedSentence]:
    """Tagged sentences of a file, tags in BIO (binary labels become B-NAME / I-NAME).

    tag_set: every tag must be one of these (the tags a model was trained on); a DataError
    names the file and line of the first tag that is not.
    """
    if format not in FORMATS:
        raise RnnkitError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    known = None if tag_set is None else set(tag_set)
    if format == "conll":
        return read_conll(path, tag_set=known)
    if format == "tsv":
        return read_token_tags(path, tag_set=known)
    sentences = [_binary_to_bio(s) for s in read_binary(path)]
    if known is not None:
        for s in sentences:
            for i, tag in enumerate(s.tags):
                if tag not in known:
                    raise DataError(
                        f"tag {tag!r} (binary label {s.tags[i] != OUTSIDE:d}) is not one of the "
                        f"tags the model knows ({', '.join(sorted(known))})",
                        path=s.path,
                        line=s.lines[i],
                    )
    return sentences


def stream_sentences(path: str | Path, format: str = "conll") -> Iterator[TaggedSentence]:
    """`read_sentences`'s sentences (without a tag set) one at a time, in bounded memory (a
    column file is read twice, checked whole first: `rnnkit.data.conll.stream_conll`)."""
    if format not in FORMATS:
        raise RnnkitError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "conll":
        return stream_conll(path)
    if format == "tsv":
        return stream_token_tags(path)
    return (_binary_to_bio(s) for s in stream_binary(path))


def _binary_to_bio(s: TaggedSentence) -> TaggedSentence:
    """A sentence of 0/1 labels with BIO tags instead (B-NAME / I-NAME / O)."""
    return TaggedSentence(s.tokens, to_bio(s.tags, "binary"), s.lines, s.path)


class Example(NamedTuple):
    """One encoded sentence of T words, longest word W characters."""

    words: Tensor  # (T,) int64 word ids
    tags: Tensor | None  # (T,) int64 tag ids, None when unlabelled
    chars: Tensor  # (T, W) int64 character ids, 0 after each word's end
    word_lengths: Tensor  # (T,) int64 characters per word


@dataclass(frozen=True)
class NERPipeline:
    """Tokens -> ids exactly as the model was trained (see `rnnkit.tasks.ner`). Saved in
    every checkpoint."""

    words: Vocabulary  # normalised words, <pad> = 0, <unk> = 1
    chars: Vocabulary  # characters of the original tokens, <pad> = 0, <unk> = 1
    tags: Vocabulary  # BIO tags, no specials, O first
    lowercase: bool = True
    zero_digits: bool = True

    @classmethod
    def build(
        cls,
        sentences: Sequence[TaggedSentence],
        min_count: int = 1,
        lowercase: bool = True,
        zero_digits: bool = True,
    ) -> NERPipeline:
        """Vocabularies of the training sentences: words seen at least min_count times."""
        keys = [[_normalise(t, lowercase, zero_digits) for t in s.tokens] for s in sentences]
        words = Vocabulary.build(keys, min_count=min_count, specials=(PAD, UNK))
        chars = Vocabulary.build(
            ([c for token in s.tokens for c in token] for s in sentences), specials=(PAD, UNK)
        )
        seen = {tag for s in sentences for tag in s.tags}
        tags = Vocabulary.from_tokens([OUTSIDE, *sorted(seen - {OUTSIDE}, key=_tag_order)])
        return cls(words, chars, tags, lowercase, zero_digits)

    def word_key(self, token: str) -> str:
        return _normalise(token, self.lowercase, self.zero_digits)

    def encode(self, tokens: Sequence[str], tags: Sequence[str] | None = None) -> Example:
        """One sentence's ids; every token must be a non-empty string."""
        word_ids = [self.words.index(self.word_key(t)) for t in tokens]
        char_ids = [self.chars.encode(t) for t in tokens]
        W = max(len(ids) for ids in char_ids)
        padded = [ids + [0] * (W - len(ids)) for ids in char_ids]
        return Example(
            torch.tensor(word_ids, dtype=torch.int64),
            None if tags is None else torch.tensor(self.tags.encode(tags), dtype=torch.int64),
            torch.tensor(padded, dtype=torch.int64).view(len(tokens), W),  # (T, W)
            torch.tensor([len(t) for t in tokens], dtype=torch.int64),
        )

    def tag_names(self, ids: Sequence[int]) -> list[str]:
        return [self.tags.token(i) for i in ids]

    def to_extras(self) -> dict[str, Any]:
        return {
            "words": self.words.to_dict(),
            "chars": self.chars.to_dict(),
            "tags": self.tags.to_dict(),
            "lowercase": self.lowercase,
            "zero_digits": self.zero_digits,
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> NERPipeline:
        try:
            return cls(
                Vocabulary.from_dict(extras["words"]),
                Vocabulary.from_dict(extras["chars"]),
                Vocabulary.from_dict(extras["tags"]),
                bool(extras["lowercase"]),
                bool(extras["zero_digits"]),
            )
        except (KeyError, TypeError, ValueError, RnnkitError) as e:
            raise CheckpointError(
                f"checkpoint {where}: no usable word, character and tag vocabularies ({e})"
            ) from None


_DIGIT = re.compile(r"\d")


def _normalise(token: str, lowercase: bool, zero_digits: bool) -> str:
    if lowercase:
        token = token.lower()
    return _DIGIT.sub("0", token) if zero_digits else token


def _tag_order(tag: str) -> tuple[str, str]:
    """B-X before I-X, grouped by type: B-LOC, I-LOC, B-MISC, ..."""
    return tag[2:], tag[:2]


def encode_sentences(
    sentences: Sequence[TaggedSentence], pipeline: NERPipeline, labelled: bool = True
) -> list[Example]:
    return [pipeline.encode(s.tokens, s.tags if labelled else None) for s in sentences]


def collate(examples: Sequence[Example]) -> Batch:
    """A padded batch: inputs (B, T), targets (B, T) (-100 on padding), extras chars (B, T, W)
    and word_lengths (B, T) (0 for padding words)."""
    tags = [e.tags for e in examples]
    return make_batch(
        [e.words for e in examples],
        None if any(t is None for t in tags) else tags,  # type: ignore[arg-type]
        extras={
            CHARS: [e.chars for e in examples],
            WORD_LENGTHS: [e.word_lengths for e in examples],
        },
    )


def singletons(sentences: Sequence[TaggedSentence], pipeline: NERPipeline) -> list[Tensor]:
    """Per sentence, (T,) bool: which words occur exactly once in the whole training set."""
    counts = Counter(pipeline.word_key(t) for s in sentences for t in s.tokens)
    return [
        torch.tensor([counts[pipeline.word_key(t)] == 1 for t in s.tokens], dtype=torch.bool)
        for s in sentences
    ]


def unk_replacement(
    once: Sequence[Tensor], seed: int, unk_replace: float, word_dropout: float, unk_id: int
) -> Callable[[int, int, Example], Example] | None:
    """The training transform (see the package docstring): in every epoch, each singleton word
    becomes <unk> with probability unk_replace and every other word with probability
    word_dropout, drawn from a generator seeded by (seed, epoch, sentence), so an epoch's
    batches are always the same. None when both probabilities are 0."""
    if unk_replace == 0 and word_dropout == 0:
        return None

    def transform(epoch: int, index: int, example: Example) -> Example:
        generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + index)
        p = torch.where(once[index], unk_replace, word_dropout)  # (T,) per word
        drop = torch.rand(len(example.words), generator=generator) < p  # (T,)
        return example._replace(words=example.words.masked_fill(drop, unk_id))

    return transform


def sentence_length(example: Example) -> int:
    return len(example.words)
