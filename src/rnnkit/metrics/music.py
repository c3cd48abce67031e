"""What a chorale looks like beyond its likelihood: statistics of pieces as lists of frames of
MIDI pitches (one frame per quarter note; an empty frame is a rest), computed the same way
for the real chorales and for a model's samples, so the two can be set side by side.

    notes_per_frame   notes sounding per frame, rests included (a four-voice chorale: near 4)
    lowest, highest   the range [min, max] of the lowest and of the highest note of the
                      sounding frames: where the bass and the soprano lie
    in_key            share of the notes whose pitch class is in the scale of the piece's
                      estimated key (major scale; minor: natural minor with the raised
                      seventh, the leading tone Bach writes)
    repeats           share of frames (after the first) equal to the frame before
    rests             share of empty frames

The key of a piece is estimated as Krumhansl and Schmuckler do: correlate the piece's
pitch-class counts with the Krumhansl-Kessler probe-tone profile of each of the 24 keys and
take the best (a tie goes to the first in the order C major .. B major, C minor .. B minor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Key", "chorale_statistics", "estimate_key", "tonic_of"]

Piece = Sequence[Sequence[int]]

# Krumhansl and Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
SCALES = {"major": {0, 2, 4, 5, 7, 9, 11}, "minor": {0, 2, 3, 5, 7, 8, 10, 11}}
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0 (C) .. 11 (B)
    mode: str  # "major" or "minor"

    def __str__(self) -> str:
        return f"{NAMES[self.tonic]} {self.mode}"

    def contains(self, pitch: int) -> bool:
        return (pitch - self.tonic) % 12 in SCALES[self.mode]


def tonic_of(name: str) -> int:
    """The pitch class of a key's name: C, C#/Db, D, ..., B, optionally followed by "major" or
    "minor" (any case; the mode does not change the tonic)."""
    words = name.strip().split()
    word = words[0] if words else ""
    letters = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    head, accidentals = word[:1].upper(), word[1:]
    mode_ok = [w.lower() for w in words[1:]] in ([], ["major"], ["minor"])
    if head not in letters or accidentals not in ("", "#", "b") or not mode_ok:
        raise ValueError(f"{name!r} is not a key name such as C, F#, Bb or G minor")
    return (letters[head] + {"": 0, "#": 1, "b": -1}[accidentals]) % 12


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return cov / (sx * sy) if sx and sy else 0.0


def estimate_key(piece: Piece) -> Key | None:
    """The best-correlated of the 24 keys for the piece's pitch-class counts (each note of
    each frame counts once); None for a piece with no notes."""
    counts = [0.0] * 12
    for frame in piece:
        for pitch in frame:
            counts[pitch % 12] += 1
    if not any(counts):
        return None
    best: tuple[float, Key] | None = None
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            rotated = [profile[(pc - tonic) % 12] for pc in range(12)]
            r = _correlation(counts, rotated)
            if best is None or r > best[0] + 1e-12:
                best = (r, Key(tonic, mode))
    assert best is not None
    return best[1]


def chorale_statistics(pieces: Sequence[Piece]) -> dict[str, Any]:
    """The statistics above over all frames of all `pieces` (each piece's key its own)."""
    frames = notes = in_key = repeats = pairs = rests = 0
    lows: list[int] = []
    highs: list[int] = []
    for piece in pieces:
        key = estimate_key(piece)
        previous: list[int] | None = None
        for frame in piece:
            chord = sorted(frame)
            frames += 1
            notes += len(chord)
            rests += not chord
            if chord:
                lows.append(chord[0])
                highs.append(chord[-1])
            if key is not None:
                in_key += sum(key.contains(p) for p in chord)
            if previous is not None:
                pairs += 1
                repeats += chord == previous
            previous = chord
    if not frames:
        raise ValueError("no frames to describe")
    return {
        "pieces": len(pieces),
        "frames": frames,
        "notes_per_frame": notes / frames,
        "lowest": [min(lows), max(lows)] if lows else None,
        "highest": [min(highs), max(highs)] if highs else None,
        "in_key": in_key / notes if notes else 0.0,
        "repeats": repeats / pairs if pairs else 0.0,
        "rests": rests / frames,
    }
