"""Error rates of recognised sequences: the Levenshtein distance and the corpus-level word and
character error rates of speech recognition.

    edit_distance(reference, hypothesis)     fewest substitutions, insertions and deletions
                                             (each costs 1) that turn reference into hypothesis
    error_rate(references, hypotheses)       corpus level: total edits / total reference symbols
    word_error_rate(refs, hyps)              WER, symbols = words (split on any whitespace)
    char_error_rate(refs, hyps)              CER, symbols = the characters of the strings

The distance d(r, h) between r (length n) and h (length m) is D[n][m] of the recurrence

    D[i][0] = i,   D[0][j] = j
    D[i][j] = min(D[i-1][j] + 1,                   deletion of r_i
                  D[i][j-1] + 1,                   insertion of h_j
                  D[i-1][j-1] + [r_i != h_j])      substitution (free when equal)

and the corpus rate is E = sum_u d(r_u, h_u) / sum_u |r_u| over utterances u, not the mean of
the per-utterance rates: every reference symbol weighs the same, and E exceeds 1 when the
hypotheses insert more than the references hold. An empty reference is fine inside a corpus
(its hypothesis's symbols count as insertions); a corpus whose references are all empty has no
rate and is an error.

Symbols are any values compared with ==: label ids, words, characters. CER takes the strings
as given: spaces count as characters and nothing is stripped or lower-cased (normalise
before calling if the reference was written differently from the model's output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from rnnkit.errors import RnnkitError

Symbol = TypeVar("Symbol")


def edit_distance(reference: Sequence[Symbol], hypothesis: Sequence[Symbol]) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions, each cost 1.

    >>> edit_distance("kitten", "sitting")
    3
    """
    previous = list(range(len(hypothesis) + 1))  # D[i-1][:], starting at D[0][j] = j
    for i, r in enumerate(reference, start=1):
        current = [i]  # D[i][0] = i
        for j, h in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(
    references: Sequence[Sequence[Symbol]], hypotheses: Sequence[Sequence[Symbol]]
) -> float:
    """Corpus error rate: sum of edit distances / sum of reference lengths.

    references, hypotheses: one symbol sequence per utterance, in the same order.
    >>> error_rate([[1, 2, 3], []], [[1, 3], [4]])
    0.6666666666666666
    """
    if len(references) != len(hypotheses):
        raise RnnkitError(
            f"expected one hypothesis per reference, got {len(references)} references and "
            f"{len(hypotheses)} hypotheses"
        )
    symbols = sum(len(r) for r in references)
    if symbols == 0:
        raise RnnkitError(
            f"the error rate is undefined: the {len(references)} reference(s) hold no symbols "
            "(edits are divided by the number of reference symbols)"
        )
    edits = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    return edits / symbols


def word_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """WER: `error_rate` over words, each string split on runs of whitespace (`str.split()`).

    >>> word_error_rate(["the cat sat", "on the mat"], ["the cat sit", "on  mat"])
    0.3333333333333333
    """
    _check_texts(refs, hyps)
    return error_rate([r.split() for r in refs], [h.split() for h in hyps])


def char_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """CER: `error_rate` over the characters of each string, spaces included, as given.

    >>> char_error_rate(["one two"], ["one to"])
    0.14285714285714285
    """
    _check_texts(refs, hyps)
    return error_rate(list(refs), list(hyps))


def _check_texts(refs: Sequence[str], hyps: Sequence[str]) -> None:
    for name, texts in (("refs", refs), ("hyps", hyps)):
        if isinstance(texts, str):
            raise RnnkitError(f"{name} must be a sequence of transcripts, got a single string")
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise RnnkitError(
                f"{name} must be strings (transcripts), got a {type(bad).__name__}: {bad!r:.60}"
            )


__all__ = ["char_error_rate", "edit_distance", "error_rate", "word_error_rate"]
