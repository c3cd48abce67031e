"""Count-weighted running means that survive batching and data-parallel training.

A mean over a split is not the mean of the batch means: batches hold different numbers of
real steps. `RunningMeans` keeps, per name, the sums  S = sum_i m_i * n_i  and  N = sum_i n_i
over batches i (m_i the batch mean, n_i its count, e.g. `ModelOutput.count`) and reports S / N,
the exact mean over every step. Sums of different processes add, so one all-reduce of (S, N)
gives every process the mean over the whole data set.

The sums stay on the device the values come from, in float64 (float32 on Apple's MPS), so
accumulating never forces a GPU synchronisation; `means()` does one.
"""

from __future__ import annotations

import torch
import torch.distributed as tdist
from torch import Tensor


class RunningMeans:
    """Named count-weighted means: add (mean, count) pairs, read sum(mean*count)/sum(count).

    >>> m = RunningMeans()
    >>> m.add("loss", 2.0, count=1); m.add("loss", 5.0, count=2)
    >>> m.means()
    {'loss': 4.0}
    """

    def __init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, Tensor] = {}

    def add(self, name: str, value: Tensor | float, count: Tensor | float = 1.0) -> None:
        """Add a mean `value` that was taken over `count` items (detached; no sync)."""
        value_t = torch.as_tensor(value).detach()
        dtype = accumulator_dtype(value_t.device)
        value_t = value_t.to(dtype)
        count_t = torch.as_tensor(count, device=value_t.device).detach().to(dtype)
        if name in self._sums:
            self._sums[name] = self._sums[name] + value_t * count_t
            self._counts[name] = self._counts[name] + count_t
        else:
            self._sums[name] = value_t * count_t
            self._counts[name] = count_t

    def names(self) -> list[str]:
        return sorted(self._sums)

    def means(self) -> dict[str, float]:
        """{name: sum / count}; a name whose count is 0 reads as nan."""
        out: dict[str, float] = {}
        for name in self.names():
            total, count = float(self._sums[name]), float(self._counts[name])
            out[name] = total / count if count > 0 else float("nan")
        return out

    def totals(self) -> dict[str, tuple[float, float]]:
        """{name: (sum of mean*count, sum of count)}: the raw state, JSON-able."""
        return {n: (float(self._sums[n]), float(self._counts[n])) for n in self.names()}

    def load_totals(
        self,
        totals: dict[str, tuple[float, float]] | dict[str, list[float]],
        device: torch.device | str = "cpu",
    ) -> None:
        """Restore the state written by `totals()` (used to resume mid-epoch)."""
        dtype = accumulator_dtype(torch.device(device))
        self._sums = {
            n: torch.tensor(s, dtype=dtype, device=device) for n, (s, _) in totals.items()
        }
        self._counts = {
            n: torch.tensor(c, dtype=dtype, device=device) for n, (_, c) in totals.items()
        }

    def reset(self) -> None:
        self._sums.clear()
        self._counts.clear()

    def all_reduce(self, group: tdist.ProcessGroup | None = None) -> None:
        """Sum the state over all processes, in place (a no-op without torch.distributed).

        Every process must call it, with the same names added (one collective for all names).
        """
        if not (tdist.is_available() and tdist.is_initialized()) or not self._sums:
            return
        names = self.names()
        packed = torch.stack([self._sums[n] for n in names] + [self._counts[n] for n in names])
        tdist.all_reduce(packed, op=tdist.ReduceOp.SUM, group=group)
        for i, n in enumerate(names):
            self._sums[n] = packed[i]
            self._counts[n] = packed[len(names) + i]


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for running sums, except where the device has none (Apple's MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def accuracy(logits: Tensor, targets: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Fraction of correct predictions and how many were counted: (accuracy, count).

    logits (B, C) or (B, T, C): the prediction is the argmax over C; targets (B,) or (B, T).
    logits (B,) or (B, T) with 0/1 targets: the prediction is logit > 0 (sigmoid > 0.5).
    mask (B, T) bool counts only the real steps. The pair feeds `RunningMeans.add`.
    """
    if logits.dim() == targets.dim() + 1:
        predictions = logits.argmax(dim=-1)  # (B,) or (B, T)
    elif logits.shape == targets.shape:
        predictions = (logits > 0).to(targets.dtype)
    else:
        raise ValueError(
            f"accuracy: logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}; "
            "expected logits with one more (class) dimension, or the same shape for binary"
        )
    correct = predictions == targets
    if mask is not None:
        correct = correct & mask
        count = mask.sum()
    else:
        count = torch.tensor(correct.numel(), device=logits.device)
    return correct.sum().to(torch.float32) / count.clamp(min=1), count
