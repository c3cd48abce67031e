"""Sentence pairs for translation: the reader, dev splits, vocabularies and encoding.

The lecture's many-to-many model with T_x != T_y reads a French sentence x<1>, ..., x<T_x>
and writes its English translation y<1>, ..., y<T_y>. This module turns a tab-separated pair
file into those id sequences:

    pairs = read_pairs("eng-fra/train.txt.gz")          # French -> English by default
    train, dev = split_grouped(pairs, fraction=0.1)     # no English sentence in both
    tokens = tokenize_pairs(train)                      # normalised, lowercased tokens
    source_vocab, target_vocab = build_vocabularies(tokens, max_size=10_000)
    x, y = encode_pair(*tokens[0], source_vocab, target_vocab)

Conventions:

- File format: one pair a line, `English<TAB>French` (column 0, column 1), UTF-8, plain or
  gzip, `\\n` or `\\r\\n` line ends. Every non-blank line has exactly one tab and two non-empty
  sides; blank lines are skipped; a file without pairs is an error. A bad line raises
  `DataError` naming file and line. `source_column`/`target_column` pick the direction:
  (1, 0), the default, is French -> English; (0, 1) is English -> French.
- `Pair.source` and `Pair.target` are the file's text with surrounding whitespace removed and
  nothing else changed: keep `target` as the raw reference for BLEU.
- Tokens: `tokenize_pair_text` (in `rnnkit.data.translation_text`, re-exported here; the rules
  are in its docstring) for both languages; `detokenize_english` turns English output tokens
  back into text to score against the raw reference.
- Vocabularies: specials `<pad>` = 0, `<unk>` = 1, `<bos>` = 2, `<eos>` = 3, then the regular
  tokens, most frequent first (`rnnkit.data.vocab.Vocabulary.build`), one per language.
- Ids (`encode_pair`): the source is the sentence's token ids alone, x: (T_x,) int64, with no
  `<bos>` or `<eos>`; the target is its token ids followed by `<eos>`, y: (T_y,) int64, so
  T_y = number of tokens + 1 and the decoder learns where to stop. A decoder trained with
  teacher forcing reads `[<bos>] + y[:-1]` and predicts `y`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

import torch
from torch import Tensor

from rnnkit.data.text import read_text, split_lines
from rnnkit.data.translation_text import detokenize_english, normalise, tokenize_pair_text
from rnnkit.data.vocab import BOS, EOS, PAD, UNK, Vocabulary
from rnnkit.errors import DataError, RnnkitError

T = TypeVar("T")

# The specials of both translation vocabularies, ids 0..3 in this order.
TRANSLATION_SPECIALS = (PAD, UNK, BOS, EOS)


class Pair(NamedTuple):
    """One sentence pair: the text to translate, its translation, and the file's line (1-based)."""

    source: str
    target: str
    line: int


class TokenizedPair(NamedTuple):
    """The tokens of a `Pair`'s two sides."""

    source: list[str]
    target: list[str]


# ---------------------------------------------------------------------------------- reading


