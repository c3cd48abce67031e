"""Corpus BLEU and chrF for translation, computed by sacrebleu so that scores compare with
published ones.

    corpus_bleu(hypotheses, references)   BLEU, 0-100 (Papineni et al. 2002, as sacrebleu)
    corpus_chrf(hypotheses, references)   chrF (character n-gram F-score, beta = 2), 0-100
    signature()                           sacrebleu's signature of both, to report with them

Hypotheses and references are *text*, one reference per hypothesis: detokenize the model's
output (`rnnkit.data.translation_text.detokenize_english`) and pass the raw reference sentence
(`Pair.target`); sacrebleu applies its own tokenisation (13a for BLEU) to both.

BLEU = BP * exp(sum_n 1/4 log p_n), with p_n the corpus-level clipped n-gram precision
(n = 1..4) and the brevity penalty BP = exp(1 - r/c) when the hypotheses' length c is below
the references' length r, else 1; scores are reported x 100. Case-sensitive unless
`lowercase=True`, which matters when the model writes lowercased text (names: `tom`).

sacrebleu is an optional dependency (`pip install 'rnnkit[translate]'`), imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from rnnkit.errors import RnnkitError

_INSTALL = "pip install 'rnnkit[translate]'"


def _sacrebleu() -> ModuleType:
    try:
        import sacrebleu
    except ImportError:
        raise RnnkitError(f"BLEU and chrF need sacrebleu: {_INSTALL}") from None
    return sacrebleu


def _checked(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    """The two lists, after checking they are equally long, non-empty lists of strings."""
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(texts, str):
            raise RnnkitError(f"{name} must be a sequence of sentences, got a single string")
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise RnnkitError(
                f"{name} must be strings (detokenized text), got a {type(bad).__name__}: "
                f"{bad!r:.60}"
            )
    if len(hypotheses) != len(references):
        raise RnnkitError(
            f"expected one reference per hypothesis, got {len(hypotheses)} hypotheses and "
            f"{len(references)} references"
        )
    if not hypotheses:
        raise RnnkitError("no hypotheses to score")
    return list(hypotheses), list(references)


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str], *, lowercase: bool = False
) -> float:
    """Corpus BLEU (0-100) of detokenized hypotheses against one raw reference each."""
    hyps, refs = _checked(hypotheses, references)
    bleu = _sacrebleu().metrics.BLEU(lowercase=lowercase)
    return float(bleu.corpus_score(hyps, [refs]).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100; character n-grams up to 6, beta = 2) against one reference each."""
    hyps, refs = _checked(hypotheses, references)
    return float(_sacrebleu().metrics.CHRF().corpus_score(hyps, [refs]).score)


def signature(*, lowercase: bool = False) -> str:
    """sacrebleu's signatures of `corpus_bleu` (with this `lowercase`) and `corpus_chrf`, e.g.
    "BLEU nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 chrF2 nrefs:1|...".
    """
    metrics = _sacrebleu().metrics
    bleu, chrf = metrics.BLEU(lowercase=lowercase), metrics.CHRF()
    for metric in (bleu, chrf):  # a signature names the reference count, known after scoring
        metric.corpus_score(["a"], [["a"]])
    return f"BLEU {bleu.get_signature()} chrF2 {chrf.get_signature()}"


__all__ = ["corpus_bleu", "corpus_chrf", "signature"]
