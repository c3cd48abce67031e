"""Tiny spoken-digit data for the speech tests: each digit a chord of two tones of its own,
each speaker a slightly different pitch and loudness, written as FSDD-named WAV files."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnkit.data.audio import write_wav

RATE = 8000
SPEAKERS = ("ann", "bob")


def digit_sound(digit: int, speaker: int, take: int, seconds: float = 0.25) -> torch.Tensor:
    """(N,) samples: tones at 300 + 110 d and 1400 + 160 d Hz, shifted by the speaker,
    a take-dependent length, a smooth envelope and a little noise."""
    n = int(RATE * (seconds + 0.01 * (take % 4)))
    t = torch.arange(n, dtype=torch.float64) / RATE
    shift = 1.0 + 0.03 * speaker
    low, high = (300 + 110 * digit) * shift, (1400 + 160 * digit) * shift
    wave = torch.sin(2 * math.pi * low * t) + 0.6 * torch.sin(2 * math.pi * high * t)
    envelope = torch.sin(math.pi * torch.arange(n, dtype=torch.float64) / n)
    noise = torch.randn(n, generator=torch.Generator().manual_seed(100 * digit + 10 * take))
    return ((0.3 + 0.1 * speaker) * envelope * wave + 0.01 * noise).float()


def write_recordings(folder: Path, takes: range = range(5, 12)) -> Path:
    """{digit}_{speaker}_{take}.wav for every digit, speaker and take; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for digit in range(10):
        for s, speaker in enumerate(SPEAKERS):
            for take in takes:
                write_wav(
                    folder / f"{digit}_{speaker}_{take}.wav", digit_sound(digit, s, take), RATE
                )
    return folder


def write_string(path: Path, digits: list[int], gap_s: float = 0.15) -> Path:
    """One WAV of the digits spoken by speaker 0, with silences between them."""
    gap = torch.zeros(int(RATE * gap_s))
    parts = [gap]
    for d in digits:
        parts += [digit_sound(d, 0, 7), gap]
    write_wav(path, torch.cat(parts), RATE)
    return path
