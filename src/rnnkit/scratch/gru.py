"""The GRU cell and layer, forward and backward, in NumPy: the cuDNN / PyTorch variant.

    r    = σ(x<t> W_xr^T + b_xr + a<t-1> W_ar^T + b_ar)             reset gate
    z    = σ(x<t> W_xz^T + b_xz + a<t-1> W_az^T + b_az)             update ("keep") gate
    n    = tanh(x<t> W_xn^T + b_xn + r * (a<t-1> W_an^T + b_an))    candidate c̃<t>
    a<t> = (1 - z) * n + z * a<t-1>

Shapes: x<t> (B, D), a<t> (B, H); W_aa (3H, H), W_ax (3H, D), b_ax (3H,), b_aa (3H,), the gate
blocks stacked in the order [r, z, n] (PyTorch's order): W_ax = [W_xr; W_xz; W_xn],
W_aa = [W_ar; W_az; W_an]. To copy into torch.nn.GRUCell: weight_ih = W_ax, weight_hh = W_aa,
bias_ih = b_ax, bias_hh = b_aa.

How it relates to the lecture's GRU, c<t> = Γ_u * c̃<t> + (1 - Γ_u) * c<t-1>:
  * the lecture's update gate is Γ_u = 1 - z. PyTorch's z is the fraction of the old state that
    is kept, the lecture's Γ_u the fraction that is replaced; the line is the same.
  * the lecture (the course form, from Cho et al. 2014) applies the reset gate BEFORE the
    recurrent product: c̃<t> = tanh(W_c [Γ_r * c<t-1>, x<t>] + b_c), i.e.
    tanh(x W_xn^T + (r * a<t-1>) W_an^T + b). This variant applies it AFTER:
    r * (a<t-1> W_an^T + b_an). The two differ (the products no longer commute with the gate),
    and neither is a special case of the other. Applying it after lets a fused kernel compute
    a<t-1> W_aa^T for all three gates in one matrix product; it is also why there are two
    biases: inside r * (...), b_an is not redundant with b_xn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.scratch.params import Array, Params, sigmoid, uniform_init
from rnnkit.scratch.state import Mask
from rnnkit.scratch.unroll import (
    SequenceCache,
    check_sequence_inputs,
    unroll_backward,
    unroll_forward,
)


@dataclass(frozen=True)
class GRUParams(Params):
    """W_aa (3H, H), W_ax (3H, D), b_ax (3H,), b_aa (3H,), blocks [r, z, n]. Also gradients."""

    W_aa: Array  # (3H, H)
    W_ax: Array  # (3H, D)
    b_ax: Array  # (3H,)
    b_aa: Array  # (3H,)

    @property
    def H(self) -> int:
        return int(self.W_aa.shape[1])

    @property
    def D(self) -> int:
        return int(self.W_ax.shape[1])

    @classmethod
    def init(cls, D: int, H: int, rng: np.random.Generator) -> GRUParams:
        """Weights and biases ~ U(-1/sqrt(H), 1/sqrt(H)), as PyTorch initialises them."""
        return cls(
            uniform_init((3 * H, H), H, rng),
            uniform_init((3 * H, D), H, rng),
            uniform_init((3 * H,), H, rng),
            uniform_init((3 * H,), H, rng),
        )


@dataclass(frozen=True)
class GRUCache:
    """One step's values that the backward pass needs."""

    x_t: Array  # (B, D)
    a_prev: Array  # (B, H)
    r: Array  # (B, H)
    z: Array  # (B, H)
    n: Array  # (B, H)
    an: Array  # (B, H)  a<t-1> W_an^T + b_an, the recurrent part that r scales
    params: GRUParams


def gru_cell_forward(x_t: Array, a_prev: Array, params: GRUParams) -> tuple[Array, GRUCache]:
    """One GRU step: x_t (B, D), a_prev (B, H) -> a (B, H)."""
    xr, xz, xn = np.split(x_t @ params.W_ax.T + params.b_ax, 3, axis=1)  # each (B, H)
    ar, az, an = np.split(a_prev @ params.W_aa.T + params.b_aa, 3, axis=1)  # each (B, H)
    r = sigmoid(xr + ar)
    z = sigmoid(xz + az)
    n = np.tanh(xn + r * an)
    a = (1 - z) * n + z * a_prev
    return a, GRUCache(x_t, a_prev, r, z, n, an, params)


def gru_cell_backward(da: Array, cache: GRUCache) -> tuple[Array, Array, GRUParams]:
    """The forward step read in reverse: da (B, H) = dL/da<t> -> (dx<t>, dL/da<t-1>, grads)."""
    k, p = cache, cache.params
    dn = da * (1 - k.z)  # a = (1 - z) * n + z * a_prev
    dz = da * (k.a_prev - k.n)
    da_prev = da * k.z
    dn_raw = dn * (1 - k.n * k.n)  # n = tanh(xn + r * an)
    dxn = dn_raw
    dan = dn_raw * k.r
    dr = dn_raw * k.an
    dr_raw = dr * k.r * (1 - k.r)  # r = σ(xr + ar)
    dz_raw = dz * k.z * (1 - k.z)  # z = σ(xz + az)
    dgx = np.concatenate([dr_raw, dz_raw, dxn], axis=1)  # (B, 3H)  d(x W_ax^T + b_ax)
    dga = np.concatenate([dr_raw, dz_raw, dan], axis=1)  # (B, 3H)  d(a_prev W_aa^T + b_aa)
    dW_ax = dgx.T @ k.x_t  # (3H, D)
    db_ax = dgx.sum(axis=0)  # (3H,)
    dW_aa = dga.T @ k.a_prev  # (3H, H)
    db_aa = dga.sum(axis=0)  # (3H,)
    dx_t = dgx @ p.W_ax  # (B, D)
    da_prev = da_prev + dga @ p.W_aa  # (B, H)
    return dx_t, da_prev, GRUParams(dW_aa, dW_ax, db_ax, db_aa)


def gru_forward(
    x: Array, a0: Array | None, params: GRUParams, mask: Mask | None = None
) -> tuple[Array, SequenceCache[Array, GRUCache]]:
    """Unroll the cell over x (B, T, D) from a0 (B, H) (None: zeros).

    Returns a<1..T> (B, T, H) and the caches; `caches.final` is the last real state (B, H).
    mask (B, T), True on real steps: a padded step keeps the state and emits zeros.
    """
    check_sequence_inputs(x, a0, mask, params.D, params.H, "gru_forward")
    state0 = np.zeros((x.shape[0], params.H), dtype=x.dtype) if a0 is None else a0

    def step(x_t: Array, a_prev: Array) -> tuple[Array, GRUCache]:
        return gru_cell_forward(x_t, a_prev, params)

    return unroll_forward(step, x, state0, mask)


def gru_backward(
    d_states: Array, caches: SequenceCache[Array, GRUCache], d_final: Array | None = None
) -> tuple[Array, Array, GRUParams]:
    """BPTT: d_states (B, T, H) = dL/da<t> -> dx (B, T, D), da0 (B, H), grads (summed over t).

    d_final (B, H): gradient reaching the final state from elsewhere (None: zero).
    """
    return unroll_backward(gru_cell_backward, d_states, caches, d_final)