def read_pairs(
    path: str | Path,
    source_column: int = 1,
    target_column: int = 0,
    languages: tuple[str, str] = ("English", "French"),
) -> list[Pair]:
    """Read a tab-separated sentence-pair file (plain or gzip) into `Pair`s, in file order.

    source_column, target_column: which side (0: before the tab, 1: after it) is the source
        and which the target. Default: 1 -> 0, French -> English for the eng-fra file.
    languages: the names of columns 0 and 1, for error messages ("empty French side").

    Raises DataError naming the file and line for a line without a tab or with more than
    one, or with an empty side; and naming the file when it is missing, not UTF-8 (with the
    line) or holds no pairs.
    """
    if {source_column, target_column} != {0, 1}:
        raise RnnkitError(
            "source_column and target_column must be 0 and 1 in some order (a pair file has "
            f"two columns), got source_column={source_column}, target_column={target_column}"
        )
    pairs = []
    for number, line in enumerate(split_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        sides = _split_line(line, Path(path), number, languages)
        pairs.append(Pair(sides[source_column], sides[target_column], number))
    if not pairs:
        raise DataError(
            f"empty file: no sentence pairs found, expected {languages[0]}<TAB>{languages[1]} "
            "lines",
            path=path,
        )
    return pairs


def _split_line(line: str, path: Path, number: int, languages: tuple[str, str]) -> list[str]:
    """The two stripped sides of one `column0<TAB>column1` line, checked."""
    tabs = line.count("\t")
    if tabs != 1:
        problem = "line without a tab" if tabs == 0 else f"line with {tabs} tabs"
        raise DataError(
            f"{problem}, expected exactly one: {languages[0]}<TAB>{languages[1]}",
            path=path,
            line=number,
        )
    sides = [side.strip() for side in line.split("\t")]
    for side, language, where in zip(sides, languages, ("before", "after")):
        if not normalise(side):  # only spaces, zero-width spaces or soft hyphens
            raise DataError(
                f"empty {language} side (nothing {where} the tab)", path=path, line=number
            )
    return sides


# ----------------------------------------------------------------------------------- splits


def split_every_nth(items: Sequence[T], n: int = 10, offset: int = 9) -> tuple[list[T], list[T]]:
    """(train, dev): the items whose 0-based index i has i % n == offset go to dev, the others
    to train, both in their original order.

    The default (every 10th item, the 10th, 20th, ...) is the rule that carved the held-out
    eng-fra test split from the upstream file (see its README).
    """
    if n < 2:
        raise RnnkitError(f"n must be >= 2, got {n}")
    if not 0 <= offset < n:
        raise RnnkitError(f"offset must lie in 0..{n - 1}, got {offset}")
    train = [item for i, item in enumerate(items) if i % n != offset]
    dev = [item for i, item in enumerate(items) if i % n == offset]
    return train, dev


def _target(pair: Pair) -> Hashable:
    return pair.target


def split_grouped(
    pairs: Sequence[Pair],
    fraction: float = 0.1,
    seed: int = 0,
    key: Callable[[Pair], Hashable] = _target,
) -> tuple[list[Pair], list[Pair]]:
    """(train, dev) with whole groups of pairs on one side: no `key` value in both.

    key: groups the pairs; by default the target sentence (English for French -> English), so
        the dev English sentences are all unseen in training although the file repeats an
        English sentence with several French translations. Pass `lambda p: p.source` to
        group by the source side instead.

    The distinct keys, in order of first occurrence, are shuffled with `random.Random(seed)`;
    whole groups then go to dev until it holds at least round(fraction * len(pairs)) pairs.
    Both lists keep the original order. Deterministic: the same pairs, fraction and seed give
    the same split on every platform and Python.
    """
    if not 0 < fraction < 1:
        raise RnnkitError(f"fraction must lie strictly between 0 and 1, got {fraction}")
    groups: dict[Hashable, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault(key(pair), []).append(i)
    order = list(groups)
    random.Random(seed).shuffle(order)
    wanted = round(fraction * len(pairs))
    in_dev: set[int] = set()
    for k in order:
        if len(in_dev) >= wanted:
            break
        in_dev.update(groups[k])
    if not in_dev or len(in_dev) == len(pairs):
        raise RnnkitError(
            f"cannot split {len(pairs)} pairs in {len(groups)} groups with fraction={fraction}: "
            "one side would be empty"
        )
    train = [p for i, p in enumerate(pairs) if i not in in_dev]
    dev = [p for i, p in enumerate(pairs) if i in in_dev]
    return train, dev


# ------------------------------------------------------------------ tokens, vocabularies, ids


def tokenize_pairs(pairs: Iterable[Pair], *, lowercase: bool = True) -> list[TokenizedPair]:
    """`tokenize_pair_text` on both sides of every pair."""
    return [
        TokenizedPair(
            tokenize_pair_text(p.source, lowercase=lowercase),
            tokenize_pair_text(p.target, lowercase=lowercase),
        )
        for p in pairs
    ]


def build_vocabularies(
    pairs_tokens: Iterable[tuple[Sequence[str], Sequence[str]]],
    max_size: int | None = None,
    min_count: int = 1,
) -> tuple[Vocabulary, Vocabulary]:
    """(source vocabulary, target vocabulary) from (source tokens, target tokens) pairs.

    Each has the specials `<pad>` = 0, `<unk>` = 1, `<bos>` = 2, `<eos>` = 3 and then at most
    `max_size` regular tokens seen at least `min_count` times, most frequent first
    (`Vocabulary.build`).
    """
    pairs_tokens = list(pairs_tokens)
    sources = [source for source, _ in pairs_tokens]
    targets = [target for _, target in pairs_tokens]
    return (
        Vocabulary.build(sources, max_size, min_count, specials=TRANSLATION_SPECIALS),
        Vocabulary.build(targets, max_size, min_count, specials=TRANSLATION_SPECIALS),
    )


def encode_pair(
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    source_vocab: Vocabulary,
    target_vocab: Vocabulary,
) -> tuple[Tensor, Tensor]:
    """(x, y): x the source ids (T_x,) int64 without specials; y the target ids followed by
    `<eos>`, (T_y,) int64 with T_y = len(target_tokens) + 1. Unknown tokens -> `<unk>`."""
    eos = target_vocab.eos_id
    if eos is None:
        raise RnnkitError(f"the target vocabulary has no {EOS!r}; build it with build_vocabularies")
    x = torch.tensor(source_vocab.encode(source_tokens), dtype=torch.int64)  # (T_x,)
    y = torch.tensor([*target_vocab.encode(target_tokens), eos], dtype=torch.int64)  # (T_y,)
    return x, y


__all__ = [
    "TRANSLATION_SPECIALS",
    "Pair",
    "TokenizedPair",
    "build_vocabularies",
    "detokenize_english",
    "encode_pair",
    "normalise",
    "read_pairs",
    "split_every_nth",
    "split_grouped",
    "tokenize_pair_text",
    "tokenize_pairs",
]
