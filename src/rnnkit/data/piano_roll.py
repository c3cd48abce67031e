"""Polyphonic music as a piano roll: chorales (steps of MIDI pitches) <-> multi-hot frames.

A **chorale** is a list of time steps; a time step is the sorted list of MIDI pitches
(ints 0..127) sounding at that step, empty for a rest:

    [[60, 72, 79, 88], [72, 79, 88], [], [67, 70, 76, 84]]      # T = 4 steps

The model sees it as a multi-hot **piano roll** x<1..T>, one frame per step over the
88 piano keys MIDI 21..108 (the literature's roll):

    x<t>[p - 21] = 1  if pitch p sounds at step t   else 0        roll: (T, 88)

`to_multihot` and `from_multihot` convert between the two, `describe` counts what a list of
chorales holds, and `plot_piano_roll` draws one as a PNG (matplotlib, imported when called).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.atomic import atomic_write
from rnnkit.errors import DataError, RnnkitError

Steps = list[list[int]]
"""One chorale: steps -> sorted MIDI pitches sounding at that step (empty list = rest)."""

PIANO_LOW = 21
"""Lowest key of the 88-key piano roll (A0)."""
PIANO_HIGH = 108
"""Highest key of the 88-key piano roll (C8)."""
PIANO_KEYS = PIANO_HIGH - PIANO_LOW + 1
"""Keys of the piano roll, the D of a frame: 88."""


def to_multihot(
    steps: Sequence[Sequence[int]], low: int = PIANO_LOW, high: int = PIANO_HIGH
) -> Tensor:
    """Chorale -> multi-hot piano roll over MIDI low..high (inclusive), float32.

    roll[t, p - low] = 1 for every pitch p sounding at step t.    steps: T lists -> (T, P),
    P = high - low + 1 (88 with the defaults). A pitch outside low..high raises DataError
    naming the step, since silently dropping notes would change the music being modelled.
    """
    if not 0 <= low <= high <= 127:
        raise RnnkitError(
            f"piano-roll range must satisfy 0 <= low <= high <= 127, got {low}..{high}"
        )
    P = high - low + 1
    roll = torch.zeros(len(steps), P)  # (T, P)
    for t, pitches in enumerate(steps):
        for p in pitches:
            if not low <= p <= high:
                raise DataError(
                    f"step {t} (0-based): pitch {p} is outside the piano-roll range {low}..{high}"
                )
            roll[t, p - low] = 1.0
    return roll


def from_multihot(frames: Tensor, low: int = PIANO_LOW, threshold: float = 0.5) -> Steps:
    """Piano roll (T, P) -> chorale: step t holds low + k for every k with
    frames[t, k] >= threshold.

    Works on binary rolls and on sampled model output alike; probabilities need sampling
    (or thresholding, which is what `threshold` does) first.
    """
    if frames.dim() != 2:
        raise RnnkitError(f"expected a piano roll of shape (T, P), got {tuple(frames.shape)}")
    on = frames.detach().cpu() >= threshold  # (T, P) bool
    return [[low + int(k) for k in torch.nonzero(row).flatten().tolist()] for row in on]


def describe(chorales: Sequence[Sequence[Sequence[int]]]) -> dict[str, int | None]:
    """Summary counts for a list of chorales.

    Keys: count (chorales), steps (total time steps), empty_steps (rests), notes (pitch
    occurrences over all steps), min_length / max_length (steps per chorale), min_pitch /
    max_pitch (MIDI). Lengths and pitches are None when there is nothing to measure.
    """
    lengths = [len(c) for c in chorales]
    pitches = [p for c in chorales for s in c for p in s]
    return {
        "count": len(chorales),
        "steps": sum(lengths),
        "empty_steps": sum(1 for c in chorales for s in c if not s),
        "notes": len(pitches),
        "min_length": min(lengths) if lengths else None,
        "max_length": max(lengths) if lengths else None,
        "min_pitch": min(pitches) if pitches else None,
        "max_pitch": max(pitches) if pitches else None,
    }


def plot_piano_roll(
    steps: Sequence[Sequence[int]], path: str | Path, title: str | None = None
) -> Path:
    """Save a chorale as a piano-roll PNG: time step on x, MIDI pitch on y, dark = sounding.

    The pitch axis spans the pitches present (plus a margin); C notes get labelled gridlines.
    Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch), written
    atomically. Returns the path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pitches = [p for s in steps for p in s]
    for p in pitches:
        if not 0 <= p <= 127:
            raise RnnkitError(f"pitch {p} is not a MIDI pitch 0..127")
    low = max(min(pitches) - 2, 0) if pitches else 54
    high = min(max(pitches) + 2, 127) if pitches else 66
    T = max(len(steps), 1)
    roll = to_multihot(steps or [[]], low, high).T.numpy()  # (P, T)

    fig = Figure(figsize=(min(max(T / 8, 6), 24), 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(
        roll,
        aspect="auto",
        origin="lower",
        cmap="Greys",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(-0.5, T - 0.5, low - 0.5, high + 0.5),
    )
    cs = [c for c in range(low, high + 1) if c % 12 == 0]
    ax.set_yticks(cs, [f"C{c // 12 - 1} ({c})" for c in cs])
    ax.grid(axis="y", color="tab:blue", alpha=0.25)
    ax.set_xlabel("time step")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()

    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return path


__all__ = [
    "PIANO_HIGH",
    "PIANO_LOW",
    "Steps",
    "describe",
    "from_multihot",
    "plot_piano_roll",
    "to_multihot",
]
