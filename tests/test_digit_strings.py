"""Spoken digit strings from synthetic single-digit clips: determinism, layout, silence, SNR."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
import torch

from rnnkit.data.digit_strings import DigitString, DigitStringSpec, make_digit_strings
from rnnkit.errors import RnnkitError

RATE = 1000


def tone_clips(rate: int = RATE, seconds: float = 0.1) -> dict[int, list[torch.Tensor]]:
    """Digit d: a tone of 50 (d + 1) Hz, and a constant (d + 1) / 20 of a different length.
    No clip holds a zero sample, so every zero in a noiseless string is silence."""
    clips = {}
    for d in range(10):
        n = int(seconds * rate) + 7 * d
        t = torch.arange(n, dtype=torch.float32) / rate
        tone = 0.5 * torch.sin(2 * math.pi * 50 * (d + 1) * t + 0.3) + 0.6  # in [0.1, 1.1]
        clips[d] = [tone, torch.full((n // 2 + 3,), (d + 1) / 20)]
    return clips


def gaps_of(s: DigitString) -> list[int]:
    """The n + 1 silences: before the first digit, between digits, after the last."""
    return (
        [s.starts[0]]
        + [b - a for a, b in zip(s.ends, s.starts[1:])]
        + [s.samples.shape[0] - s.ends[-1]]
    )


def test_same_seed_same_strings_different_seed_different() -> None:
    clips = tone_clips()
    spec = DigitStringSpec(snr_db=10.0, seed=3)
    first = make_digit_strings(clips, 20, spec, RATE)
    again = make_digit_strings(clips, 20, spec, RATE)
    for a, b in zip(first, again):
        assert torch.equal(a.samples, b.samples)
        assert (a.digits, a.starts, a.ends, a.clip_indices) == (
            b.digits,
            b.starts,
            b.ends,
            b.clip_indices,
        )
    other = make_digit_strings(clips, 20, DigitStringSpec(snr_db=10.0, seed=4), RATE)
    assert [s.digits for s in other] != [s.digits for s in first]


def test_recipe_in_the_docstring_gives_the_same_strings() -> None:
    clips = tone_clips()
    spec = DigitStringSpec(min_digits=2, max_digits=4, snr_db=5.0, seed=11)
    strings = make_digit_strings(clips, 5, spec, RATE)
    rng = random.Random(11)
    noise = torch.Generator().manual_seed(11)
    for s in strings:
        n = rng.randint(2, 4)
        picks = [(d := rng.randrange(10), rng.randrange(len(clips[d]))) for _ in range(n)]
        gaps = [round(rng.uniform(0.05, 0.3) * RATE) for _ in range(n + 1)]
        pieces = [torch.zeros(gaps[0])]
        for (d, k), gap in zip(picks, gaps[1:]):
            pieces += [clips[d][k], torch.zeros(gap)]
        clean = torch.cat(pieces)
        signal = torch.cat([clips[d][k] for d, k in picks]).double().square().mean()
        sigma = math.sqrt(float(signal) / 10 ** (5.0 / 10))
        expected = clean + sigma * torch.randn(clean.shape[0], generator=noise)
        assert s.digits == [d for d, _ in picks] and s.clip_indices == [k for _, k in picks]
        torch.testing.assert_close(s.samples, expected)


def test_layout_counts_gaps_and_exact_silence() -> None:
    clips = tone_clips()
    spec = DigitStringSpec(min_digits=2, max_digits=5, min_gap_s=0.02, max_gap_s=0.04, seed=1)
    strings = make_digit_strings(clips, 300, spec, RATE)
    assert {len(s.digits) for s in strings} == {2, 3, 4, 5}
    for s in strings:
        assert s.samples.dtype == torch.float32 and s.samples.dim() == 1
        assert len(s.digits) == len(s.starts) == len(s.ends) == len(s.clip_indices)
        speech = torch.zeros_like(s.samples, dtype=torch.bool)
        for d, k, a, b in zip(s.digits, s.clip_indices, s.starts, s.ends):
            assert torch.equal(s.samples[a:b], clips[d][k])
            speech[a:b] = True
        assert (s.samples[~speech] == 0).all() and (s.samples[speech] != 0).all()
        assert all(20 <= g <= 40 for g in gaps_of(s))


def test_digits_and_clips_are_drawn_uniformly() -> None:
    strings = make_digit_strings(tone_clips(), 400, DigitStringSpec(), RATE)
    digits = Counter(d for s in strings for d in s.digits)
    total = sum(digits.values())  # about 2000: expected 200 per digit, standard deviation 13
    assert set(digits) == set(range(10))
    assert all(abs(digits[d] - total / 10) < 5 * math.sqrt(total * 0.09) for d in range(10))
    recordings = Counter(k for s in strings for k in s.clip_indices)
    assert abs(recordings[0] - recordings[1]) < 5 * math.sqrt(total)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_noise_has_the_asked_snr_and_leaves_the_layout_alone(snr_db: float) -> None:
    clips = tone_clips(rate=8000, seconds=0.2)
    base = DigitStringSpec(min_digits=12, max_digits=15, seed=5)
    clean = make_digit_strings(clips, 3, base, 8000)
    noisy = make_digit_strings(clips, 3, DigitStringSpec(**{**vars(base), "snr_db": snr_db}), 8000)
    for c, n in zip(clean, noisy):
        assert (c.digits, c.starts, c.ends) == (n.digits, n.starts, n.ends)
        signal = torch.cat([c.samples[a:b] for a, b in zip(c.starts, c.ends)]).double()
        noise = (n.samples - c.samples).double()  # over the whole string, silences included
        assert noise[: c.starts[0]].abs().min() > 0
        measured = 10 * math.log10(float(signal.square().mean() / noise.square().mean()))
        assert measured == pytest.approx(snr_db, abs=0.5)


def test_count_zero_and_silence_without_gaps() -> None:
    clips = tone_clips()
    assert make_digit_strings(clips, 0, DigitStringSpec(), RATE) == []
    (s,) = make_digit_strings(clips, 1, DigitStringSpec(min_gap_s=0, max_gap_s=0), RATE)
    assert s.starts[0] == 0 and s.ends[-1] == s.samples.shape[0]
    assert s.starts[1:] == s.ends[:-1]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_digits": 5, "max_digits": 4}, "need 1 <= min_digits <= max_digits"),
        ({"min_digits": 0}, "need 1 <= min_digits"),
        ({"min_gap_s": -0.1}, r"need 0 <= min_gap_s <= max_gap_s \(seconds\)"),
        ({"min_gap_s": 0.5, "max_gap_s": 0.2}, "got min_gap_s=0.5, max_gap_s=0.2"),
        ({"max_gap_s": math.inf}, "need 0 <= min_gap_s"),
        ({"snr_db": math.nan}, "snr_db must be a finite number of decibels or None"),
    ],
)
def test_spec_rejects_bad_fields(fields: dict[str, float], message: str) -> None:
    with pytest.raises(RnnkitError, match=message):
        DigitStringSpec(**fields)  # type: ignore[arg-type]


def test_clip_errors_are_clear() -> None:
    clips = tone_clips()
    spec = DigitStringSpec()
    with pytest.raises(RnnkitError, match=r"none for digit\(s\) \[3\]"):
        make_digit_strings({**clips, 3: []}, 1, spec, RATE)
    without_seven = {d: c for d, c in clips.items() if d != 7}
    with pytest.raises(RnnkitError, match=r"none for digit\(s\) \[7\]"):
        make_digit_strings(without_seven, 1, spec, RATE)
    with pytest.raises(RnnkitError, match=r"extra keys \[10\]"):
        make_digit_strings({**clips, 10: clips[1]}, 1, spec, RATE)
    with pytest.raises(RnnkitError, match=r"clips\[2\]\[1\]: expected a 1-D float tensor"):
        make_digit_strings({**clips, 2: [clips[2][0], torch.zeros(3, 2)]}, 1, spec, RATE)
    with pytest.raises(RnnkitError, match=r"clips\[4\]\[0\] is empty"):
        make_digit_strings({**clips, 4: [torch.zeros(0)]}, 1, spec, RATE)
    with pytest.raises(RnnkitError, match="rate must be a positive number"):
        make_digit_strings(clips, 1, spec, 0)
    with pytest.raises(RnnkitError, match="count must be at least 0"):
        make_digit_strings(clips, -1, spec, RATE)
