"""Entity-level precision, recall and F1, the CoNLL way (as `conlleval` and `seqeval` count).

A tagger is not judged by how many tokens it tags right (most tokens are O), but by how many
entities it finds exactly. An entity counts as correct only if its type and both its
boundaries match a gold entity. Over all sentences and types (micro-averaged):

    precision = correct / predicted     recall = correct / gold     F1 = 2 P R / (P + R)

and the same per entity type. A ratio with a zero denominator is 0. Entities are read from BIO
(or IOB1) tags by `rnnkit.data.tags.bio_to_spans`: an I-X after O or after another type starts
a new entity, as conlleval reads it.

>>> s = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
>>> s.overall.precision, s.overall.recall, s.overall.correct
(0.5, 0.5, 1)
>>> s.per_type["LOC"].recall, s.per_type["ORG"].precision
(0.0, 0.0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rnnkit.data.tags import bio_to_spans
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 (fractions in [0, 1]) with the counts behind them."""

    precision: float
    recall: float
    f1: float
    gold: int  # entities in the gold tags (the "support")
    predicted: int  # entities in the predicted tags
    correct: int  # predicted entities that match a gold one exactly (type, start, end)

    @classmethod
    def from_counts(cls, gold: int, predicted: int, correct: int) -> Score:
        precision = correct / predicted if predicted else 0.0
        recall = correct / gold if gold else 0.0
        total = precision + recall
        f1 = 2 * precision * recall / total if total else 0.0
        return cls(precision, recall, f1, gold, predicted, correct)


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged scores over all entities, scores per type, and token accuracy.

    per_type holds every type that occurs in the gold or the predicted tags, sorted by name.
    accuracy is the fraction of tokens whose predicted tag equals the gold tag.
    """

    overall: Score
    per_type: dict[str, Score]
    accuracy: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        """{"overall": {...}, "per_type": {type: {...}}, "accuracy", "tokens"}, JSON-able."""
        return {
            "overall": asdict(self.overall),
            "per_type": {name: asdict(s) for name, s in self.per_type.items()},
            "accuracy": self.accuracy,
            "tokens": self.tokens,
        }

    def format_report(self, digits: int = 2) -> str:
        """A table in percent: one row per entity type, the overall row, then token accuracy."""
        rows = [*self.per_type.items(), ("overall", self.overall)]
        name_width = max(len(name) for name, _ in rows)
        w = digits + 5
        header = (
            f"{'':<{name_width}}  {'precision':>{max(w, 9)}}  {'recall':>{w}}  {'f1':>{w}}"
            f"  {'gold':>7}  {'predicted':>9}  {'correct':>7}"
        )
        lines = [header]
        for name, s in rows:
            lines.append(
                f"{name:<{name_width}}  {100 * s.precision:>{max(w, 9)}.{digits}f}"
                f"  {100 * s.recall:>{w}.{digits}f}  {100 * s.f1:>{w}.{digits}f}"
                f"  {s.gold:>7}  {s.predicted:>9}  {s.correct:>7}"
            )
        lines.append(f"token accuracy {100 * self.accuracy:.{digits}f}% over {self.tokens} tokens")
        return "\n".join(lines)


def entity_scores(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> EntityScores:
    """Score predicted BIO tag sequences against gold ones, one sequence per sentence.

    Raises RnnkitError when the numbers of sentences or of tags in a sentence differ, or a
    tag is not O, B-X or I-X.
    """
    if len(gold) != len(predicted):
        raise RnnkitError(f"{len(predicted)} predicted sequences for {len(gold)} gold sequences")
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_correct: Counter[str] = Counter()
    tokens = right = 0
    for n, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise RnnkitError(f"sentence {n}: {len(p)} predicted tags for {len(g)} gold tags")
        tokens += len(g)
        right += sum(a == b for a, b in zip(g, p))
        gold_spans = set(bio_to_spans(g))
        pred_spans = set(bio_to_spans(p))
        n_gold.update(span.type for span in gold_spans)
        n_pred.update(span.type for span in pred_spans)
        n_correct.update(span.type for span in gold_spans & pred_spans)
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: Score.from_counts(n_gold[t], n_pred[t], n_correct[t]) for t in types}
    overall = Score.from_counts(sum(n_gold.values()), sum(n_pred.values()), sum(n_correct.values()))
    return EntityScores(overall, per_type, right / tokens if tokens else 0.0, tokens)
