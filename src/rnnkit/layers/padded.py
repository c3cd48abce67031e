"""Sequences of different lengths through PyTorch's padded kernels, without packing.

A padded kernel call runs every row of x (B, T, D) for all T steps. The readable loop's masked
semantics (padded steps emit zeros; each sequence's final state is its state at its own
length) are kept exactly by running each row past its length and reading only what the steps
up to the length computed:

- outputs past each length are zero, so no gradient reaches those steps from them;
- each row's final a<t> (PyTorch's h) is its output at its own last step (for these cells the
  output is a<t>);
- the LSTM's memory cell c<t> leaves the kernel only as the final state of the call, so the
  padded steps are made to hold it: x gains one feature, 1 on padded steps and 0 on real ones,
  and W_ax one column (`holding_weights`) adding -S to the input and output gates' and +S to
  the forget gate's pre-activations. There sigmoid gives exactly 0, 1 and 0 (S exceeds by
  HOLD_MARGIN all that x, a<t-1> and the biases can add), so c<t> = 1 * c<t-1> + 0 * g<t>
  keeps the value it had at the length bit for bit (the kernel's final c is each row's c at
  its own length), and a<t> = 0 * tanh(c<t>) emits zeros. On real steps the new feature is 0
  and adds exactly 0. The other cells' outputs past the lengths are set to zero.

The gradient through the padded steps is exactly zero (sigmoid' = s(1 - s) = 0 at 0 and 1), so
values and gradients equal the readable loop's (tests/test_fused_lengths.py, float64; float32
through oneDNN agrees with the packed kernels). The backward direction of a bidirectional
layer reads each sequence reversed within its own length (`reverse_rows`), which leaves the
padding at the end, runs forwards the same way, and has its outputs reversed back.

One padded call per direction, whatever the lengths: its CPU backward pass is the fast one
(PyTorch's packed backward on the CPU is several times slower for the LSTM), and no call pays
the kernels' fixed cost more than once. The price is the padded steps' work, which a
length-bucketed batch keeps small. Figures: `benchmarks/layers.py`, varied-length section.

Time segments (rows sorted by length, one call per distinct length over the rows still
running, each row's (h, c) taken as the final state of the call its length ends) do no padded
work, but each extra call has a fixed cost, measured with torch 2.13 on one thread at about
0.5 ms forward + backward for an LSTM-64 and 17 ms for an LSTM-512 (oneDNN's setup and a
full weight gradient per call): 1.3x the padded ceiling on a bucketed batch of the small shape
against 1.05-1.15x here, and far more on an unbucketed batch with tens of distinct lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

Kernel = Callable[..., tuple[Tensor, ...]]

HOLD_MARGIN = 1000.0
"""How far beyond the reach of a<t-1> and the biases the holding column pushes the gates:
sigmoid(-1000) is exactly 0 and sigmoid(1000) exactly 1 in float16, 32 and 64."""


def holding_weights(weights: Sequence[Tensor], x_reach: Tensor | float) -> list[Tensor] | None:
    """An LSTM cell's kernel weights [w_ih, w_hh, b_ih, b_hh] (gates i, f, g, o) with w_ih
    widened by the holding column (see the module docstring): (4H, D) -> (4H, D + 1).

    x_reach: the largest |x| the layer reads (padded steps included). S = the most that x,
    a<t-1> in [-1, 1] and the biases can move a gate's pre-activation (max over the rows of
    |b_ih + b_hh| + x_reach * sum |w_ih| + sum |w_hh|), plus HOLD_MARGIN. None when S is not
    finite in the weights' dtype or the autocast dtype (then the caller packs instead).
    Under torch.compile or torch.export S stays on the device and an assertion inside the
    graph stops the call when S is too large (a RuntimeError; a host branch would break it).
    """
    w_ih, w_hh, b_ih, b_hh = weights
    H = w_hh.shape[1]
    with torch.no_grad():
        rows = (b_ih + b_hh).abs() + x_reach * w_ih.abs().sum(dim=1) + w_hh.abs().sum(dim=1)
        S = rows.max() + HOLD_MARGIN  # ()
    device = w_ih.device.type
    kernel_dtype = (  # under autocast the kernel runs in the autocast dtype
        torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else w_ih.dtype
    )
    limit = min(torch.finfo(w_ih.dtype).max, torch.finfo(kernel_dtype).max)
    if torch.compiler.is_compiling():
        torch._assert_async(S < limit, "the LSTM's holding column overflows the kernel's dtype")
    elif not float(S) < limit:
        return None
    column = w_ih.new_zeros(4 * H, 1)
    column[:H] = -S  # input gate: i = sigmoid(... - S) = 0, nothing is written to c
    column[H : 2 * H] = S  # forget gate: f = sigmoid(... + S) = 1, c is kept
    column[3 * H :] = -S  # output gate: o = sigmoid(... - S) = 0, a = o * tanh(c) = 0
    return [torch.cat([w_ih, column], dim=1), w_hh, b_ih, b_hh]


def past_lengths_layer(
    kernel: Kernel,
    weights: Sequence[list[Tensor]],
    x: Tensor,
    lengths: Tensor,
    state: list[Tensor],
) -> tuple[Tensor, list[Tensor]]:
    """One layer, one or two directions, run past each sequence's length.

    kernel: a padded fused kernel (`rnnkit.layers.fused.KERNELS`); weights: each direction's
    [w_ih, w_hh, b_ih, b_hh], for the LSTM its `holding_weights`; x: (B, T, D); lengths: (B,)
    in [1, T]; state: the kernel's hx parts, [h] or [h, c] for the LSTM, each (dirs, B, H)
    -> outputs (B, T, dirs*H) (forward first, zeros past each length),
       final parts like `state`: each row's state at its own length.
    """
    B, T = x.shape[:2]
    lstm = len(state) == 2
    lengths = lengths.to(x.device)
    real = (torch.arange(T, device=x.device)[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
    if lstm:
        padded = (~real).to(x.dtype)  # (B, T, 1): the holding feature
        x = torch.cat([x, padded], dim=-1)  # (B, T, D + 1)
    real_tm = real.transpose(0, 1)  # (T, B, 1)
    last = (lengths - 1)[:, None, None]  # (B, 1, 1)
    train = torch.is_grad_enabled()  # keep what the backward pass needs (see fused_layer)
    outs, finals = [], []
    for d, direction_weights in enumerate(weights):
        reverse = d == 1
        x_d = reverse_rows(x, lengths) if reverse else x
        hx = [part[d : d + 1] for part in state]  # (1, B, H) each
        out, _, *c = kernel(
            x_d, hx if lstm else hx[0], direction_weights, True, 1, 0.0, train, False, True
        )  # out (B, T, H), the steps past each length ran on padding; c: [(1, B, H)] or []
        h = out.gather(1, last.expand(B, 1, out.shape[2])).squeeze(1)  # (B, H)
        finals.append([h, c[0][0]] if lstm else [h])
        if not lstm:  # (the LSTM's padded steps emitted zeros: its output gate was shut)
            # where in the kernel's time-major memory order (1.5x faster at the fastrnns shape)
            out = torch.where(real_tm, out.transpose(0, 1), 0.0).transpose(0, 1)  # (B, T, H)
        outs.append(reverse_rows(out, lengths) if reverse else out)
    parts = [torch.stack([final[i] for final in finals]) for i in range(len(state))]
    out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)  # (B, T, dirs*H)
    return out, parts  # parts: each (dirs, B, H)


def reverse_rows(x: Tensor, lengths: Tensor) -> Tensor:
    """`reverse_within_lengths(x, lengths)` by one index_select over the B*T steps, whose
    backward pass (an index_add) is several times cheaper than gather's scatter_add.

    x: (B, T, F), batch-major or time-major in memory (a kernel's batch_first outputs are the
    latter); lengths: (B,) on x's device -> (B, T, F) batch-major.
    """
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device)[None, :]  # (1, T)
    source = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    rows = torch.arange(B, device=x.device)[:, None]  # (B, 1)
    if x.transpose(0, 1).is_contiguous():
        steps = x.transpose(0, 1).reshape(T * B, -1)  # (T*B, F), a view
        index = source * B + rows
    else:
        steps = x.reshape(B * T, -1)  # (B*T, F)
        index = rows * T + source
    return steps.index_select(0, index.view(-1)).view(B, T, -1)
