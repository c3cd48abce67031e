"""The fast path: PyTorch's own recurrent kernels run on rnnkit's parameters.

cuDNN on the GPU, ATen (with oneDNN where it applies) on the CPU. These are the functions
`torch.nn.RNN/GRU/LSTM` call; here they receive the cells' own parameters, so the fast path and
the readable loop in `rnnkit.layers.recurrent` are two executions of one set of weights, and
the tests hold them equal on values and gradients.

Sequences of different lengths (the public API stays padded plus `lengths`) run one of two
ways, both giving exactly the masked semantics of the readable loop: padded steps emit zeros,
each sequence's final state is taken at its own length, and the backward direction reads each
sequence backwards within its own length.

  padded    one padded kernel call per direction, each row run past its length and read only
            up to it (`rnnkit.layers.padded`); the CPU's choice, where PyTorch's packed
            backward pass is slow for the LSTM
  packing   one call over a PackedSequence; the GPU's choice (cuDNN runs packed sequences
            natively, in one call)

On the GPU each layer's weights are views into one buffer in cuDNN's layout (`layer_weights`),
so cuDNN reads them where they are instead of copying them on every call.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import AnyCell, LSTMState, State, map_state
from rnnkit.layers.padded import holding_weights, past_lengths_layer

KERNELS: dict[str, Callable[..., tuple[Tensor, ...]]] = {
    "rnn_tanh": torch.rnn_tanh,
    "rnn_relu": torch.rnn_relu,
    "gru": torch.gru,
    "lstm": torch.lstm,
}
"""PyTorch's fused kernels by the `fused_kind` a cell declares (`rnnkit.cells.CELLS` says which
cell name runs on which). Each is called as kernel(x, hx, weights, has_biases, num_layers,
dropout, train, bidirectional, batch_first) on a padded batch, or as kernel(data, batch_sizes,
hx, weights, has_biases, num_layers, dropout, train, bidirectional) on a packed one; hx is
[h, c] for the LSTM and h alone otherwise."""


CUDNN_MODES = {"rnn_relu": 0, "rnn_tanh": 1, "lstm": 2, "gru": 3}
"""cuDNN's number for each `fused_kind` (torch.backends.cudnn.rnn.get_cudnn_mode's)."""


_FLATTENED: weakref.WeakKeyDictionary[AnyCell, tuple[int, ...]] = weakref.WeakKeyDictionary()
"""A layer's weights' data pointers when `flatten_for_cudnn` last flattened them, by its first
cell."""


def layer_weights(cells: Sequence[AnyCell]) -> list[Tensor]:
    """One layer's kernel weights, [w_ih, w_hh, b_ih, b_hh] for each direction in turn.

    On a CUDA device they are first made views into one contiguous buffer laid out as cuDNN
    wants it (`flatten_for_cudnn`), so cuDNN reads them in place; otherwise cuDNN copies them
    into such a buffer on every call (and warns that they are "not part of single contiguous
    chunk of memory"). Compiled or exported graphs take the weights as they are.
    """
    weights = [w for cell in cells for w in cell.fused_weights()]
    if weights[0].is_cuda and not torch.compiler.is_compiling():
        flatten_for_cudnn(cells, weights)
    return weights


def flatten_for_cudnn(cells: Sequence[AnyCell], weights: Sequence[Tensor]) -> None:
    """Make `weights` (one layer's, as `layer_weights` lists them) views into one cuDNN weight
    buffer, keeping their values; nothing when they already are.

    The buffer is cuDNN's own (`torch._cudnn_rnn_flatten_weight`, as torch.nn.RNNBase's
    flatten_parameters makes it): each tensor keeps its identity (an optimiser, a weight
    average and DistributedDataParallel still hold the same Parameters) and now views the
    buffer. In-place writes (load_state_dict, optimiser steps, the weight average's swaps, DDP's
    broadcasts) keep it whole; anything that gives a tensor new memory (`.to()`, `.cuda()`)
    moves it out, and the next call flattens again: the data pointers at the last flattening
    are kept per layer (by its first cell) and compared on every call.
    """
    ptrs = tuple(w.data_ptr() for w in weights)
    if _FLATTENED.get(cells[0]) == ptrs:
        return
    first = weights[0]
    same_kind = all(w.dtype == first.dtype and w.device == first.device for w in weights)
    if (
        not same_kind
        or len(set(ptrs)) != len(ptrs)
        or not torch.backends.cudnn.is_acceptable(first)
    ):
        return  # cuDNN will copy: mixed dtypes, shared tensors, or no cuDNN for this dtype
    w_ih, w_hh = weights[0], weights[1]
    mode = CUDNN_MODES[cells[0].fused_kind]
    with torch.no_grad():
        torch._cudnn_rnn_flatten_weight(
            list(weights), 4, w_ih.shape[1], mode, w_hh.shape[1], 0, 1, True, len(cells) == 2
        )
    _FLATTENED[cells[0]] = tuple(w.data_ptr() for w in weights)


def supports_fused(cell: AnyCell) -> bool:
    """True when PyTorch has a fused kernel for this cell's equations."""
    return getattr(cell, "fused_kind", None) in KERNELS


VariedLengths = Literal["padded", "packing"]
"""How the fused path runs sequences of different lengths (see the module docstring)."""


def varied_lengths_method(device: torch.device) -> VariedLengths:
    """The fused path's way with varied lengths on `device`: packing on the GPU, padded calls
    elsewhere (measured on the CPU in `benchmarks/layers.py`, varied-length section)."""
    return "packing" if device.type == "cuda" else "padded"


def fused_layer(
    cells: Sequence[AnyCell],
    x: Tensor,
    lengths: Tensor | None,
    state: State,
    varied: VariedLengths | None = None,
) -> tuple[Tensor, State]:
    """Run one layer of one cell (unidirectional) or two cells (forward, backward) fused.

    x: (B, T, D); lengths: (B,) or None (every sequence has length T);
    state: (dirs, B, H) or LSTMState of two such -> outputs (B, T, dirs*H), final state like
    `state`. The two directions' outputs are concatenated, forward first.
    varied: how sequences of different lengths run, 'padded' or 'packing'; None picks by
    device (`varied_lengths_method`). All lengths equal to T need neither: one padded call.
    """
    kernel = KERNELS[cells[0].fused_kind]
    lstm = isinstance(state, LSTMState)
    if torch.compiler.is_compiling() and torch.is_grad_enabled() and not x.requires_grad:
        # AOT autograd (torch 2.13) fails on the CPU's LSTM kernel (oneDNN's mkldnn_rnn_layer)
        # when its input needs no gradient: the backward saves None for it. x + 0 * w (one
        # weight) asks for that gradient inside the graph (requires_grad_ would break it); it
        # reaches the weight multiplied by 0.
        x = x + 0.0 * cells[0].fused_weights()[0][0, 0]
    T = x.shape[1]
    # (compiled or exported, the lengths are never read on the host: the padded calls below
    # are exact for any lengths, equal ones included)
    if lengths is None or (not torch.compiler.is_compiling() and bool((lengths == T).all())):
        weights = layer_weights(cells)
        # `train` asks the kernel to keep what its backward pass needs (cuDNN refuses a
        # backward without it); dropout is 0 here, so the flag changes nothing else.
        train = torch.is_grad_enabled()
        result = kernel(x, _hx(state), weights, True, 1, 0.0, train, len(cells) == 2, True)
        return _unpack_result(result, lstm)
    if (varied or varied_lengths_method(x.device)) == "padded":
        by_direction = [cell.fused_weights() for cell in cells]
        if lstm:
            low, high = torch.aminmax(x.detach())  # one pass (vector_norm(inf) is 10x slower)
            x_reach = torch.maximum(-low, high)  # () max |x|, left on the device
            held = [holding_weights(w, x_reach) for w in by_direction]
        else:
            held = list(by_direction)
        runnable = [w for w in held if w is not None]
        if len(runnable) == len(held):  # None: the LSTM's holding column overflows the dtype
            parts = list(state) if isinstance(state, LSTMState) else [state]
            out, finals = past_lengths_layer(kernel, runnable, x, lengths, parts)
            return out, LSTMState(*finals) if lstm else finals[0]
    return _packed_layer(kernel, cells, x, lengths, state)


def _packed_layer(
    kernel: Callable[..., tuple[Tensor, ...]],
    cells: Sequence[AnyCell],
    x: Tensor,
    lengths: Tensor,
    state: State,
) -> tuple[Tensor, State]:
    """`fused_layer` through one kernel call over a PackedSequence."""
    weights = layer_weights(cells)
    train = torch.is_grad_enabled()
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    assert packed.sorted_indices is not None and packed.unsorted_indices is not None
    order = packed.sorted_indices
    hx = _hx(map_state(lambda h: h.index_select(1, order), state))
    result = kernel(
        packed.data, packed.batch_sizes, hx, weights, True, 1, 0.0, train, len(cells) == 2
    )
    out_data, final = _unpack_result(result, isinstance(state, LSTMState))
    unpacked = PackedSequence(
        out_data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )
    out, _ = pad_packed_sequence(unpacked, batch_first=True, total_length=x.shape[1])
    unsort = packed.unsorted_indices
    return out, map_state(lambda h: h.index_select(1, unsort), final)  # out (B, T, dirs*H)


def _hx(state: State) -> list[Tensor] | Tensor:
    """The initial state as the kernels take it: [h, c] for the LSTM, h alone otherwise."""
    return list(state) if isinstance(state, LSTMState) else state


def _unpack_result(result: tuple[Tensor, ...], lstm: bool) -> tuple[Tensor, State]:
    if lstm:
        out, h, c = result
        return out, LSTMState(h, c)
    out, h = result
    return out, h
