"""Entity-level P/R/F1: hand-made cases and agreement with seqeval (the conlleval reading)."""

from __future__ import annotations

import doctest
import random
import warnings

import pytest
from conftest import shared_data

import rnnkit.metrics.entities as entities_module
from rnnkit.data.conll import read_conll
from rnnkit.errors import RnnkitError
from rnnkit.metrics import EntityScores, Score, entity_scores

seqeval_metrics = pytest.importorskip("seqeval.metrics")

TYPES = ["PER", "LOC", "ORG"]
TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]


def seqeval_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, dict[str, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns about 0/0
        report = seqeval_metrics.classification_report(
            gold, pred, output_dict=True, zero_division=0
        )
        overall = {
            "precision": seqeval_metrics.precision_score(gold, pred, zero_division=0),
            "recall": seqeval_metrics.recall_score(gold, pred, zero_division=0),
            "f1-score": seqeval_metrics.f1_score(gold, pred, zero_division=0),
        }
    types = {k: v for k, v in report.items() if not k.endswith(" avg")}
    return {"overall": overall, **types}


def assert_agrees_with_seqeval(
    ours: EntityScores, gold: list[list[str]], pred: list[list[str]]
) -> None:
    ref = seqeval_scores(gold, pred)
    assert ours.overall.precision == pytest.approx(ref["overall"]["precision"])
    assert ours.overall.recall == pytest.approx(ref["overall"]["recall"])
    assert ours.overall.f1 == pytest.approx(ref["overall"]["f1-score"])
    gold_types = {t for t, s in ours.per_type.items() if s.gold > 0}
    for t in set(ref) - {"overall"}:
        assert ours.per_type[t].precision == pytest.approx(ref[t]["precision"]), t
        assert ours.per_type[t].recall == pytest.approx(ref[t]["recall"]), t
        assert ours.per_type[t].f1 == pytest.approx(ref[t]["f1-score"]), t
        assert ours.per_type[t].gold == ref[t]["support"], t
    assert gold_types <= set(ref)


# --------------------------------------------------------------------------- hand-made cases


def test_exact_span_and_type_are_required() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-LOC"]]  # PER right, LOC short, ORG->LOC
    s = entity_scores(gold, pred)
    assert s.overall == Score(1 / 3, 1 / 3, 1 / 3, gold=3, predicted=3, correct=1)
    assert s.per_type["PER"] == Score(1.0, 1.0, 1.0, 1, 1, 1)
    assert s.per_type["LOC"] == Score(0.0, 0.0, 0.0, gold=1, predicted=2, correct=0)
    assert s.per_type["ORG"] == Score(0.0, 0.0, 0.0, gold=1, predicted=0, correct=0)
    assert list(s.per_type) == ["LOC", "ORG", "PER"]
    assert s.accuracy == pytest.approx(5 / 7) and s.tokens == 7


def test_micro_average_over_sentences() -> None:
    gold = [["B-PER"], ["B-LOC", "O"], ["O"]]
    pred = [["B-PER"], ["O", "O"], ["B-ORG"]]
    s = entity_scores(gold, pred)
    # correct 1; predicted 2; gold 2
    assert (s.overall.precision, s.overall.recall, s.overall.f1) == (0.5, 0.5, 0.5)


def test_i_tag_after_o_is_an_entity_in_the_conll_reading() -> None:
    s = entity_scores([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])
    assert s.overall.f1 == 1.0
    s = entity_scores([["B-PER", "B-PER"]], [["I-PER", "I-PER"]])  # two entities vs one
    assert (s.overall.gold, s.overall.predicted, s.overall.correct) == (2, 1, 0)


def test_nothing_predicted_or_nothing_to_find() -> None:
    s = entity_scores([["B-PER", "O"]], [["O", "O"]])
    assert (s.overall.precision, s.overall.recall, s.overall.f1) == (0.0, 0.0, 0.0)
    s = entity_scores([["O"]], [["O"]])
    assert s.overall == Score(0.0, 0.0, 0.0, 0, 0, 0) and s.per_type == {}
    assert s.accuracy == 1.0


def test_mismatched_inputs_are_rejected() -> None:
    with pytest.raises(RnnkitError, match="1 predicted sequences for 2 gold"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(RnnkitError, match="sentence 0: 1 predicted tags for 2 gold"):
        entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(RnnkitError, match="not O or B-"):
        entity_scores([["PER"]], [["O"]])


def test_format_report_lists_every_type_and_overall() -> None:
    s = entity_scores([["B-PER", "O", "B-LOC"]], [["B-PER", "O", "O"]])
    report = s.format_report()
    lines = report.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1", "gold", "predicted", "correct"]
    assert lines[1].split() == ["LOC", "0.00", "0.00", "0.00", "1", "0", "0"]
    assert lines[2].split() == ["PER", "100.00", "100.00", "100.00", "1", "1", "1"]
    assert lines[3].split() == ["overall", "100.00", "50.00", "66.67", "2", "1", "1"]
    assert lines[4] == "token accuracy 66.67% over 3 tokens"


# --------------------------------------------------------------------------- seqeval


def test_agrees_with_seqeval_on_random_sequences() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 4)
        lengths = [rng.randint(1, 8) for _ in range(n)]
        # random tags (invalid BIO included) and a prediction that copies some gold tags
        gold = [[rng.choice(TAGS) for _ in range(k)] for k in lengths]
        pred = [[g if rng.random() < 0.6 else rng.choice(TAGS) for g in sent] for sent in gold]
        assert_agrees_with_seqeval(entity_scores(gold, pred), gold, pred)


def test_agrees_with_seqeval_on_conll2003_dev() -> None:
    path = shared_data() / "conll2003" / "eng.testa"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    gold = [s.tags for s in read_conll(path)]
    tag_set = sorted({t for g in gold for t in g})
    rng = random.Random(1)
    # a corrupted copy: 5% of tags replaced, some B- turned into I- (boundary errors)
    pred = [
        [
            rng.choice(tag_set)
            if rng.random() < 0.05
            else ("I" + t[1:] if t.startswith("B-") and rng.random() < 0.05 else t)
            for t in sent
        ]
        for sent in gold
    ]
    ours = entity_scores(gold, pred)
    assert_agrees_with_seqeval(ours, gold, pred)
    assert ours.overall.gold == 5942  # entities in eng.testa
    assert 0.5 < ours.overall.f1 < 0.95
    assert entity_scores(gold, gold).overall.f1 == 1.0


def test_module_doctests_pass() -> None:
    result = doctest.testmod(entities_module)
    assert result.attempted >= 1 and result.failed == 0
