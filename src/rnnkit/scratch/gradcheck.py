"""Numerical gradients by central differences, to check every backward pass.

    ∂f/∂θ_i ≈ (f(θ + ε e_i) - f(θ - ε e_i)) / (2ε)

The error is O(ε²) plus rounding of order (machine epsilon · |f|) / ε; in float64 with ε = 1e-6
both are around 1e-10, so a correct backward pass agrees to a relative error far below 1e-6,
and a wrong one (a missing term, a transposed matrix) shows up at 1e-2 or worse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.params import Array, Params

Arrays = Params | Mapping[str, Array]


def numerical_gradient(f: Callable[[], float], array: Array, eps: float = 1e-6) -> Array:
    """df/d(array) by central differences.

    f reads `array` (and whatever else) and returns a scalar; each element is nudged by ±eps in
    place and restored, so f must see the same array object, not a copy.
    """
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, array):
        raise RnnkitError("numerical_gradient needs a contiguous array to nudge in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        f_plus = f()
        flat[i] = saved - eps
        f_minus = f()
        flat[i] = saved
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """|a - n| / (|a| + |n|) with Euclidean norms over the whole array (0 when both are 0).

    Taken over the whole array rather than element by element, so that elements whose true
    gradient is ~0 (a dead relu, a masked step) do not divide rounding noise by rounding noise.
    """
    denom = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return 0.0 if denom == 0.0 else float(np.linalg.norm(analytic - numeric)) / denom


def gradient_errors(
    f: Callable[[], float], inputs: Arrays, analytic: Arrays, eps: float = 1e-6
) -> dict[str, float]:
    """The relative error of each analytic gradient against the numerical one, by name."""
    xs = inputs.arrays() if isinstance(inputs, Params) else dict(inputs)
    gs = analytic.arrays() if isinstance(analytic, Params) else dict(analytic)
    if xs.keys() != gs.keys():
        raise RnnkitError(f"inputs {sorted(xs)} and gradients {sorted(gs)} name different arrays")
    return {name: relative_error(gs[name], numerical_gradient(f, xs[name], eps)) for name in xs}


def gradient_check(
    f: Callable[[], float], inputs: Arrays, analytic: Arrays, eps: float = 1e-6
) -> float:
    """The largest relative error over all arrays (see `relative_error`).

    f() computes the loss from `inputs` (a parameter dataclass or a dict of arrays, read in
    place); `analytic` holds the backward pass's gradients under the same names.
    """
    return max(gradient_errors(f, inputs, analytic, eps).values())
