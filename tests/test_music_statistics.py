"""The chorale statistics (rnnkit.metrics.music) against hand-counted pieces and an independent
NumPy computation of the Krumhansl-Schmuckler key."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rnnkit.metrics.music import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    Key,
    chorale_statistics,
    estimate_key,
    tonic_of,
)

C_MAJOR = [[60, 64, 67], [62, 65, 71], [64, 67, 72], [65, 69, 72], [67, 71, 74], [60, 64, 67]]
A_MINOR = [[57, 60, 64], [59, 62, 68], [57, 60, 64], [52, 56, 59, 62], [57, 60, 64]]


def _numpy_key(piece: list[list[int]]) -> Key:
    counts = np.bincount([p % 12 for frame in piece for p in frame], minlength=12)
    scores = [
        (np.corrcoef(counts, np.roll(profile, tonic))[0, 1], mode, tonic)
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE))
        for tonic in range(12)
    ]
    best = max(s for s, _, _ in scores)
    _, mode, tonic = next(x for x in scores if x[0] == best)
    return Key(tonic, mode)


def test_the_key_of_plain_pieces_and_their_transpositions() -> None:
    assert estimate_key(C_MAJOR) == Key(0, "major") and str(estimate_key(C_MAJOR)) == "C major"
    assert estimate_key(A_MINOR) == Key(9, "minor")
    for shift in range(1, 12):
        moved = [[p + shift for p in frame] for frame in A_MINOR]
        assert estimate_key(moved) == Key((9 + shift) % 12, "minor")
    assert estimate_key([[], []]) is None


def test_the_key_agrees_with_numpy_on_random_pieces() -> None:
    rng = random.Random(0)
    for _ in range(50):
        piece = [[rng.randrange(40, 80) for _ in range(rng.randrange(0, 5))] for _ in range(12)]
        if any(piece):
            assert estimate_key(piece) == _numpy_key(piece)


def test_statistics_equal_a_count_by_hand() -> None:
    piece = [[48, 60, 64, 67], [48, 60, 64, 67], [], [50, 62, 65, 71], [49, 61, 64, 69]]
    stats = chorale_statistics([piece])
    assert estimate_key(piece) == Key(0, "major")
    assert stats["frames"] == 5 and stats["notes_per_frame"] == pytest.approx(16 / 5)
    assert stats["lowest"] == [48, 50] and stats["highest"] == [67, 71]
    assert stats["in_key"] == pytest.approx(14 / 16)  # C# (49, 61) is outside C major
    assert stats["repeats"] == pytest.approx(1 / 4) and stats["rests"] == pytest.approx(1 / 5)
    # two pieces: counted over all their frames, each piece in its own key
    both = chorale_statistics([C_MAJOR, A_MINOR])
    assert both["pieces"] == 2 and both["in_key"] == 1.0
    assert both["notes_per_frame"] == pytest.approx((18 + 16) / 11)


def test_nothing_to_describe_is_refused() -> None:
    with pytest.raises(ValueError, match="no frames"):
        chorale_statistics([])


def test_key_names() -> None:
    assert [tonic_of(n) for n in ("C", "c#", "Db", "F#", "Bb", "B", "Cb", "G minor")] == [
        0, 1, 1, 6, 10, 11, 11, 7,
    ]  # fmt: skip
    for bad in ("", "H", "C##", "do"):
        with pytest.raises(ValueError, match="not a key name"):
            tonic_of(bad)
