"""Corpus BLEU and chrF: against sacrebleu called directly, and BLEU against a hand count."""

from __future__ import annotations

import math
import sys

import pytest

from rnnkit.data.pairs import detokenize_english, tokenize_pair_text
from rnnkit.errors import RnnkitError
from rnnkit.metrics.translation import corpus_bleu, corpus_chrf, signature

sacrebleu = pytest.importorskip("sacrebleu")

REFERENCES = ["I'm hungry.", "Tom isn't here, is he?", '"Look," she said.', "We're very busy."]
OUTPUTS = ["i 'm hungry .", "tom is n't there , is he ?", '" look , " she said .', "we 're busy ."]


def test_bleu_by_hand() -> None:
    """Two sentences of plain lowercase words (13a tokenisation changes nothing), counted by
    hand: clipped n-gram matches / hypothesis n-grams over the corpus, and the brevity penalty
    for c = 6 + 7 = 13 hypothesis words against r = 6 + 8 = 14 reference words."""
    hypotheses = ["the cat sat on the mat", "a dog ran in the big park"]
    references = ["the cat sat on the mat", "the dog ran in the big green park"]
    # sentence 1 matches everything: 6/6, 5/5, 4/4, 3/3 n-grams (n = 1..4);
    # sentence 2: 1-grams 6/7 (not "a"), 2-grams 4/6 (not "a dog", "big park"),
    # 3-grams 3/5, 4-grams 2/4 ("dog ran in the", "ran in the big").
    precisions = [(6 + 6) / (6 + 7), (5 + 4) / (5 + 6), (4 + 3) / (4 + 5), (3 + 2) / (3 + 4)]
    brevity_penalty = math.exp(1 - 14 / 13)
    expected = 100 * brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / 4)
    assert corpus_bleu(hypotheses, references) == pytest.approx(expected, abs=1e-6)
    assert corpus_bleu(references, references) == pytest.approx(100.0)


def test_bleu_and_chrf_agree_with_sacrebleu() -> None:
    hypotheses = [detokenize_english(line.split()) for line in OUTPUTS]
    assert hypotheses[:3] == ["I'm hungry.", "Tom isn't there, is he?", '"Look," she said.']
    bleu = sacrebleu.corpus_bleu(hypotheses, [REFERENCES]).score
    assert corpus_bleu(hypotheses, REFERENCES) == pytest.approx(bleu, abs=1e-9)
    assert 0 < bleu < 100
    chrf = sacrebleu.corpus_chrf(hypotheses, [REFERENCES]).score
    assert corpus_chrf(hypotheses, REFERENCES) == pytest.approx(chrf, abs=1e-9)
    assert corpus_chrf(REFERENCES, REFERENCES) == pytest.approx(100.0)


def test_lowercase_forgives_lowercased_names() -> None:
    references = ["Tom and Mary live in Boston."]
    hypotheses = [detokenize_english(tokenize_pair_text(references[0]))]
    assert hypotheses == ["Tom and mary live in boston."]
    assert corpus_bleu(hypotheses, references) < 100
    assert corpus_bleu(hypotheses, references, lowercase=True) == pytest.approx(100.0)


def test_signature() -> None:
    text = signature()
    assert text.startswith("BLEU nrefs:1|case:mixed|") and "tok:13a" in text
    assert f"version:{sacrebleu.__version__}" in text and "chrF2 " in text
    assert "case:lc" in signature(lowercase=True)


@pytest.mark.parametrize(
    ("hypotheses", "references", "message"),
    [
        (["a"], ["a", "b"], "one reference per hypothesis"),
        ([], [], "no hypotheses"),
        ("a b", "a b", "single string"),
        ([["a"]], ["a"], "must be strings"),
    ],
)
def test_bad_arguments(hypotheses: list[str], references: list[str], message: str) -> None:
    with pytest.raises(RnnkitError, match=message):
        corpus_bleu(hypotheses, references)
    with pytest.raises(RnnkitError, match=message):
        corpus_chrf(hypotheses, references)


def test_missing_sacrebleu_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu -> ImportError
    with pytest.raises(RnnkitError, match=r"pip install 'rnnkit\[translate\]'"):
        corpus_bleu(["a"], ["a"])
    with pytest.raises(RnnkitError, match="sacrebleu"):
        signature()
