"""The lecture's RNN language model, forward and backward, with every gradient.

    x<t>  = one_hot(id<t>)                               (B, V)
    a<t>  = g(a<t-1> W_aa^T + x<t> W_ax^T + b_a)          (B, H)
    ŷ<t>  = softmax(a<t> W_ya^T + b_y)                    (B, V)
    L     = (1/N) Σ_t -log ŷ<t>[y<t>]                     summed over the real steps, / N

At training time y<t> = id<t+1>: the model reads a character or word and predicts the next.
x<t> W_ax^T with a one-hot x<t> is just column id<t> of W_ax (an embedding lookup); it is
written as the product here to stay with the lecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.loss import IntArray, softmax_cross_entropy
from rnnkit.scratch.output import OutputParams, output_backward, output_logits
from rnnkit.scratch.params import Array, Params
from rnnkit.scratch.rnn import Activation, RNNCache, RNNParams, rnn_backward, rnn_forward
from rnnkit.scratch.state import Mask
from rnnkit.scratch.unroll import SequenceCache


@dataclass(frozen=True)
class RNNLMParams(Params):
    """W_aa (H, H), W_ax (H, V), b_a (H,), W_ya (V, H), b_y (V,). Also their gradients."""

    W_aa: Array  # (H, H)
    W_ax: Array  # (H, V)
    b_a: Array  # (H,)
    W_ya: Array  # (V, H)
    b_y: Array  # (V,)

    @property
    def rnn(self) -> RNNParams:
        """The recurrent part (the same arrays, not copies)."""
        return RNNParams(self.W_aa, self.W_ax, self.b_a)

    @property
    def output(self) -> OutputParams:
        """The output layer (the same arrays, not copies)."""
        return OutputParams(self.W_ya, self.b_y)

    @property
    def V(self) -> int:
        return int(self.W_ya.shape[0])

    @property
    def H(self) -> int:
        return int(self.W_aa.shape[0])

    @classmethod
    def init(cls, V: int, H: int, rng: np.random.Generator, scale: float = 0.01) -> RNNLMParams:
        """Weights ~ N(0, scale^2), biases 0: min-char-rnn's initialisation."""
        return cls(
            rng.standard_normal((H, H)) * scale,
            rng.standard_normal((H, V)) * scale,
            np.zeros(H),
            rng.standard_normal((V, H)) * scale,
            np.zeros(V),
        )


def one_hot(ids: IntArray, V: int) -> Array:
    """ids (...) -> (..., V) with a single 1 at each id."""
    return np.eye(V)[ids]


@dataclass(frozen=True)
class LMCache:
    x: Array  # (B, T, V)  one-hot inputs
    states: Array  # (B, T, H)
    dlogits: Array  # (B, T, V)  dL/dlogits, already divided by N
    rnn: SequenceCache[Array, RNNCache]
    params: RNNLMParams


class LMForward(NamedTuple):
    loss: float  # mean over real steps
    logits: Array  # (B, T, V)
    states: Array  # (B, T, H)
    final: Array  # (B, H) the last real state: the a0 of the next window in truncated BPTT
    cache: LMCache


def lm_forward(
    inputs: IntArray,
    targets: IntArray,
    params: RNNLMParams,
    a0: Array | None = None,
    mask: Mask | None = None,
    activation: Activation = "tanh",
) -> LMForward:
    """inputs, targets (B, T) ids in [0, V); mask (B, T) True on real steps (None: all)."""
    if inputs.ndim != 2 or inputs.shape != targets.shape:
        raise RnnkitError(
            f"expected inputs and targets of the same shape (B, T), got {inputs.shape} "
            f"and {targets.shape}"
        )
    if inputs.size and (inputs.min() < 0 or inputs.max() >= params.V):
        raise RnnkitError(f"input ids must lie in [0, V) = [0, {params.V})")
    x = one_hot(inputs, params.V)  # (B, T, V)
    states, rnn_cache = rnn_forward(x, a0, params.rnn, mask, activation)  # (B, T, H)
    logits = output_logits(states, params.output)  # (B, T, V)
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    cache = LMCache(x, states, dlogits, rnn_cache, params)
    return LMForward(loss, logits, states, rnn_cache.final, cache)


def lm_backward(cache: LMCache) -> tuple[RNNLMParams, Array]:
    """Gradients of the loss of `lm_forward` for every parameter, and dL/da0 (B, H)."""
    d_states, d_out = output_backward(cache.dlogits, cache.states, cache.params.output)  # (B, T, H)
    _, da0, d_rnn = rnn_backward(d_states, cache.rnn)
    grads = RNNLMParams(d_rnn.W_aa, d_rnn.W_ax, d_rnn.b_a, d_out.W_ya, d_out.b_y)
    return grads, da0
