"""Spoken digit strings ("3 1 4 1 5") put together from recordings of single spoken digits, to
train and test speech recognition (CTC) on connected digits without a connected-speech corpus.

No file I/O here: the caller reads the single-digit recordings, at one sample rate, and passes
them as 1-D float tensors, one list of clips per digit 0-9 (`clips[d]`, in a fixed order).

The recipe, with rng = random.Random(spec.seed) and, only when spec.snr_db is set,
noise = torch.Generator().manual_seed(spec.seed); for each of the `count` strings in turn:

  1. n = rng.randint(min_digits, max_digits)            the number of digits, uniform
  2. for each of the n digits in order: d = rng.randrange(10), then k =
     rng.randrange(len(clips[d])): the digit uniform over 0-9, then its recording uniform
     among clips[d]
  3. n + 1 silences, in order, of round(rng.uniform(min_gap_s, max_gap_s) * rate) samples:
     before the first digit, between each two digits, after the last
  4. samples = gap_0 clip_1 gap_1 clip_2 ... clip_n gap_n (float32; silence is exactly 0),
     and starts/ends the sample span of each clip in it
  5. when snr_db is set: samples += σ * torch.randn(N, generator=noise) over the whole string,
     with σ² = P_s / 10^(snr_db / 10) and P_s the mean square of the clip samples (the spans
     starts:ends; the silences are not signal), so 10 log10(P_s / σ²) = snr_db. Nothing is
     clipped to [-1, 1].

So the same seed, the same clip lists in the same order and the same rate give the same
strings (the noise also needs a torch whose `randn` draws the same numbers); the digits, spans
and silences do not depend on snr_db.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

DIGITS = range(10)


@dataclass(frozen=True)
class DigitStringSpec:
    """How digit strings are drawn (see the module docstring for the exact recipe)."""

    min_digits: int = 3  # fewest digits in a string (at least 1)
    max_digits: int = 7  # most digits in a string; the count is uniform in [min, max]
    min_gap_s: float = 0.05  # shortest silence, in seconds, before, between and after digits
    max_gap_s: float = 0.3  # longest silence; each one is uniform in [min_gap_s, max_gap_s]
    snr_db: float | None = None  # None: no noise; else white Gaussian noise at this SNR (dB)
    seed: int = 0  # seeds the draws; the same seed and clips give the same strings

    def __post_init__(self) -> None:
        if not 1 <= self.min_digits <= self.max_digits:
            raise RnnkitError(
                f"DigitStringSpec: need 1 <= min_digits <= max_digits, got "
                f"min_digits={self.min_digits}, max_digits={self.max_digits}"
            )
        gaps = (self.min_gap_s, self.max_gap_s)
        if not all(math.isfinite(g) for g in gaps) or not 0 <= self.min_gap_s <= self.max_gap_s:
            raise RnnkitError(
                f"DigitStringSpec: need 0 <= min_gap_s <= max_gap_s (seconds), got "
                f"min_gap_s={self.min_gap_s}, max_gap_s={self.max_gap_s}"
            )
        if self.snr_db is not None and not math.isfinite(self.snr_db):
            raise RnnkitError(
                f"DigitStringSpec: snr_db must be a finite number of decibels or None (no "
                f"noise), got {self.snr_db}"
            )


@dataclass(frozen=True)
class DigitString:
    """One spoken digit string."""

    samples: Tensor  # (N,) float32 at the clips' sample rate
    digits: list[int]  # the digits spoken, in order (0-9)
    starts: list[int]  # first sample of each digit's clip in `samples`
    ends: list[int]  # one past its last sample: samples[starts[i]:ends[i]] is digit i
    clip_indices: list[int]  # which recording of clips[digits[i]] was used, by position


def make_digit_strings(
    clips: Mapping[int, Sequence[Tensor]], count: int, spec: DigitStringSpec, rate: int
) -> list[DigitString]:
    """`count` digit strings drawn from the single-digit `clips` by `spec`'s recipe.

    clips: for every digit 0-9, its recordings as (N_k,) float tensors at `rate` samples per
    second (at least one per digit). rate: samples per second, to turn the silences in seconds
    into samples. Deterministic from spec.seed; see the module docstring.
    """
    checked = _check_clips(clips)
    if count < 0:
        raise RnnkitError(f"count must be at least 0, got {count}")
    if rate < 1:
        raise RnnkitError(f"rate must be a positive number of samples per second, got {rate}")
    rng = random.Random(spec.seed)
    noise = None if spec.snr_db is None else torch.Generator().manual_seed(spec.seed)
    strings = []
    for _ in range(count):
        digit_string = _assemble(checked, spec, rate, rng)
        if spec.snr_db is not None and noise is not None:
            digit_string = _add_noise(digit_string, spec.snr_db, noise)
        strings.append(digit_string)
    return strings


def _assemble(
    clips: dict[int, list[Tensor]], spec: DigitStringSpec, rate: int, rng: random.Random
) -> DigitString:
    """Steps 1-4 of the recipe: one noiseless string."""
    n = rng.randint(spec.min_digits, spec.max_digits)
    digits, clip_indices = [], []
    for _ in range(n):
        digits.append(rng.randrange(10))
        clip_indices.append(rng.randrange(len(clips[digits[-1]])))
    gaps = [round(rng.uniform(spec.min_gap_s, spec.max_gap_s) * rate) for _ in range(n + 1)]
    parts = [clips[d][k] for d, k in zip(digits, clip_indices)]
    samples = torch.zeros(sum(gaps) + sum(len(p) for p in parts), dtype=torch.float32)  # (N,)
    starts, ends = [], []
    position = gaps[0]
    for part, gap in zip(parts, gaps[1:]):
        starts.append(position)
        ends.append(position + len(part))
        samples[position : position + len(part)] = part
        position += len(part) + gap
    return DigitString(samples, digits, starts, ends, clip_indices)


def _add_noise(clean: DigitString, snr_db: float, noise: torch.Generator) -> DigitString:
    """Step 5: white Gaussian noise over the whole string at `snr_db` against the clips."""
    spans = [clean.samples[s:e].double() for s, e in zip(clean.starts, clean.ends)]
    power = float(sum(span.square().sum() for span in spans)) / sum(len(s) for s in spans)
    sigma = math.sqrt(power / 10 ** (snr_db / 10))
    n = clean.samples.shape[0]
    noisy = clean.samples + sigma * torch.randn(n, generator=noise, dtype=torch.float32)  # (N,)
    return DigitString(noisy, clean.digits, clean.starts, clean.ends, clean.clip_indices)


def _check_clips(clips: Mapping[int, Sequence[Tensor]]) -> dict[int, list[Tensor]]:
    """Every digit 0-9 with at least one 1-D, non-empty float clip; returned as float32."""
    extra = sorted(set(clips) - set(DIGITS), key=repr)
    if extra:
        raise RnnkitError(f"clips must be keyed by the digits 0-9, got extra keys {extra}")
    missing = [d for d in DIGITS if len(clips.get(d, ())) == 0]
    if missing:
        raise RnnkitError(f"every digit 0-9 needs at least one clip; none for digit(s) {missing}")
    checked = {}
    for d in DIGITS:
        for k, clip in enumerate(clips[d]):
            if not isinstance(clip, Tensor) or clip.dim() != 1 or not clip.is_floating_point():
                what = (
                    f"{tuple(clip.shape)} {clip.dtype}"
                    if isinstance(clip, Tensor)
                    else type(clip).__name__
                )
                raise RnnkitError(f"clips[{d}][{k}]: expected a 1-D float tensor (N,), got {what}")
            if clip.shape[0] == 0:
                raise RnnkitError(f"clips[{d}][{k}] is empty (0 samples)")
        checked[d] = [clip.detach().to("cpu", torch.float32) for clip in clips[d]]
    return checked
