"""Tiny DNA data the tests write: random sequences, with a motif planted in some of them (the
class "yes", or a BED interval "box" for tagging)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

MOTIF = "GATTACA"


def random_sequence(rng: random.Random, length: int) -> str:
    while True:
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        if MOTIF not in seq:
            return seq


def planted(rng: random.Random, length: int) -> tuple[str, int]:
    """A random sequence with the motif at a random place, and that place (0-based)."""
    seq = random_sequence(rng, length - len(MOTIF))
    at = rng.randrange(len(seq) + 1)
    return seq[:at] + MOTIF + seq[at:], at


def write_classes(path: Path, per_class: int = 30, length: int = 30, seed: int = 0) -> Path:
    """label<TAB>sequence lines: "yes" holds the motif, "no" does not."""
    rng = random.Random(seed)
    rows = [("yes", planted(rng, length)[0]) for _ in range(per_class)]
    rows += [("no", random_sequence(rng, length)) for _ in range(per_class)]
    rng.shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{y}\t{x}\n" for y, x in rows), encoding="utf-8")
    return path


def write_tagging(
    folder: Path, count: int = 60, length: int = 40, seed: int = 0
) -> tuple[Path, Path]:
    """A FASTA file of `count` records, three in four with the motif planted, and a BED file
    marking each motif as "box"."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    fasta, bed = [], []
    for i in range(count):
        if i % 4 == 3:
            seq = random_sequence(rng, length)
        else:
            seq, at = planted(rng, length)
            bed.append(f"r{i}\t{at}\t{at + len(MOTIF)}\tbox\n")
        fasta.append(f">r{i} record {i}\n{seq[:25]}\n{seq[25:]}\n")
    (folder / "seqs.fa").write_text("".join(fasta), encoding="utf-8")
    (folder / "marks.bed").write_text("track name=boxes\n" + "".join(bed), encoding="utf-8")
    return folder / "seqs.fa", folder / "marks.bed"


def recipe_data(folder: Path) -> dict[str, Any]:
    """test_recipes' tiny DNA data and the options that point the task at it."""
    path = write_classes(folder / "train.tsv", per_class=12)
    return {"data": str(path), "hidden_size": 8, "batch_size": 4, "dev_fraction": 0.25}
