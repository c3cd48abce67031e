"""The one time loop: unroll any cell over T steps, and backpropagate through time.

Forward, for t = 1..T (m<t> is the (B, T) mask, True on real steps):

    new<t> = cell(x<t>, state<t-1>)
    state<t> = new<t>        where m<t>      (a padded step keeps the old state ...)
               state<t-1>    elsewhere
    out<t>   = a<t> * m<t>                   (... and emits zeros, so it contributes nothing)

Backward is the same loop in reverse. `d_state` holds dL/dstate<t>, the gradient arriving from
the future; the gradient of the loss at step t, dL/dout<t>, is added to its a-part, then it is
routed through the cell on real steps and passed straight back on padded ones:

    d_state   += dL/dout<t> * m<t>
    dx<t>, d_prev, grads<t> = cell_backward(d_state * m<t>)
    d_state   = d_prev + d_state * (1 - m<t>)
    grads    += grads<t>                     (the same weights are used at every step)

Without a mask every step is real and this is plain backpropagation through time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.params import Array, Params
from rnnkit.scratch.state import Mask, State, add, add_to_hidden, hidden, keep_where, zeros_like

Cache = TypeVar("Cache")
G = TypeVar("G", bound=Params)


@dataclass(frozen=True)
class SequenceCache(Generic[State, Cache]):
    """What the forward pass keeps for the backward pass."""

    steps: list[Cache]  # one cell cache per time step, t = 0..T-1
    mask: Mask  # (B, T) True on real steps
    final: State  # the state after the last real step of each row: carry it to the next window


def unroll_forward(
    cell_forward: Callable[[Array, State], tuple[State, Cache]],
    x: Array,
    state0: State,
    mask: Mask | None = None,
) -> tuple[Array, SequenceCache[State, Cache]]:
    """Run `cell_forward(x_t, state) -> (state, cache)` over x (B, T, D) from state0.

    Returns the emitted states a<1..T> (B, T, H) (zeros on padded steps) and the caches.
    """
    B, T, _ = x.shape
    real = np.ones((B, T), dtype=bool) if mask is None else mask.astype(bool)  # (B, T)
    states = np.zeros((B, T, hidden(state0).shape[1]), dtype=hidden(state0).dtype)  # (B, T, H)
    steps: list[Cache] = []
    state = state0
    for t in range(T):
        m = real[:, t, None]  # (B, 1)
        new, cache = cell_forward(x[:, t], state)
        state = keep_where(m, new, state)
        states[:, t] = np.where(m, hidden(state), 0.0)
        steps.append(cache)
    return states, SequenceCache(steps, real, state)


def unroll_backward(
    cell_backward: Callable[[State, Cache], tuple[Array, State, G]],
    d_states: Array,
    caches: SequenceCache[State, Cache],
    d_final: State | None = None,
) -> tuple[Array, State, G]:
    """Backpropagation through time.

    d_states: (B, T, H) dL/da<t> from whatever reads the emitted states (an output layer).
    d_final:  dL/dstate<T> for a loss that reads the final state directly (None: zero).
    Returns dx (B, T, D), dL/dstate<0> and the parameter gradients summed over time.
    """
    if d_states.shape != (*caches.mask.shape, hidden(caches.final).shape[1]):
        raise RnnkitError(
            f"expected d_states of shape (B, T, H) = "
            f"{(*caches.mask.shape, hidden(caches.final).shape[1])}, got {d_states.shape}"
        )
    T = d_states.shape[1]
    d_state = zeros_like(caches.final) if d_final is None else d_final
    no_grad = zeros_like(caches.final)
    dx_steps: list[Array] = []
    grads: G | None = None
    for t in reversed(range(T)):
        m = caches.mask[:, t, None]  # (B, 1)
        d_state = add_to_hidden(d_state, np.where(m, d_states[:, t], 0.0))
        dx_t, d_prev, grads_t = cell_backward(keep_where(m, d_state, no_grad), caches.steps[t])
        d_state = add(d_prev, keep_where(m, no_grad, d_state))
        grads = grads_t if grads is None else grads + grads_t
        dx_steps.append(dx_t)
    assert grads is not None  # T >= 1 is checked by every *_forward
    dx = np.stack(dx_steps[::-1], axis=1)  # (B, T, D)
    return dx, d_state, grads


def check_sequence_inputs(
    x: Array, state0_a: Array | None, mask: Mask | None, D: int, H: int, what: str
) -> None:
    """Boundary checks shared by rnn_forward, lstm_forward and gru_forward."""
    if x.ndim != 3 or x.shape[2] != D:
        raise RnnkitError(f"{what}: expected x of shape (B, T, {D}), got {x.shape}")
    B, T, _ = x.shape
    if T < 1:
        raise RnnkitError(f"{what}: expected at least one time step, got x of shape {x.shape}")
    if state0_a is not None and state0_a.shape != (B, H):
        raise RnnkitError(
            f"{what}: expected an initial state of shape (B, H) = ({B}, {H}), got {state0_a.shape}"
        )
    if mask is not None and mask.shape != (B, T):
        raise RnnkitError(f"{what}: expected mask of shape (B, T) = ({B}, {T}), got {mask.shape}")
