"""Tag schemes: validity against independent characterisations, conversions, spans."""

from __future__ import annotations

import doctest
import itertools
import random

import pytest

import rnnkit.data.tags as tags_module
from rnnkit.data.tags import (
    Span,
    allowed_transition,
    binary_to_bio,
    bio_to_binary,
    bio_to_iobes,
    bio_to_spans,
    compatible_schemes,
    detect_scheme,
    find_violation,
    iob1_to_bio,
    iobes_to_bio,
    spans_to_bio,
    to_bio,
)
from rnnkit.errors import RnnkitError

TYPES = ["A", "B"]
BIO_TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]
IOBES_TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BIES"]


def iob1_from_spans(spans: list[Span], length: int) -> list[str]:
    """IOB1 written directly from its definition: I- everywhere inside an entity, B- only on
    the first token of an entity that touches a preceding entity of the same type."""
    out = ["O"] * length
    previous: Span | None = None
    for span in spans:
        for i in range(span.start, span.end):
            out[i] = "I-" + span.type
        if previous is not None and previous.end == span.start and previous.type == span.type:
            out[span.start] = "B-" + span.type
        previous = span
    return out


def random_spans(rng: random.Random, length: int) -> list[Span]:
    """Random non-overlapping entities, adjacent same-type ones included."""
    spans, i = [], 0
    while i < length:
        if rng.random() < 0.5:
            end = rng.randint(i + 1, min(length, i + 3))
            spans.append(Span(rng.choice(TYPES), i, end))
            i = end
        else:
            i += 1
    return spans


def test_module_doctests_pass() -> None:
    result = doctest.testmod(tags_module)
    assert result.attempted >= 10 and result.failed == 0


def test_lecture_example_binary_labels() -> None:
    sentence = "Harry Potter and Hermione Granger invented a new spell."
    words = sentence.split()
    tags = spans_to_bio([("PER", 0, 2), ("PER", 3, 5)], len(words))
    assert bio_to_binary(tags) == [1, 1, 0, 1, 1, 0, 0, 0, 0]
    assert binary_to_bio([1, 1, 0, 1, 1, 0, 0, 0, 0], "PER") == tags


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_bio_validity_means_spans_round_trip(length: int) -> None:
    # A sequence is valid BIO exactly when writing its entities back as BIO reproduces it.
    for seq in itertools.product(BIO_TAGS, repeat=length):
        valid = spans_to_bio(bio_to_spans(seq), length) == list(seq)
        assert (find_violation(seq, "BIO") is None) == valid, seq


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_iob1_validity_means_spans_round_trip(length: int) -> None:
    for seq in itertools.product(BIO_TAGS, repeat=length):
        valid = iob1_from_spans(bio_to_spans(seq), length) == list(seq)
        assert (find_violation(seq, "IOB1") is None) == valid, seq


@pytest.mark.parametrize("length", [1, 2, 3])
def test_iobes_validity_means_round_trip(length: int) -> None:
    for seq in itertools.product(IOBES_TAGS, repeat=length):
        valid = bio_to_iobes(iobes_to_bio(seq)) == list(seq)
        assert (find_violation(seq, "IOBES") is None) == valid, seq


def test_conversions_preserve_entities_on_random_sequences() -> None:
    rng = random.Random(0)
    for _ in range(300):
        length = rng.randint(1, 12)
        spans = random_spans(rng, length)
        bio = spans_to_bio(spans, length)
        assert bio_to_spans(bio) == spans
        iob1 = iob1_from_spans(spans, length)
        assert iob1_to_bio(iob1) == bio
        assert to_bio(iob1, "IOB1") == bio
        assert bio_to_spans(iob1) == spans  # the CoNLL reading handles IOB1 directly
        iobes = bio_to_iobes(bio)
        assert iobes_to_bio(iobes) == bio
        assert find_violation(bio, "BIO") is None
        assert find_violation(iobes, "IOBES") is None
        assert find_violation(iob1, "IOB1") is None


def test_spans_follow_the_conll_reading() -> None:
    # I- after O, at the start, or after another type starts a new entity
    assert bio_to_spans(["I-A", "I-A", "O", "I-B"]) == [Span("A", 0, 2), Span("B", 3, 4)]
    assert bio_to_spans(["B-A", "I-B", "I-B"]) == [Span("A", 0, 1), Span("B", 1, 3)]
    # B- always starts a new entity, even right after the same type
    assert bio_to_spans(["B-A", "B-A", "I-A"]) == [Span("A", 0, 1), Span("A", 1, 3)]
    assert bio_to_spans(["O", "O"]) == []
    assert bio_to_spans([]) == []
    # entity types may themselves contain hyphens
    assert bio_to_spans(["B-GPE-LOC", "I-GPE-LOC"]) == [Span("GPE-LOC", 0, 2)]


def test_iob1_to_bio_repairs_entity_starts() -> None:
    assert iob1_to_bio(["I-A", "I-A", "B-A", "O", "I-B", "I-A"]) == [
        "B-A",
        "I-A",
        "B-A",
        "O",
        "B-B",
        "B-A",
    ]


def test_detect_scheme() -> None:
    assert detect_scheme([["B-A", "I-A"], ["O"]]) == "BIO"
    assert detect_scheme([["O"], ["I-A", "B-A"]]) == "IOB1"
    assert detect_scheme([["S-A", "B-B", "E-B"]]) == "IOBES"
    assert detect_scheme([["0", "1", "1"]]) == "binary"
    assert detect_scheme([["O", "O"], ["O"]]) == "BIO"  # ambiguous: BIO by preference
    assert compatible_schemes(["O"]) == ["BIO", "IOBES", "IOB1"]
    with pytest.raises(RnnkitError, match="sequence 1 breaks the tag scheme BIO"):
        detect_scheme([["B-A", "O"], ["I-A"]])
    with pytest.raises(RnnkitError, match="sequence 0"):
        detect_scheme([["B-A", "1"]])


def test_violation_messages_name_position_and_rule() -> None:
    assert find_violation(["O", "I-PER"], "BIO") == (
        1,
        "'I-PER' follows 'O': in BIO an entity starts with B-PER",
    )
    index, why = find_violation(["B-PER", "O"], "IOB1") or (-1, "")
    assert index == 0 and "IOB1" in why
    index, why = find_violation(["B-PER", "I-PER"], "IOBES") or (-1, "")
    assert index == 1 and "ends inside an entity" in why
    index, why = find_violation(["O", "PER"], "BIO") or (-1, "")
    assert index == 1 and "not a BIO tag" in why


def test_allowed_transition_table_for_bio() -> None:
    assert allowed_transition(None, "I-A", "BIO") is False
    assert allowed_transition("O", "I-A", "BIO") is False
    assert allowed_transition("B-B", "I-A", "BIO") is False
    assert allowed_transition("I-A", "I-A", "BIO") is True
    assert allowed_transition("I-A", None, "BIO") is True
    assert allowed_transition("I-A", None, "IOBES") is False
    assert allowed_transition("<pad>", "O", "BIO") is False


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(RnnkitError, match="does not fit"):
        spans_to_bio([("A", 2, 5)], 4)
    with pytest.raises(RnnkitError, match="overlaps"):
        spans_to_bio([("A", 0, 2), ("B", 1, 3)], 4)
    with pytest.raises(RnnkitError, match="IOBES"):
        bio_to_spans(["S-A"])
    with pytest.raises(RnnkitError, match="not O or B-"):
        bio_to_spans(["PER"])
    with pytest.raises(RnnkitError, match="not 0 or 1"):
        binary_to_bio([0, 2])
