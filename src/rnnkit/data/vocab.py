"""Vocabulary: the map between tokens (words, characters, tags) and integer ids.

The lecture represents a word x<t> by its index in a dictionary of V words and, when a network
wants it, by the one-hot vector of that index: a 10,000-word dictionary plus `<unk>` for every
word outside it gives V = 10,001. This module builds such a dictionary from a corpus by
frequency, encodes and decodes token sequences, and saves it as JSON beside a checkpoint.

Id layout: special tokens first, in the order given, then the regular tokens.

    id 0            <pad>   (padding; batching pads with 0, so it must come first when present)
    id 1            <unk>   (every out-of-vocabulary token)
    id 2, 3         <bos>, <eos>   (only when asked for)
    id k, k+1, ...  regular tokens, most frequent first

A vocabulary need not have `<unk>` (a fixed tag set, a character set): encoding an unknown
token then raises `DataError` naming the token instead of mapping it silently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.text import read_text
from rnnkit.errors import DataError, RnnkitError

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"

_FORMAT = "rnnkit.vocabulary"
_VERSION = 1


class Vocabulary:
    """An immutable token <-> id map with special tokens first.

    Build one from a corpus with `Vocabulary.build`, from a fixed label set with
    `Vocabulary.from_tokens`, or directly: `Vocabulary(tokens, specials)` gives the specials
    ids 0..k-1 in order and the tokens ids k, k+1, ... in order.
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = (PAD, UNK)) -> None:
        self._specials: tuple[str, ...] = tuple(specials)
        self._itos: list[str] = [*self._specials, *tokens]
        self._stoi: dict[str, int] = {}
        for i, tok in enumerate(self._itos):
            if not isinstance(tok, str):
                raise RnnkitError(f"vocabulary tokens must be strings, got {tok!r} at id {i}")
            if tok in self._stoi:
                raise RnnkitError(
                    f"token {tok!r} appears twice in the vocabulary (ids {self._stoi[tok]} and {i})"
                )
            self._stoi[tok] = i
        if PAD in self._stoi and self._stoi[PAD] != 0:
            raise RnnkitError(
                f"{PAD!r} must be the first special token (id 0, the value batches are padded "
                f"with), got specials {list(self._specials)}"
            )

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(
        cls,
        corpus: Iterable[Iterable[str]],
        max_size: int | None = None,
        min_count: int = 1,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocabulary:
        """Count the tokens of `corpus` (an iterable of token sequences) and keep the frequent ones.

        max_size:  the number of *regular* tokens kept (specials not counted): the lecture's
                   dictionary is `max_size=10_000` plus `<unk>`.
        min_count: drop tokens seen fewer times than this.
        specials:  special tokens, ids 0..k-1 in order; add `<bos>`/`<eos>` here when a model
                   needs them, e.g. `("<pad>", "<unk>", "<bos>", "<eos>")`.

        Order: by count, most frequent first; tokens with equal counts keep the order of their
        first occurrence in the corpus (so the result never depends on hashing or platform).
        Corpus tokens equal to a special token are not counted as regular tokens.
        """
        if max_size is not None and max_size < 0:
            raise RnnkitError(f"max_size must be >= 0 or None, got {max_size}")
        if min_count < 1:
            raise RnnkitError(f"min_count must be >= 1, got {min_count}")
        if isinstance(corpus, str):
            raise RnnkitError(
                "corpus must be an iterable of token sequences, got a single string; "
                "pass [list(text)] for characters or [text.split()] for words"
            )
        counts: Counter[str] = Counter()
        for sequence in corpus:
            if isinstance(sequence, str):
                raise RnnkitError(
                    f"corpus must contain token sequences, got the string {sequence[:30]!r}; "
                    "tokenize it first (e.g. text.split() or list(text))"
                )
            counts.update(sequence)
        special_set = set(specials)
        # Counter keeps first-insertion order and sorted() is stable, so ties stay in
        # order of first occurrence.
        ranked = sorted(
            (tok for tok, n in counts.items() if n >= min_count and tok not in special_set),
            key=lambda tok: -counts[tok],
        )
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(ranked, specials)

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], specials: Sequence[str] = ()) -> Vocabulary:
        """A vocabulary of exactly `tokens`, in the given order, e.g. a fixed tag set.

        No specials by default, so `from_tokens(["O", "B-PER", "I-PER"])` maps "O" -> 0 and
        rejects unknown tags.
        """
        return cls(tokens, specials)

    # ------------------------------------------------------------------ lookup

    def __len__(self) -> int:
        """V, the number of ids, specials included."""
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._itos == other._itos and self._specials == other._specials

    def __hash__(self) -> int:
        return hash((tuple(self._itos), self._specials))

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, specials={list(self._specials)})"

    @property
    def specials(self) -> tuple[str, ...]:
        return self._specials

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    @property
    def pad_id(self) -> int | None:
        return self._stoi.get(PAD)

    @property
    def unk_id(self) -> int | None:
        return self._stoi.get(UNK)

    @property
    def bos_id(self) -> int | None:
        return self._stoi.get(BOS)

    @property
    def eos_id(self) -> int | None:
        return self._stoi.get(EOS)

    def index(self, token: str) -> int:
        """The id of `token`; an unknown token maps to `<unk>`, or raises DataError without one."""
        i = self._stoi.get(token)
        if i is not None:
            return i
        unk = self.unk_id
        if unk is None:
            raise DataError(
                f"token {token!r} is not in the vocabulary ({len(self)} tokens, no {UNK!r} to "
                "map it to); add it to the vocabulary or build one with an <unk> token"
            )
        return unk

    def token(self, id: int) -> str:
        """The token with id `id`."""
        if not 0 <= id < len(self._itos):
            raise RnnkitError(f"id {id} is outside the vocabulary (valid ids 0..{len(self) - 1})")
        return self._itos[id]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token sequence -> id sequence (unknown tokens -> `<unk>`)."""
        return [self.index(tok) for tok in tokens]

    def decode(self, ids: Iterable[int] | Tensor, strip_special: bool = True) -> list[str]:
        """Id sequence -> token sequence; special tokens are dropped unless strip_special=False."""
        if isinstance(ids, Tensor):
            if ids.dim() != 1:
                raise RnnkitError(
                    f"decode expects a 1-D id tensor (T,), got shape {tuple(ids.shape)}"
                )
            ids = [int(i) for i in ids.tolist()]
        out = [self.token(int(i)) for i in ids]
        if strip_special:
            special = set(self._specials)
            out = [tok for tok in out if tok not in special]
        return out

    def one_hot(self, ids: Tensor) -> Tensor:
        """The lecture's one-hot vectors: ids (...) int -> (..., V) float, a single 1 per row."""
        if ids.dtype.is_floating_point or ids.dtype == torch.bool or ids.is_complex():
            raise RnnkitError(f"one_hot expects integer ids, got dtype {ids.dtype}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(self)):
            raise RnnkitError(
                f"ids must lie in 0..{len(self) - 1}, got values from {int(ids.min())} "
                f"to {int(ids.max())}"
            )
        return torch.nn.functional.one_hot(ids.long(), len(self)).float()  # (..., V)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; `from_dict(to_dict())` gives an equal vocabulary."""
        n = len(self._specials)
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "specials": list(self._specials),
            "tokens": self._itos[n:],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> Vocabulary:
        """Inverse of `to_dict`. Raises DataError (naming `source` when given) on bad input."""
        if not isinstance(data, Mapping):
            raise DataError(f"expected a JSON object, got {type(data).__name__}", path=source)
        if data.get("format") != _FORMAT:
            raise DataError(
                f"not an rnnkit vocabulary: 'format' is {data.get('format')!r}, "
                f"expected {_FORMAT!r}",
                path=source,
            )
        if data.get("version") != _VERSION:
            raise DataError(
                f"unsupported vocabulary version {data.get('version')!r}, expected {_VERSION}",
                path=source,
            )
        for key in ("specials", "tokens"):
            value = data.get(key)
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise DataError(f"{key!r} must be a list of strings", path=source)
        try:
            return cls(data["tokens"], data["specials"])
        except DataError:
            raise
        except RnnkitError as e:
            raise DataError(str(e), path=source) from e

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as UTF-8 JSON."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by `save` (gzip-compressed too, see `read_text`); a missing,
        non-UTF-8 or malformed file raises DataError naming it."""
        path = Path(path)
        text = read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from e
        return cls.from_dict(data, source=path)
