"""Sequences of different lengths through PyTorch's padded kernels, without packing.

The padded kernels run every row of x (B, T, D) for all T steps. Two exact ways keep the
masked semantics of the readable loop (padded steps emit zeros; each sequence's final state is
its state at its own length) without a PackedSequence:

Past the lengths (`past_lengths_layer`), for the cells whose state is their output (simple RNN,
GRU: a<t> is both): one padded call per direction runs every row to T; outputs past each
length are set to zero and each row's final state is read from its output at its own last
step. Steps past a length change nothing the result reads, and the gradient reaching them is
exactly zero. One call per direction, T steps per row.

Time segments (`segmented_layer`), for the LSTM, whose memory cell c<t> the kernels return
only as a call's final state: the rows are sorted by length, longest first, and time is cut at
every distinct length,

    lengths 6 5 5 2  ->  segments [0, 2) on 4 rows, [2, 5) on 3 rows, [5, 6) on 1 row

Each segment is one padded kernel call over the rows still running (a prefix of the sorted
batch), starting from the state the previous segment ended in; a row whose length ends a
segment takes that call's final (h, c) as its own and stops; its outputs after its length are
zeros. Work is sum_i T_i steps, in one call per distinct length and direction (a bucketed batch
has few; each call costs a fixed overhead of about a weight-gradient's worth of memory traffic).

The backward direction of a bidirectional layer reads each sequence reversed within its own
length (`reverse_within_lengths`), which leaves the padding at the end, runs forwards the same
way, and has its outputs reversed back. Nothing is approximated: outputs, final states and
gradients equal the readable loop's (tests/test_fused_lengths.py, float64). Every call is a
padded one, whose CPU backward pass is the fast one: PyTorch's packed backward on the CPU is
several times slower for the LSTM and GRU (`benchmarks/layers.py`, varied-length section).
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


def past_lengths_layer(
    kernel: Kernel,
    weights: Sequence[list[Tensor]],
    x: Tensor,
    lengths: Tensor,
    state: Tensor,
) -> tuple[Tensor, Tensor]:
    """One layer of a cell whose state is its output (simple RNN, GRU), one or two directions,
    run past each sequence's length.

    kernel: a padded fused kernel other than the LSTM's; weights: each direction's
    [w_ih, w_hh, b_ih, b_hh]; x: (B, T, D); lengths: (B,) in [1, T]; state: (dirs, B, H)
    -> outputs (B, T, dirs*H) (forward first, zeros past each length),
       final state (dirs, B, H): each row's output at its own last step.
    """
    B, T = x.shape[:2]
    lengths = lengths.to(x.device)
    real = (torch.arange(T, device=x.device)[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
    last = (lengths - 1)[:, None, None]  # (B, 1, 1)
    train = torch.is_grad_enabled()  # keep what the backward pass needs (see fused_layer)
    outs, finals = [], []
    for d, direction_weights in enumerate(weights):
        reverse = d == 1
        x_d = reverse_within_lengths(x, lengths) if reverse else x
        out, _ = kernel(
            x_d, state[d : d + 1], direction_weights, True, 1, 0.0, train, False, True
        )  # (B, T, H), the steps past each length run on padding
        finals.append(out.gather(1, last.expand(B, 1, out.shape[2])).squeeze(1))  # (B, H)
        out = torch.where(real, out, 0.0)
        outs.append(reverse_within_lengths(out, lengths) if reverse else out)
    return torch.cat(outs, dim=-1), torch.stack(finals)  # (B, T, dirs*H), (dirs, B, H)
