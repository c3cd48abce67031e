"""Tiny NER data the NER tests write: sentences drawn from a few names, places and
organisations, their CoNLL files, and the options of a tiny tagger."""

from __future__ import annotations

import random
from pathlib import Path

from rnnkit.data.conll import TaggedSentence

# ------------------------------------------------------------------------------ tiny data

FIRST = ["Harry", "Hermione", "Ron", "Albus", "Minerva", "Severus"]
LAST = ["Potter", "Granger", "Weasley", "Dumbledore", "McGonagall", "Snape"]
PLACES = ["London", "Hogsmeade", "Paris", "Scotland"]
ORGS = ["Gringotts", "Hogwarts"]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """One sentence: (token, BIO tag) pairs with one or two people and maybe a place or org."""
    a, b = rng.sample(range(len(FIRST)), 2)
    person = [(FIRST[a], "B-PER"), (LAST[a], "I-PER")]
    other = [(FIRST[b], "B-PER"), (LAST[b], "I-PER")]
    place = [(rng.choice(PLACES), "B-LOC")]
    org = [(rng.choice(ORGS), "B-ORG")]
    templates = [
        [("Yesterday", "O"), (",", "O"), *person, ("met", "O"), *other, (".", "O")],
        [*person, ("lives", "O"), ("in", "O"), *place, (".", "O")],
        [("The", "O"), ("bank", "O"), *org, ("hired", "O"), *person, (".", "O")],
        [*person, ("and", "O"), *other, ("visited", "O"), *place, ("today", "O"), (".", "O")],
        [("In", "O"), *place, (",", "O"), *person, ("joined", "O"), *org, (".", "O")],
    ]
    return rng.choice(templates)


def sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    out = [
        [
            ("Yesterday", "O"),
            (",", "O"),
            ("Harry", "B-PER"),
            ("Potter", "I-PER"),
            ("met", "O"),
            ("Hermione", "B-PER"),
            ("Granger", "I-PER"),
            (".", "O"),
        ]
    ]
    return out + [sentence(rng) for _ in range(n - 1)]


def write_conll(path: Path, sents: list[list[tuple[str, str]]]) -> Path:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for s in sents:
        lines += [f"{tok} NNP B-NP {tag}" for tok, tag in s] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def tagged(sents: list[list[tuple[str, str]]]) -> list[TaggedSentence]:
    return [
        TaggedSentence([t for t, _ in s], [g for _, g in s], list(range(1, len(s) + 1)))
        for s in sents
    ]


TINY = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--char-dim",
    "8",
    "--char-hidden",
    "8",
    "--input-dropout",
    "0",
    "--output-dropout",
    "0",
    "--unk-replace",
    "0",
    "--epochs",
    "12",
    "--batch-size",
    "4",
    "--lr",
    "0.02",
    "--quiet",
]

# The softmax preset has no character encoder, so it has no --char-* options.
WORDS_ONLY = [
    a
    for i, a in enumerate(TINY)
    if not (a.startswith("--char") or TINY[i - 1].startswith("--char"))
]
