"""The LSTM cell and layer, forward and backward, in NumPy.

    [z_u, z_f, z_c, z_o] = a<t-1> W_aa^T + x<t> W_ax^T + b_a      four (B, H) blocks
    Γ_u  = σ(z_u)                    update gate   (PyTorch's input gate i)
    Γ_f  = σ(z_f)                    forget gate   (f)
    c̃<t> = tanh(z_c)                 candidate     (PyTorch's g)
    Γ_o  = σ(z_o)                    output gate   (o)
    c<t> = Γ_u * c̃<t> + Γ_f * c<t-1>
    a<t> = Γ_o * tanh(c<t>)

Shapes: x<t> (B, D), a<t> and c<t> (B, H); W_aa (4H, H), W_ax (4H, D), b_a (4H,), the gate
blocks stacked in the order [u, f, c̃, o], which is PyTorch's [i, f, g, o]. One bias, as in the
lecture. To copy into torch.nn.LSTMCell: weight_ih = W_ax, weight_hh = W_aa, bias_ih = b_a,
bias_hh = 0; PyTorch's (h, c) is LSTMState(a, c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.params import Array, Params, sigmoid, uniform_init
from rnnkit.scratch.state import LSTMState, Mask
from rnnkit.scratch.unroll import (
    SequenceCache,
    check_sequence_inputs,
    unroll_backward,
    unroll_forward,
)


@dataclass(frozen=True)
class LSTMParams(Params):
    """W_aa (4H, H), W_ax (4H, D), b_a (4H,), gate blocks [u, f, c̃, o]. Also their gradients."""

    W_aa: Array  # (4H, H)
    W_ax: Array  # (4H, D)
    b_a: Array  # (4H,)

    @property
    def H(self) -> int:
        return int(self.W_aa.shape[1])

    @property
    def D(self) -> int:
        return int(self.W_ax.shape[1])

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator) -> LSTMParams:
        """Weights and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as PyTorch initialises them."""
        return cls(
            uniform_init((4 * H, H), H, rng),
            uniform_init((4 * H, D), H, rng),
            uniform_init((4 * H,), H, rng),
        )


@dataclass(frozen=True)
class LSTMCache:
    """One step's values that the backward pass needs."""

    x_t: Array  # (B, D)
    a_prev: Array  # (B, H)
    c_prev: Array  # (B, H)
    gamma_u: Array  # (B, H)
    gamma_f: Array  # (B, H)
    c_tilde: Array  # (B, H)
    gamma_o: Array  # (B, H)
    tanh_c: Array  # (B, H)
    params: LSTMParams


def lstm_cell_forward(
    x_t: Array, state: LSTMState, params: LSTMParams
) -> tuple[LSTMState, LSTMCache]:
    """One LSTM step: x_t (B, D), state (a<t-1>, c<t-1>) -> (a<t>, c<t>), each (B, H)."""
    a_prev, c_prev = state
    z = a_prev @ params.W_aa.T + x_t @ params.W_ax.T + params.b_a  # (B, 4H)
    z_u, z_f, z_c, z_o = np.split(z, 4, axis=1)  # each (B, H)
    gamma_u = sigmoid(z_u)
    gamma_f = sigmoid(z_f)
    c_tilde = np.tanh(z_c)
    gamma_o = sigmoid(z_o)
    c = gamma_u * c_tilde + gamma_f * c_prev
    tanh_c = np.tanh(c)
    a = gamma_o * tanh_c
    cache = LSTMCache(x_t, a_prev, c_prev, gamma_u, gamma_f, c_tilde, gamma_o, tanh_c, params)
    return LSTMState(a, c), cache


def lstm_cell_backward(d_state: LSTMState, cache: LSTMCache) -> tuple[Array, LSTMState, LSTMParams]:
    """The forward step read in reverse: (dL/da<t>, dL/dc<t>) -> (dx<t>, d_state<t-1>, grads)."""
    k, p = cache, cache.params
    da, dc = d_state
    d_gamma_o = da * k.tanh_c  # a = Γ_o * tanh(c)
    dc = dc + da * k.gamma_o * (1 - k.tanh_c * k.tanh_c)  # ... and through tanh(c)
    d_gamma_u = dc * k.c_tilde  # c = Γ_u * c̃ + Γ_f * c_prev
    d_c_tilde = dc * k.gamma_u
    d_gamma_f = dc * k.c_prev
    dc_prev = dc * k.gamma_f
    dz_u = d_gamma_u * k.gamma_u * (1 - k.gamma_u)  # σ' = σ (1 - σ)
    dz_f = d_gamma_f * k.gamma_f * (1 - k.gamma_f)
    dz_c = d_c_tilde * (1 - k.c_tilde * k.c_tilde)  # tanh' = 1 - tanh^2
    dz_o = d_gamma_o * k.gamma_o * (1 - k.gamma_o)
    dz = np.concatenate([dz_u, dz_f, dz_c, dz_o], axis=1)  # (B, 4H)
    dW_aa = dz.T @ k.a_prev  # (4H, H)
    dW_ax = dz.T @ k.x_t  # (4H, D)
    db_a = dz.sum(axis=0)  # (4H,)
    da_prev = dz @ p.W_aa  # (B, H)
    dx_t = dz @ p.W_ax  # (B, D)
    return dx_t, LSTMState(da_prev, dc_prev), LSTMParams(dW_aa, dW_ax, db_a)


def lstm_forward(
    x: Array, state0: LSTMState | None, params: LSTMParams, mask: Mask | None = None
) -> tuple[Array, SequenceCache[LSTMState, LSTMCache]]:
    """Unroll the cell over x (B, T, D) from state0 = (a0, c0) (None: zeros).

    Returns a<1..T> (B, T, H) and the caches; `caches.final` is the last real LSTMState.
    mask (B, T), True on real steps: a padded step keeps a and c and emits zeros.
    """
    check_sequence_inputs(
        x, None if state0 is None else state0.a, mask, params.D, params.H, "lstm_forward"
    )
    if state0 is None:
        zeros = np.zeros((x.shape[0], params.H), dtype=x.dtype)
        state0 = LSTMState(zeros, zeros.copy())
    elif state0.c.shape != state0.a.shape:
        raise RnnkitError(
            f"lstm_forward: expected c0 of the same shape as a0, {state0.a.shape}, "
            f"got {state0.c.shape}"
        )

    def step(x_t: Array, state: LSTMState) -> tuple[LSTMState, LSTMCache]:
        return lstm_cell_forward(x_t, state, params)

    return unroll_forward(step, x, state0, mask)


def lstm_backward(
    d_states: Array,
    caches: SequenceCache[LSTMState, LSTMCache],
    d_final: LSTMState | None = None,
) -> tuple[Array, LSTMState, LSTMParams]:
    """BPTT: d_states (B, T, H) = dL/da<t> -> dx (B, T, D), (da0, dc0), grads (summed over t).

    d_final: gradient reaching the final (a, c) from elsewhere, e.g. an encoder's last c (None: 0).
    """
    return unroll_backward(lstm_cell_backward, d_states, caches, d_final)
