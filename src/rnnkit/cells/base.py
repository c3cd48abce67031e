"""What a recurrent cell is: a step function with a named state.

Every cell follows one protocol so that one layer (`rnnkit.layers.Recurrent`) can unroll any of
them over time, and so that the same parameters can also be run by PyTorch's fused kernels.

A step is split in two so the layer can hoist the input half out of the time loop:

    step(x_t, state) == recur(project_input(x_t), state)

`project_input` is the part that does not depend on the previous state (W_ax x<t> + b), so the
layer computes it for all T steps with one matrix product; `recur` is the part that must run
step by step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

import torch
from torch import Tensor, nn


class LSTMState(NamedTuple):
    """The LSTM's two-part state: a<t> (PyTorch's h, the output) and the memory cell c<t>."""

    a: Tensor  # (B, H)
    c: Tensor  # (B, H)


State = Tensor | LSTMState
"""A cell's state: a<t> alone (simple RNN, GRU) or LSTMState(a, c). Stacked along a leading
dimension of layers x directions, (L*dirs, B, H), when it is the state of a whole `RNN`."""


S = TypeVar("S")


class RecurrentCell(Protocol[S]):
    """The protocol every cell implements (see the module docstring); S is its state type."""

    input_size: int
    hidden_size: int
    fused_kind: (
        str  # which PyTorch fused kernel runs these parameters: rnn_tanh, rnn_relu, gru, lstm
    )

    def initial_state(self, batch_size: int, like: Tensor) -> S: ...

    def project_input(self, x: Tensor) -> Tensor: ...

    def recur(self, xw_t: Tensor, state: S) -> S: ...

    def step(self, x_t: Tensor, state: S) -> S: ...

    def output(self, state: S) -> Tensor: ...

    def fused_weights(self) -> list[Tensor]: ...


AnyCell = RecurrentCell[Any]


def zero_state(batch_size: int, hidden_size: int, like: Tensor) -> Tensor:
    """a<0> = 0, of shape (B, H), on the device and in the dtype of `like`."""
    return like.new_zeros(batch_size, hidden_size)


def init_recurrent_weights(W_ax: Tensor, W_aa: Tensor, gates: int) -> None:
    """Keras's default initialisation, which trains simple RNNs far better than PyTorch's.

    W_ax: Glorot-uniform over the whole (G*H, D) matrix.
    W_aa: each (H, H) gate block orthogonal, so that repeated multiplication by W_aa neither
          shrinks nor grows a<t> at the start of training (the vanishing/exploding problem).
    """
    fan_out, fan_in = W_ax.shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        W_ax.uniform_(-bound, bound)
        for block in W_aa.chunk(gates, dim=0):
            nn.init.orthogonal_(block)


_FUSED_STEPS: dict[str, Callable[..., Any]] = {
    "rnn_tanh": torch.rnn_tanh_cell,
    "rnn_relu": torch.rnn_relu_cell,
    "gru": torch.gru_cell,
}


def fused_step(cell: AnyCell, x_t: Tensor, state: State) -> State:
    """cell.step(x_t, state) through PyTorch's one-step kernel (torch.gru_cell and its
    siblings) on the cell's own parameters: the same equations, fewer operations. Tests hold
    it equal to `cell.step`."""
    w_ih, w_hh, b_ih, b_hh = cell.fused_weights()
    if isinstance(state, LSTMState):
        a, c = torch.lstm_cell(x_t, (state.a, state.c), w_ih, w_hh, b_ih, b_hh)
        return LSTMState(a, c)
    return _FUSED_STEPS[cell.fused_kind](x_t, state, w_ih, w_hh, b_ih, b_hh)


def map_state(fn: Callable[..., Tensor], *states: State) -> State:
    """Apply `fn` part by part to one or more states of the same kind (Tensor or LSTMState)."""
    if isinstance(states[0], LSTMState):
        return LSTMState(*(fn(*parts) for parts in zip(*states)))
    return fn(*states)


def stack_states(states: Sequence[State]) -> State:
    """[(B, H)] * K -> (K, B, H), part by part."""
    return map_state(lambda *parts: torch.stack(parts), *states)
