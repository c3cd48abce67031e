"""The fast path: PyTorch's own recurrent kernels run on rnnkit's parameters.

cuDNN on the GPU, ATen (with oneDNN where it applies) on the CPU. These are the functions
`torch.nn.RNN/GRU/LSTM` call; here they receive the cells' own parameters, so the fast path and
the readable loop in `rnnkit.layers.recurrent` are two executions of one set of weights, and
the tests hold them equal on values and gradients.

Variable lengths go through a packed sequence internally (the public API stays padded plus
`lengths`), which gives exactly the masked semantics of the readable loop: padded steps emit
zeros and each sequence's final state is taken at its own length; the backward direction reads
each sequence backwards within its own length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import AnyCell, LSTMState, State, map_state

FUSED_KINDS = ("rnn_tanh", "rnn_relu", "gru", "lstm")


def supports_fused(cell: AnyCell) -> bool:
    """True when PyTorch has a fused kernel for this cell's equations."""
    return getattr(cell, "fused_kind", None) in FUSED_KINDS


def fused_layer(
    cells: Sequence[AnyCell],
    x: Tensor,
    lengths: Tensor | None,
    state: State,
) -> tuple[Tensor, State]:
    """Run one layer of one cell (unidirectional) or two cells (forward, backward) fused.

    x: (B, T, D); lengths: (B,) or None (every sequence has length T);
    state: (dirs, B, H) or LSTMState of two such -> outputs (B, T, dirs*H), final state like
    `state`. The two directions' outputs are concatenated, forward first.
    """
    kind = cells[0].fused_kind
    weights = [w for cell in cells for w in cell.fused_weights()]
    bidirectional = len(cells) == 2
    hx: list[Tensor] = list(state) if isinstance(state, LSTMState) else [state]
    T = x.shape[1]

    # `train` asks the kernel to keep what its backward pass needs (cuDNN refuses a backward
    # without it); dropout is 0 here, so the flag changes nothing else.
    train = torch.is_grad_enabled()
    if lengths is None or bool((lengths == T).all()):
        args = (hx, weights, True, 1, 0.0, train, bidirectional, True)
        return _unpack_result(kind, _run_padded(kind, x, args))

    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    assert packed.sorted_indices is not None and packed.unsorted_indices is not None
    hx = [h.index_select(1, packed.sorted_indices) for h in hx]
    result = _run_packed(kind, packed, hx, weights, bidirectional, train)
    out_data, final = _unpack_result(kind, result)
    unpacked = PackedSequence(
        out_data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )
    out, _ = pad_packed_sequence(unpacked, batch_first=True, total_length=T)  # (B, T, dirs*H)
    unsort = packed.unsorted_indices
    return out, map_state(lambda h: h.index_select(1, unsort), final)


def _run_padded(kind: str, x: Tensor, args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    hx, weights, *rest = args
    if kind == "lstm":
        return torch.lstm(x, hx, weights, *rest)
    h0 = hx[0]
    if kind == "gru":
        return torch.gru(x, h0, weights, *rest)
    if kind == "rnn_tanh":
        return torch.rnn_tanh(x, h0, weights, *rest)
    return torch.rnn_relu(x, h0, weights, *rest)


def _run_packed(
    kind: str,
    packed: PackedSequence,
    hx: list[Tensor],
    weights: list[Tensor],
    bidirectional: bool,
    train: bool,
) -> tuple[Tensor, ...]:
    data, sizes = packed.data, packed.batch_sizes
    if kind == "lstm":
        return torch.lstm(data, sizes, hx, weights, True, 1, 0.0, train, bidirectional)
    if kind == "gru":
        return torch.gru(data, sizes, hx[0], weights, True, 1, 0.0, train, bidirectional)
    if kind == "rnn_tanh":
        return torch.rnn_tanh(data, sizes, hx[0], weights, True, 1, 0.0, train, bidirectional)
    return torch.rnn_relu(data, sizes, hx[0], weights, True, 1, 0.0, train, bidirectional)


def _unpack_result(kind: str, result: tuple[Tensor, ...]) -> tuple[Tensor, State]:
    if kind == "lstm":
        out, h, c = result
        return out, LSTMState(h, c)
    out, h = result
    return out, h
