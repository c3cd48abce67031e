"""Edit distance and corpus WER/CER: hand cases, a brute-force distance, and jiwer as oracle."""

from __future__ import annotations

import doctest
import random
from functools import cache

import pytest

import rnnkit.metrics.error_rate as error_rate_module
from rnnkit.errors import RnnkitError
from rnnkit.metrics.error_rate import (
    char_error_rate,
    edit_distance,
    error_rate,
    word_error_rate,
)


def test_doctests() -> None:
    assert doctest.testmod(error_rate_module).failed == 0


@pytest.mark.parametrize(
    ("reference", "hypothesis", "distance"),
    [
        ("kitten", "sitting", 3),  # 2 substitutions, 1 insertion
        ("", "abc", 3),
        ("abc", "", 3),
        ("", "", 0),
        ("abc", "abc", 0),
        ("abcdef", "azced", 3),
        ([1, 2, 3, 4], [2, 3, 4, 5], 2),  # delete 1, insert 5
        (["the", "cat"], ["a", "cat", "sat"], 2),
    ],
)
def test_edit_distance_hand_cases(
    reference: str | list[int] | list[str], hypothesis: str | list[int] | list[str], distance: int
) -> None:
    assert edit_distance(reference, hypothesis) == distance
    assert edit_distance(hypothesis, reference) == distance  # insertions <-> deletions


def recursive_distance(r: str, h: str) -> int:
    """The recurrence read top-down, memoised: an independent reference."""

    @cache
    def d(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (r[i - 1] != h[j - 1]))

    return d(len(r), len(h))


def test_edit_distance_equals_the_recurrence_on_random_strings() -> None:
    rng = random.Random(0)
    for _ in range(300):
        r = "".join(rng.choices("abc", k=rng.randint(0, 8)))
        h = "".join(rng.choices("abc", k=rng.randint(0, 8)))
        assert edit_distance(r, h) == recursive_distance(r, h)


def test_error_rate_is_corpus_level_not_a_mean_of_rates() -> None:
    # 1 edit in 1 symbol and 0 edits in 3 symbols: 1/4 (the mean of rates would be 1/2)
    assert error_rate([[7], [1, 2, 3]], [[8], [1, 2, 3]]) == 0.25
    assert error_rate([[1], []], [[1, 2, 3], [4]]) == 3.0  # insertions push it above 1
    assert word_error_rate(["the cat sat", "on the mat"], ["the cat sit", "on mat"]) == 2 / 6
    assert word_error_rate(["  one\ttwo\n"], ["one two"]) == 0.0  # any whitespace separates
    assert char_error_rate(["ab", "cd e"], ["ab", "cde"]) == 1 / 6  # the space is a character


def test_errors_are_clear() -> None:
    with pytest.raises(RnnkitError, match="2 references and 1 hypotheses"):
        error_rate([[1], [2]], [[1]])
    with pytest.raises(RnnkitError, match="the 2 reference.s. hold no symbols"):
        error_rate([[], []], [[1], []])
    with pytest.raises(RnnkitError, match="hold no symbols"):
        word_error_rate([" ", ""], ["a", "b"])
    with pytest.raises(RnnkitError, match="refs must be a sequence of transcripts"):
        char_error_rate("abc", ["abc"])
    with pytest.raises(RnnkitError, match="hyps must be strings .transcripts., got a list"):
        word_error_rate(["a b"], [["a", "b"]])  # type: ignore[list-item]


def random_corpus(rng: random.Random, size: int) -> tuple[list[str], list[str]]:
    """Texts of words over a tiny alphabet (so that hypotheses often match), separated by one
    or more spaces; some empty. No leading or trailing spaces and no tabs: jiwer's CER strips
    the ends of each string (ours counts those spaces), and jiwer splits words on " " only
    (ours on any whitespace); inside those limits the two definitions agree."""

    def text() -> str:
        words = ["".join(rng.choices("ab", k=rng.randint(1, 3))) for _ in range(rng.randint(0, 5))]
        return "".join(w + " " * rng.randint(1, 2) for w in words).rstrip()

    return [text() for _ in range(size)], [text() for _ in range(size)]


def test_agrees_with_jiwer_on_random_corpora() -> None:
    jiwer = pytest.importorskip("jiwer")
    rng = random.Random(1)
    compared = 0
    for _ in range(400):
        refs, hyps = random_corpus(rng, rng.randint(1, 4))
        # jiwer returns the insertion count (not a rate) when all references are empty; we raise
        if any(r.split() for r in refs):
            assert word_error_rate(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps))
            assert char_error_rate(refs, hyps) == pytest.approx(jiwer.cer(refs, hyps))
            compared += 1
    assert compared > 300


def test_single_pairs_agree_with_jiwer_counts() -> None:
    jiwer = pytest.importorskip("jiwer")
    rng = random.Random(2)
    for _ in range(200):
        (ref,), (hyp,) = random_corpus(rng, 1)
        if not ref:
            continue
        out = jiwer.process_characters(ref, hyp)
        assert edit_distance(ref, hyp) == out.substitutions + out.deletions + out.insertions
        words = jiwer.process_words(ref, hyp)
        expected = words.substitutions + words.deletions + words.insertions
        assert edit_distance(ref.split(), hyp.split()) == expected
