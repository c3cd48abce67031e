"""Tag schemes for named-entity recognition: detect them, convert between them, read spans.

The lecture's NER example labels every word y<t> = 1 when it is part of a person's name:

    x:  Harry Potter and Hermione Granger invented a new spell.
    y:    1     1    0     1       1       0     0  0    0

Real corpora say *which* kind of name and where each name starts, one tag per token:

    scheme   tags                      rule
    binary   0 1                       1 = part of a name (the lecture's form)
    BIO      O B-X I-X                 (also "IOB2") every entity starts with B-X
    IOB1     O B-X I-X                 entities start with I-X; B-X only starts an entity that
                                       directly follows another entity of the same type X
    IOBES    O B-X I-X E-X S-X         B begins, I inside, E ends a multi-token entity;
                                       S is a single-token entity

`X` is the entity type (PER, LOC, ORG, MISC in CoNLL-2003). The original CoNLL-2003 files are
IOB1; most copies in circulation (and the shared data folder) are BIO. rnnkit works in BIO and
converts on reading.

Spans. `bio_to_spans` reads entities the way the CoNLL evaluation script (conlleval) does:
B-X always starts an entity; I-X continues the entity before it when that entity has type X,
and otherwise (after O, at the start, or after another type) starts a new one. This reading
is right for both BIO and IOB1 and tolerates the invalid sequences a tagger can predict.
A span is (type, start, end) with `end` exclusive, so `tokens[start:end]` is the entity.

>>> bio_to_spans(["B-PER", "I-PER", "O", "B-LOC"])
[Span(type='PER', start=0, end=2), Span(type='LOC', start=3, end=4)]
>>> iob1_to_bio(["I-PER", "I-PER", "B-PER", "O", "I-LOC"])
['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

Scheme = Literal["BIO", "IOB1", "IOBES", "binary"]

SCHEMES: tuple[Scheme, ...] = ("BIO", "IOBES", "IOB1", "binary")
"""Every scheme, in the order of preference when tags fit several (only all-O data does)."""

OUTSIDE = "O"
BINARY_TAGS = ("0", "1")
_PREFIXES: dict[str, str] = {"BIO": "BI", "IOB1": "BI", "IOBES": "BIES"}


class Span(NamedTuple):
    """One entity: its type and the tokens [start, end) it covers (end exclusive)."""

    type: str
    start: int
    end: int


# --------------------------------------------------------------------------- single tags


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', ''). Raises RnnkitError for anything else.

    The type is everything after the first hyphen, so types may contain hyphens themselves.
    Binary labels ('0', '1') are not prefixed tags and are rejected here.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    raise RnnkitError(f"tag {tag!r} is not O or B-/I-/E-/S- followed by an entity type")


def _parse(tag: str | None) -> tuple[str, str] | None:
    """Like split_tag but None for anything that is not a prefixed tag (and for None)."""
    if tag is None:
        return None
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return None


def is_tag_of(tag: str, scheme: Scheme) -> bool:
    """Whether `tag` is a well-formed tag of `scheme` (ignoring its neighbours)."""
    if scheme == "binary":
        return tag in BINARY_TAGS
    parsed = _parse(tag)
    return parsed is not None and (parsed[0] == OUTSIDE or parsed[0] in _PREFIXES[scheme])


@lru_cache(maxsize=4096)  # tag sets are small; readers ask this once per token
def allowed_transition(prev: str | None, tag: str | None, scheme: Scheme) -> bool:
    """Whether `tag` may follow `prev` in a valid sequence of `scheme`.

    prev=None means `tag` starts the sentence; tag=None means `prev` ends it. Both must be tags
    of the scheme (`is_tag_of`), else the answer is False. This is the one definition of
    validity: `find_violation` and the CRF's decoding constraints are both built on it.

        BIO    I-X only after B-X or I-X (every entity starts with B-X)
        IOB1   B-X only after B-X or I-X (B-X separates two adjacent entities of type X)
        IOBES  after B-X or I-X comes I-X or E-X; anywhere else comes O, B-*, or S-*
        binary anything goes
    """
    if (prev is not None and not is_tag_of(prev, scheme)) or (
        tag is not None and not is_tag_of(tag, scheme)
    ):
        return False
    if scheme == "binary":
        return True
    p = _parse(prev)
    t = _parse(tag)
    if scheme == "IOBES":
        inside = p is not None and p[0] in "BI"  # an entity is open and must go on
        if t is None:
            return not inside
        if inside:
            assert p is not None
            return t[0] in "IE" and t[1] == p[1]
        return t[0] in ("O", "B", "S")
    if t is None:
        return True  # BIO and IOB1 entities may end with the sentence
    same_type_before = p is not None and p[0] in "BI" and p[1] == t[1]
    if scheme == "BIO" and t[0] == "I":
        return same_type_before
    if scheme == "IOB1" and t[0] == "B":
        return same_type_before
    return True


# --------------------------------------------------------------------------- sequences


def find_violation(tags: Sequence[str], scheme: Scheme) -> tuple[int, str] | None:
    """The first position where `tags` breaks `scheme`, with a reason; None when valid.

    >>> find_violation(["O", "I-PER"], "BIO")
    (1, "'I-PER' follows 'O': in BIO an entity starts with B-PER")
    """
    prev: str | None = None
    for i, tag in enumerate(tags):
        if not allowed_transition(prev, tag, scheme):
            if not is_tag_of(tag, scheme):
                return i, f"{tag!r} is not a {scheme} tag ({_describe(scheme)})"
            return i, _explain(prev, tag, scheme)
        prev = tag
    if tags and not allowed_transition(prev, None, scheme):
        return len(tags) - 1, _explain(prev, None, scheme)
    return None


def compatible_schemes(tags: Sequence[str]) -> list[Scheme]:
    """Every scheme in which `tags` is a valid sequence, in order of preference.

    A sequence with an entity fits exactly one scheme; an all-O sequence fits BIO, IOBES and
    IOB1; a sequence with an invalid tag or transition fits none.

    >>> compatible_schemes(["I-PER", "O"])
    ['IOB1']
    >>> compatible_schemes(["O", "O"])
    ['BIO', 'IOBES', 'IOB1']
    """
    return [s for s in SCHEMES if find_violation(tags, s) is None]


def detect_scheme(sequences: Iterable[Sequence[str]]) -> Scheme:
    """The one scheme every sequence fits (BIO when only O tags occur).

    Raises RnnkitError when the sequences fit no common scheme, naming the first sequence
    (counting from 0) that breaks the scheme of the ones before it.

    >>> detect_scheme([["B-PER", "I-PER", "O"], ["O", "B-LOC"]])
    'BIO'
    >>> detect_scheme([["I-PER", "I-PER", "O"]])
    'IOB1'
    >>> detect_scheme([list("0110")])
    'binary'
    """
    candidates = list(SCHEMES)
    for n, tags in enumerate(sequences):
        narrowed = [s for s in candidates if find_violation(tags, s) is None]
        if not narrowed:
            _, why = find_violation(tags, candidates[0]) or (0, "")
            raise RnnkitError(f"sequence {n} breaks the tag scheme {candidates[0]}: {why}")
        candidates = narrowed
    return candidates[0]


def iob1_to_bio(tags: Sequence[str]) -> list[str]:
    """IOB1 -> BIO: an I-X that starts an entity becomes B-X; everything else is kept.

    Follows the span reading of `bio_to_spans`, so it also repairs invalid BIO (an I-X after
    O or after another type becomes B-X).
    """
    out: list[str] = []
    prev = ("O", "")
    for tag in tags:
        prefix, typ = split_tag(tag)
        if prefix == "I" and not (prev[0] in "BI" and prev[1] == typ):
            out.append("B-" + typ)
        elif prefix in ("B", "I", "O"):
            out.append(tag)
        else:
            raise RnnkitError(f"tag {tag!r} is not an IOB1/BIO tag")
        prev = (prefix, typ)
    return out


def iobes_to_bio(tags: Sequence[str]) -> list[str]:
    """IOBES -> BIO: S-X becomes B-X and E-X becomes I-X.

    >>> iobes_to_bio(["S-PER", "O", "B-ORG", "I-ORG", "E-ORG"])
    ['B-PER', 'O', 'B-ORG', 'I-ORG', 'I-ORG']
    """
    rename = {"S": "B", "E": "I", "B": "B", "I": "I"}
    out: list[str] = []
    for tag in tags:
        prefix, typ = split_tag(tag)
        out.append(tag if prefix == OUTSIDE else f"{rename[prefix]}-{typ}")
    return out


def bio_to_iobes(tags: Sequence[str]) -> list[str]:
    """BIO (or IOB1) -> IOBES, through the spans.

    >>> bio_to_iobes(["B-PER", "O", "B-ORG", "I-ORG", "I-ORG"])
    ['S-PER', 'O', 'B-ORG', 'I-ORG', 'E-ORG']
    """
    out = [OUTSIDE] * len(tags)
    for typ, start, end in bio_to_spans(tags):
        if end - start == 1:
            out[start] = "S-" + typ
        else:
            out[start] = "B-" + typ
            out[start + 1 : end - 1] = ["I-" + typ] * (end - start - 2)
            out[end - 1] = "E-" + typ
    return out


def to_bio(tags: Sequence[str], scheme: Scheme) -> list[str]:
    """Convert one sequence from `scheme` to BIO (binary labels become entities of type NAME)."""
    if scheme == "BIO":
        return list(tags)
    if scheme == "IOB1":
        return iob1_to_bio(tags)
    if scheme == "IOBES":
        return iobes_to_bio(tags)
    return binary_to_bio([int(t) for t in tags])


def bio_to_spans(tags: Sequence[str]) -> list[Span]:
    """The entities of a BIO (or IOB1) sequence, in the CoNLL reading, ends exclusive.

    B-X starts an entity; I-X continues the open entity if it has type X and otherwise starts
    a new one (after O, at the start, or after an entity of another type); O closes it.

    >>> [tuple(span) for span in bio_to_spans(["O", "I-PER", "I-LOC", "I-LOC", "B-LOC"])]
    [('PER', 1, 2), ('LOC', 2, 4), ('LOC', 4, 5)]
    """
    spans: list[Span] = []
    open_type: str | None = None
    open_start = 0
    for i, tag in enumerate(tags):
        prefix, typ = split_tag(tag)
        if prefix in ("E", "S"):
            raise RnnkitError(f"tag {tag!r} is IOBES: convert with iobes_to_bio first")
        continues = prefix == "I" and typ == open_type
        if open_type is not None and not continues:
            spans.append(Span(open_type, open_start, i))
            open_type = None
        if prefix in ("B", "I") and not continues:
            open_type, open_start = typ, i
    if open_type is not None:
        spans.append(Span(open_type, open_start, len(tags)))
    return spans


def spans_to_bio(spans: Iterable[tuple[str, int, int]], length: int) -> list[str]:
    """BIO tags of `length` tokens with the given (type, start, end) entities, ends exclusive.

    >>> spans_to_bio([("PER", 0, 2), ("LOC", 2, 3)], 4)
    ['B-PER', 'I-PER', 'B-LOC', 'O']
    """
    tags = [OUTSIDE] * length
    for typ, start, end in spans:
        if not 0 <= start < end <= length:
            raise RnnkitError(f"span ({typ!r}, {start}, {end}) does not fit in {length} tokens")
        if any(t != OUTSIDE for t in tags[start:end]):
            raise RnnkitError(f"span ({typ!r}, {start}, {end}) overlaps another span")
        tags[start] = "B-" + typ
        tags[start + 1 : end] = ["I-" + typ] * (end - start - 1)
    return tags


def bio_to_binary(tags: Sequence[str]) -> list[int]:
    """The lecture's labels: 1 where the token is part of an entity, 0 elsewhere.

    >>> x = "Harry Potter and Hermione Granger invented a new spell.".split()
    >>> tags = ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "O", "O", "O"]
    >>> bio_to_binary(tags)
    [1, 1, 0, 1, 1, 0, 0, 0, 0]
    """
    return [0 if split_tag(tag)[0] == OUTSIDE else 1 for tag in tags]


def binary_to_bio(labels: Sequence[int], entity_type: str = "NAME") -> list[str]:
    """Binary labels -> BIO: each run of 1s becomes one entity of `entity_type`.

    Binary labels cannot separate two adjacent names, so "Harry Potter Hermione" (1 1 1)
    reads as one entity.

    >>> binary_to_bio([1, 1, 0, 1, 1, 0])
    ['B-NAME', 'I-NAME', 'O', 'B-NAME', 'I-NAME', 'O']
    """
    out: list[str] = []
    prev = 0
    for label in labels:
        if label not in (0, 1):
            raise RnnkitError(f"binary label {label!r} is not 0 or 1")
        out.append(OUTSIDE if label == 0 else ("I-" if prev == 1 else "B-") + entity_type)
        prev = label
    return out


# --------------------------------------------------------------------------- messages


def _describe(scheme: Scheme) -> str:
    if scheme == "binary":
        return "expected 0 or 1"
    return "expected O or " + "/".join(p + "-" for p in _PREFIXES[scheme]) + "TYPE"


def _explain(prev: str | None, tag: str | None, scheme: Scheme) -> str:
    """Why `tag` may not follow `prev` in `scheme` (both are tags of the scheme)."""
    where = "the sentence start" if prev is None else repr(prev)
    if tag is None:
        return f"the sentence ends inside an entity ({prev!r}): in IOBES it must end with E- or S-"
    typ = split_tag(tag)[1]
    if scheme == "BIO":
        return f"{tag!r} follows {where}: in BIO an entity starts with B-{typ}"
    if scheme == "IOB1":
        return (
            f"{tag!r} follows {where}: in IOB1 B-{typ} only separates two adjacent {typ} "
            f"entities (an entity starts with I-{typ})"
        )
    p = _parse(prev)
    if p is not None and p[0] in "BI":
        return f"{tag!r} follows {where}: in IOBES the entity must go on with I-{p[1]} or E-{p[1]}"
    return f"{tag!r} follows {where}: in IOBES an entity starts with B-{typ} or S-{typ}"


# --------------------------------------------------------------------------- decoding constraints


class TransitionConstraints(NamedTuple):
    """Which tag sequences a decoder may return (True = allowed), as masks over tag ids.

    allowed: (C, C) bool, allowed[i, j] says tag j may follow tag i.
    start:   (C,) bool, which tags may begin a sentence.
    end:     (C,) bool, which tags may end a sentence.

    A CRF takes them as data (`rnnkit.layers.crf.CRF(C, constraints)`), knowing nothing of tags.
    """

    allowed: Tensor
    start: Tensor
    end: Tensor


def transition_constraints(labels: Sequence[str], scheme: Scheme = "BIO") -> TransitionConstraints:
    """The valid transitions between the tags `labels` (tag id -> tag string) under `scheme`.

    In BIO this forbids O -> I-X, B-Y -> I-X and I-Y -> I-X for Y != X, and starting with
    I-X; in IOBES also ending inside an entity. Labels that are not tags of the scheme (a
    '<pad>' in the tag vocabulary, for instance) are forbidden everywhere, so they are never
    decoded.

    >>> c = transition_constraints(["O", "B-PER", "I-PER"])
    >>> c.allowed.int().tolist(), c.start.tolist()
    ([[1, 1, 0], [1, 1, 1], [1, 1, 1]], [True, True, False])
    """
    C = len(labels)
    allowed = torch.tensor(
        [[allowed_transition(labels[i], labels[j], scheme) for j in range(C)] for i in range(C)],
        dtype=torch.bool,
    ).reshape(C, C)
    start = torch.tensor([allowed_transition(None, t, scheme) for t in labels], dtype=torch.bool)
    end = torch.tensor(
        [is_tag_of(t, scheme) and allowed_transition(t, None, scheme) for t in labels],
        dtype=torch.bool,
    )
    return TransitionConstraints(allowed, start, end)
