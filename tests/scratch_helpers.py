"""One interface over the NumPy cells of rnnkit.scratch, shared by the scratch tests, so
that every test runs on each cell."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.scratch import (
    Array,
    GRUParams,
    LSTMParams,
    LSTMState,
    Params,
    RNNParams,
    gru_backward,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
)
from rnnkit.scratch.state import Mask

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
TOL = 1e-6  # relative error against numerical gradients, float64
B, T, D, H = 3, 5, 4, 5

# ---------------------------------------------------------------------------------------------
# One interface over the three cells, so that every test runs on each of them
# ---------------------------------------------------------------------------------------------

State = Any  # Array (simple RNN, GRU) or LSTMState


def make_params(kind: str, rng: np.random.Generator) -> Params:
    if kind.startswith("rnn"):
        return RNNParams(*(rng.normal(0, 0.5, s) for s in [(H, H), (H, D), (H,)]))
    if kind == "lstm":
        return LSTMParams(*(rng.normal(0, 0.5, s) for s in [(4 * H, H), (4 * H, D), (4 * H,)]))
    return GRUParams(*(rng.normal(0, 0.5, s) for s in [(3 * H, H), (3 * H, D), (3 * H,), (3 * H,)]))


def make_state(kind: str, rng: np.random.Generator, batch: int = B) -> State:
    a = rng.normal(0, 0.5, (batch, H))
    return LSTMState(a, rng.normal(0, 0.5, (batch, H))) if kind == "lstm" else a


def state_arrays(kind: str, state: State, prefix: str) -> dict[str, Array]:
    if kind == "lstm":
        return {f"{prefix}a": state.a, f"{prefix}c": state.c}
    return {f"{prefix}a": state}


def cell_forward(kind: str, x_t: Array, state: State, p: Params) -> tuple[State, Any]:
    if kind.startswith("rnn"):
        return rnn_cell_forward(x_t, state, p, kind[4:])  # type: ignore[arg-type]
    if kind == "lstm":
        return lstm_cell_forward(x_t, state, p)  # type: ignore[arg-type]
    return gru_cell_forward(x_t, state, p)  # type: ignore[arg-type]


def cell_backward(kind: str, d_state: State, cache: Any) -> tuple[Array, State, Params]:
    backward = {"lstm": lstm_cell_backward, "gru": gru_cell_backward}.get(kind, rnn_cell_backward)
    return backward(d_state, cache)  # type: ignore[operator]


def seq_forward(
    kind: str, x: Array, state0: State, p: Params, mask: Mask | None
) -> tuple[Array, Any]:
    if kind.startswith("rnn"):
        return rnn_forward(x, state0, p, mask, kind[4:])  # type: ignore[arg-type]
    if kind == "lstm":
        return lstm_forward(x, state0, p, mask)  # type: ignore[arg-type]
    return gru_forward(x, state0, p, mask)  # type: ignore[arg-type]


def seq_backward(
    kind: str, d_states: Array, caches: Any, d_final: State
) -> tuple[Array, State, Params]:
    backward = {"lstm": lstm_backward, "gru": gru_backward}.get(kind, rnn_backward)
    return backward(d_states, caches, d_final)  # type: ignore[operator]


def random_mask(rng: np.random.Generator, batch: int = B, steps: int = T) -> Mask:
    """Padding at the end AND holes in the middle; every row keeps at least one real step."""
    mask = rng.random((batch, steps)) < 0.6
    mask[:, 0] = True
    mask[0, -2:] = False  # trailing padding on row 0
    mask[1, 1:3] = [False, True]  # a hole on row 1
    return mask


def weighted_sum(kind: str, state: State, R: State) -> float:
    """A random scalar function of a state: Σ R * state (both parts for an LSTM)."""
    if kind == "lstm":
        return float((R.a * state.a).sum() + (R.c * state.c).sum())
    return float((R * state).sum())
