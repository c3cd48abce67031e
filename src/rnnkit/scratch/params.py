"""Parameters as small frozen dataclasses of NumPy arrays, and the element-wise functions.

Every parameter set in `rnnkit.scratch` (RNNParams, LSTMParams, GRUParams, OutputParams,
RNNLMParams) is a frozen dataclass whose fields are arrays named after the lecture's symbols
(W_aa, W_ax, b_a, W_ya, b_y). The same class holds the gradients: `grads.W_aa` is dL/dW_aa.
The dataclass is frozen (fields cannot be re-bound) but the arrays are not: optimisers update
them in place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
"""A float array. Tests run in float64 so that numerical gradients are exact to ~1e-9."""

if TYPE_CHECKING:
    from typing_extensions import Self


@dataclass(frozen=True)
class Params:
    """Base of every parameter (and gradient) set: a few named arrays."""

    def arrays(self) -> dict[str, Array]:
        """The arrays by name, in declaration order (the arrays themselves, not copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: Self) -> Self:
        """Element-wise sum, used to accumulate gradients over time steps."""
        theirs = other.arrays()
        return type(self)(**{name: a + theirs[name] for name, a in self.arrays().items()})

    def zeros_like(self) -> Self:
        return type(self)(**{name: np.zeros_like(a) for name, a in self.arrays().items()})

    def copy(self) -> Self:
        return type(self)(**{name: a.copy() for name, a in self.arrays().items()})

    def num_parameters(self) -> int:
        return sum(a.size for a in self.arrays().values())


def sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^-z), written as (1 + tanh(z/2)) / 2, which never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z: Array) -> Array:
    """softmax over the last axis: e^z_i / Σ_j e^z_j (shifted by max z for stability)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def uniform_init(shape: tuple[int, ...], H: int, rng: np.random.Generator) -> Array:
    """U(-1/sqrt(H), 1/sqrt(H)), PyTorch's initialisation of recurrent weights."""
    bound = 1.0 / np.sqrt(H)
    return rng.uniform(-bound, bound, size=shape)
