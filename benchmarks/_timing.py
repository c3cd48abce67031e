"""Shared timing helpers for the benchmark scripts: interleaved repeats, medians, device sync.

Timing variants one after another lets drift (thermal state, other processes, allocator
warm-up) favour whichever ran last; here every repeat runs each variant once, in a rotated
order, and the median over repeats is reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so the wall clock measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    variants: Mapping[str, Callable[[], object]],
    device: torch.device,
    repeats: int,
    warmup: int = 2,
) -> dict[str, float]:
    """Median milliseconds per call of each variant, measured round-robin.

    Each variant is first called `warmup` times (untimed); then `repeats` rounds each call every
    variant once, the order rotated by one per round so no variant always follows the same one.
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    synchronize(device)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            variants[name]()
            synchronize(device)
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ms) for name, ms in samples.items()}


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table, columns padded to line up in a terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
