"""The output layer: ŷ<t> = softmax(a<t> W_ya^T + b_y), or a sigmoid for a binary output.

Shapes: a<t> (B, H) or a whole sequence (B, T, H); W_ya (C, H), b_y (C,); logits (..., C).
The layer is applied at every step with the same W_ya, so its gradient is summed over steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.scratch.params import Array, Params, uniform_init


@dataclass(frozen=True)
class OutputParams(Params):
    """W_ya (C, H), b_y (C,). Also used for their gradients."""

    W_ya: Array  # (C, H)
    b_y: Array  # (C,)

    @classmethod
    def init(cls, H: int, C: int, rng: np.random.Generator) -> OutputParams:
        """~ U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.Linear(H, C) initialises itself."""
        return cls(uniform_init((C, H), H, rng), uniform_init((C,), H, rng))


def output_logits(a: Array, params: OutputParams) -> Array:
    """a<t> W_ya^T + b_y: a (..., H) -> logits (..., C), before the softmax or sigmoid."""
    return a @ params.W_ya.T + params.b_y  # (..., C)


def output_backward(dlogits: Array, a: Array, params: OutputParams) -> tuple[Array, OutputParams]:
    """dlogits (..., C) = dL/d(logits) -> dL/da (..., H) and the gradients, summed over (...)."""
    H, C = params.W_ya.shape[1], params.W_ya.shape[0]
    d2 = dlogits.reshape(-1, C)  # (N, C): every (b, t) is a row
    a2 = a.reshape(-1, H)  # (N, H)
    dW_ya = d2.T @ a2  # (C, H)
    db_y = d2.sum(axis=0)  # (C,)
    da = dlogits @ params.W_ya  # (..., H)
    return da, OutputParams(dW_ya, db_y)
