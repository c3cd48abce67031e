"""The two kinds of recurrent state, and the few operations the time loop needs on them.

A simple RNN and a GRU carry a<t> alone, an array (B, H). An LSTM carries LSTMState(a, c):
the hidden state a<t> (PyTorch's h, what the layer emits) and the memory cell c<t>.
Gradients with respect to a state have the same type as the state.
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from rnnkit.scratch.params import Array

Mask = npt.NDArray[np.bool_]


class LSTMState(NamedTuple):
    """The LSTM's state: a<t> (B, H), the output, and c<t> (B, H), the memory cell."""

    a: Array  # (B, H)
    c: Array  # (B, H)


State = TypeVar("State", Array, LSTMState)


def hidden(state: State) -> Array:
    """a<t>, the part of the state that the layer emits (and the output layer reads)."""
    return state.a if isinstance(state, LSTMState) else state


def keep_where(real: Mask, new: State, old: State) -> State:
    """`new` on rows where `real` (B, 1) is True, `old` elsewhere: padded steps keep the state."""
    if isinstance(new, LSTMState) and isinstance(old, LSTMState):
        return LSTMState(np.where(real, new.a, old.a), np.where(real, new.c, old.c))
    return np.where(real, new, old)


def add_to_hidden(state: State, da: Array) -> State:
    """state + da on the a<t> part (the gradient arriving from the layer's output)."""
    if isinstance(state, LSTMState):
        return LSTMState(state.a + da, state.c)
    return state + da


def add(s1: State, s2: State) -> State:
    if isinstance(s1, LSTMState) and isinstance(s2, LSTMState):
        return LSTMState(s1.a + s2.a, s1.c + s2.c)
    return s1 + s2


def zeros_like(state: State) -> State:
    if isinstance(state, LSTMState):
        return LSTMState(np.zeros_like(state.a), np.zeros_like(state.c))
    return np.zeros_like(state)
