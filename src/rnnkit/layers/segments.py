"""Sequences of different lengths through PyTorch's padded kernels, without packing.

The padded kernels run every row of x (B, T, D) for all T steps. To keep the masked semantics
of the readable loop (padded steps emit zeros; each sequence's final state is its state at its
own length) without a PackedSequence, the rows are sorted by length, longest first, and time is
cut at every distinct length:

    lengths 6 5 5 2  ->  segments [0, 2) on 4 rows, [2, 5) on 3 rows, [5, 6) on 1 row

Each segment is one ordinary padded kernel call over the rows still running (a prefix of the
sorted batch), starting from the state the previous segment ended in. A row whose length ends a
segment takes that segment's final state as its own (h, and c for the LSTM) and stops; its
outputs after its length are zeros. The backward direction of a bidirectional layer reads each
sequence reversed within its own length (`reverse_within_lengths`), which leaves the padding at
the end, runs forwards the same way, and has its outputs reversed back.

Nothing is approximated: each step computes exactly what the one long call computes on those
rows, so outputs, final states and gradients equal the readable loop's (tested in float64).
The work is sum_i T_i steps, as for a packed sequence, in as many kernel calls per direction as
there are distinct lengths; a length-bucketed batch has few. Every call is a padded one, whose
CPU backward pass is the fast one (PyTorch's packed backward on the CPU is several times
slower for the LSTM and GRU; see `benchmarks/layers.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.layers.recurrent import reverse_within_lengths

Kernel = Callable[..., tuple[Tensor, ...]]


class Segment(NamedTuple):
    """One kernel call: time steps [start, end) of the first `rows` sorted rows; rows
    [carry, rows) end their sequence at `end`, rows [0, carry) go on to the next segment."""

    start: int
    end: int
    rows: int
    carry: int


def plan_segments(sorted_lengths: Sequence[int]) -> list[Segment]:
    """The segments for lengths sorted longest first, shortest segment end first.

    [6, 5, 5, 2] -> [Segment(0, 2, 4, 3), Segment(2, 5, 3, 1), Segment(5, 6, 1, 0)].
    """
    segments = []
    start = 0
    for end in sorted(set(sorted_lengths)):
        rows = sum(1 for n in sorted_lengths if n >= end)
        carry = sum(1 for n in sorted_lengths if n > end)
        segments.append(Segment(start, end, rows, carry))
        start = end
    return segments


def run_direction(
    kernel: Kernel,
    weights: list[Tensor],
    x: Tensor,
    segments: Sequence[Segment],
    state: list[Tensor],
) -> tuple[Tensor, list[Tensor]]:
    """One direction over rows sorted longest first, segment by segment.

    x: (B, T, D) sorted; state: the kernel's hx parts ([h] or [h, c]), each (1, B, H)
    -> outputs (B, T, H) with zeros past each length, final parts each (1, B, H).
    """
    B, T = x.shape[:2]
    train = torch.is_grad_enabled()  # keep what the backward pass needs (see fused_layer)
    outs, ended = [], []
    for seg in segments:
        hx = [part[:, : seg.rows] for part in state]  # (1, rows, H) each
        result = kernel(
            x[: seg.rows, seg.start : seg.end],
            hx if len(hx) == 2 else hx[0],
            weights,
            True,
            1,
            0.0,
            train,
            False,
            True,
        )
        out, *new = result  # out (rows, end - start, H); new parts (1, rows, H)
        outs.append(F.pad(out, (0, 0, 0, 0, 0, B - seg.rows)))  # (B, end - start, H)
        ended.append([part[:, seg.carry :] for part in new])
        state = [part[:, : seg.carry] for part in new]
    out = torch.cat(outs, dim=1)  # (B, max length, H)
    out = F.pad(out, (0, 0, 0, T - out.shape[1]))  # (B, T, H)
    # The first segment ends the shortest rows, the last ones in sorted order.
    finals = [torch.cat([parts[i] for parts in reversed(ended)], dim=1) for i in range(len(state))]
    return out, finals


def segmented_layer(
    kernel: Kernel,
    weights: Sequence[list[Tensor]],
    x: Tensor,
    lengths: Tensor,
    state: list[Tensor],
) -> tuple[Tensor, list[Tensor]]:
    """One layer, one or two directions, over sequences of different lengths.

    kernel: a padded fused kernel (`rnnkit.layers.fused.KERNELS`); weights: each direction's
    [w_ih, w_hh, b_ih, b_hh]; x: (B, T, D); lengths: (B,) in [1, T];
    state: hx parts ([h] or [h, c]), each (dirs, B, H)
    -> outputs (B, T, dirs*H) (forward first, zeros past each length),
       final parts each (dirs, B, H), each row's state at its own length.
    """
    sorted_lengths, order = torch.sort(lengths.cpu(), descending=True, stable=True)
    unsort = torch.empty_like(order)
    unsort[order] = torch.arange(order.numel())
    order, unsort = order.to(x.device), unsort.to(x.device)
    segments = plan_segments(sorted_lengths.tolist())
    x = x.index_select(0, order)  # (B, T, D) longest first
    state = [part.index_select(1, order) for part in state]  # (dirs, B, H) each

    outs, finals = [], []
    for d, direction_weights in enumerate(weights):
        reverse = d == 1
        x_d = reverse_within_lengths(x, sorted_lengths) if reverse else x
        initial = [part[d : d + 1] for part in state]  # (1, B, H) each
        out, final = run_direction(kernel, direction_weights, x_d, segments, initial)
        outs.append(reverse_within_lengths(out, sorted_lengths) if reverse else out)
        finals.append(final)
    out = torch.cat(outs, dim=-1).index_select(0, unsort)  # (B, T, dirs*H)
    parts = [
        torch.cat([final[i] for final in finals]).index_select(1, unsort)  # (dirs, B, H)
        for i in range(len(state))
    ]
    return out, parts
