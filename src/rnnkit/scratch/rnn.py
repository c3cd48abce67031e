"""The simple RNN cell and layer, forward and backward, in NumPy.

    a<t> = g(a<t-1> W_aa^T + x<t> W_ax^T + b_a)        g = tanh or relu

Shapes: x<t> (B, D), a<t-1> and a<t> (B, H); W_aa (H, H), W_ax (H, D), b_a (H,).
Batch-first, so each example is a row and the lecture's column-vector W_aa a<t-1> becomes the
row-vector a<t-1> W_aa^T: the same numbers, transposed.

One bias, as in the lecture (and Keras): RNN(10) over 100 inputs has 10*10 + 10*100 + 10 = 1,110
parameters. To copy into torch.nn.RNNCell: weight_ih = W_ax, weight_hh = W_aa, bias_ih = b_a,
bias_hh = 0.

The lecture also writes the two matrices side by side, W_a = [W_aa | W_ax] (H, H + D), acting on
the stacked vector [a<t-1>; x<t>] (H + D): a<t> = g(W_a [a<t-1>; x<t>] + b_a). `stack_weights`
and `rnn_cell_forward_stacked` compute it that way; the result is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.params import Array, Params, uniform_init
from rnnkit.scratch.state import Mask
from rnnkit.scratch.unroll import (
    SequenceCache,
    check_sequence_inputs,
    unroll_backward,
    unroll_forward,
)

Activation = Literal["tanh", "relu"]


@dataclass(frozen=True)
class RNNParams(Params):
    """W_aa (H, H), W_ax (H, D), b_a (H,). Also used for their gradients."""

    W_aa: Array  # (H, H)
    W_ax: Array  # (H, D)
    b_a: Array  # (H,)

    @property
    def H(self) -> int:
        return int(self.W_aa.shape[0])

    @property
    def D(self) -> int:
        return int(self.W_ax.shape[1])

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator) -> RNNParams:
        """Weights and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as PyTorch initialises them."""
        return cls(
            uniform_init((H, H), H, rng), uniform_init((H, D), H, rng), uniform_init((H,), H, rng)
        )


@dataclass(frozen=True)
class RNNCache:
    """One step's values that the backward pass needs."""

    x_t: Array  # (B, D)
    a_prev: Array  # (B, H)
    a: Array  # (B, H)
    activation: Activation
    params: RNNParams


def rnn_cell_forward(
    x_t: Array, a_prev: Array, params: RNNParams, activation: Activation = "tanh"
) -> tuple[Array, RNNCache]:
    """a<t> = g(a<t-1> W_aa^T + x<t> W_ax^T + b_a)     x_t (B, D), a_prev (B, H) -> a (B, H)"""
    z = a_prev @ params.W_aa.T + x_t @ params.W_ax.T + params.b_a  # (B, H)
    a = np.tanh(z) if activation == "tanh" else np.maximum(z, 0.0)  # (B, H)
    return a, RNNCache(x_t, a_prev, a, activation, params)


def rnn_cell_backward(da: Array, cache: RNNCache) -> tuple[Array, Array, RNNParams]:
    """The forward step read in reverse: da (B, H) = dL/da<t> -> (dx<t>, dL/da<t-1>, grads)."""
    x_t, a_prev, a, p = cache.x_t, cache.a_prev, cache.a, cache.params
    if cache.activation == "tanh":
        dz = (1 - a * a) * da  # tanh'(z) = 1 - tanh(z)^2
    else:
        dz = (a > 0) * da  # relu'(z) = 1 where z > 0
    dW_aa = dz.T @ a_prev  # (H, H)
    dW_ax = dz.T @ x_t  # (H, D)
    db_a = dz.sum(axis=0)  # (H,)
    da_prev = dz @ p.W_aa  # (B, H)
    dx_t = dz @ p.W_ax  # (B, D)
    return dx_t, da_prev, RNNParams(dW_aa, dW_ax, db_a)


def stack_weights(params: RNNParams) -> Array:
    """W_a = [W_aa | W_ax], shape (H, H + D): the lecture's compact notation."""
    return np.concatenate([params.W_aa, params.W_ax], axis=1)  # (H, H + D)


def split_weights(W_a: Array, H: int) -> tuple[Array, Array]:
    """Inverse of `stack_weights`: W_a (H, H + D) -> W_aa (H, H), W_ax (H, D)."""
    return W_a[:, :H], W_a[:, H:]


def rnn_cell_forward_stacked(
    x_t: Array, a_prev: Array, W_a: Array, b_a: Array, activation: Activation = "tanh"
) -> Array:
    """a<t> = g(W_a [a<t-1>; x<t>] + b_a): one product with the stacked matrix.

    [a<t-1>; x<t>] (B, H + D) times W_a^T (H + D, H) is a<t-1> W_aa^T + x<t> W_ax^T, so this
    equals `rnn_cell_forward` exactly (up to float rounding).
    """
    ax = np.concatenate([a_prev, x_t], axis=1)  # (B, H + D)
    z = ax @ W_a.T + b_a  # (B, H)
    return np.tanh(z) if activation == "tanh" else np.maximum(z, 0.0)


def rnn_forward(
    x: Array,
    a0: Array | None,
    params: RNNParams,
    mask: Mask | None = None,
    activation: Activation = "tanh",
) -> tuple[Array, SequenceCache[Array, RNNCache]]:
    """Unroll the cell over x (B, T, D) from a0 (B, H) (None: zeros).

    Returns a<1..T> (B, T, H) and the caches; `caches.final` is the last real state (B, H).
    mask (B, T), True on real steps: a padded step keeps the state and emits zeros.
    """
    check_sequence_inputs(x, a0, mask, params.D, params.H, "rnn_forward")
    if activation not in ("tanh", "relu"):
        raise RnnkitError(f"rnn_forward: activation must be 'tanh' or 'relu', got {activation!r}")
    state0 = np.zeros((x.shape[0], params.H), dtype=x.dtype) if a0 is None else a0

    def step(x_t: Array, a_prev: Array) -> tuple[Array, RNNCache]:
        return rnn_cell_forward(x_t, a_prev, params, activation)

    return unroll_forward(step, x, state0, mask)


def rnn_backward(
    d_states: Array, caches: SequenceCache[Array, RNNCache], d_final: Array | None = None
) -> tuple[Array, Array, RNNParams]:
    """BPTT: d_states (B, T, H) = dL/da<t> -> dx (B, T, D), da0 (B, H), grads (summed over t).

    d_final (B, H): gradient reaching the final state from elsewhere (None: zero).
    """
    return unroll_backward(rnn_cell_backward, d_states, caches, d_final)
