"""Per-step cross-entropy, summed over time, with its gradient.

Normalisation (the same everywhere in rnnkit): the per-step losses are SUMMED over every real
(unpadded) time step of every sequence in the batch and DIVIDED by N, the number of real steps.
So the loss is the mean loss per real step, and a padded step contributes nothing, to the loss
or to the gradient. (min-char-rnn reports the plain sum over its 25 steps; multiply by N to
compare.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rnnkit.errors import RnnkitError
from rnnkit.scratch.params import Array, sigmoid, softmax
from rnnkit.scratch.state import Mask

IntArray = npt.NDArray[np.int64]


def _real_steps(shape: tuple[int, ...], mask: Mask | None) -> Mask:
    if mask is None:
        return np.ones(shape, dtype=bool)
    if mask.shape != shape:
        raise RnnkitError(f"expected mask of shape {shape}, got {mask.shape}")
    return mask.astype(bool)


def softmax_cross_entropy(
    logits: Array, targets: IntArray, mask: Mask | None = None
) -> tuple[float, Array]:
    """L = (1/N) Σ_{real steps} -log ŷ<t>[y<t>],   ŷ<t> = softmax(logits<t>).

    logits (..., C), e.g. (B, T, C); targets (...) integer classes (ignored on padded steps);
    mask (...) True on real steps (None: all real). N = number of real steps.
    Returns (L, dL/dlogits) with dL/dlogits = (ŷ - one_hot(y)) * m / N.
    """
    if logits.shape[:-1] != targets.shape:
        raise RnnkitError(
            f"expected targets of shape {logits.shape[:-1]} (logits without the class axis), "
            f"got {targets.shape}"
        )
    C = logits.shape[-1]
    real = _real_steps(targets.shape, mask)  # (...)
    y = np.where(real, targets, 0)  # padded targets may hold anything (e.g. -100)
    if np.any((y < 0) | (y >= C)):
        raise RnnkitError(f"targets must be class ids in [0, {C}), got values outside that range")
    N = max(int(real.sum()), 1)
    y_hat = softmax(logits)  # (..., C)
    p_target = np.take_along_axis(y_hat, y[..., None], axis=-1)[..., 0]  # (...)
    loss = float(-np.log(p_target)[real].sum() / N)
    dlogits = y_hat.copy()
    np.put_along_axis(dlogits, y[..., None], p_target[..., None] - 1.0, axis=-1)  # ŷ - one_hot(y)
    dlogits *= real[..., None] / N
    return loss, dlogits


def sigmoid_cross_entropy(
    logits: Array, targets: Array, mask: Mask | None = None
) -> tuple[float, Array]:
    """Binary outputs: L = (1/N) Σ_{real steps} Σ_c -[y log ŷ + (1 - y) log(1 - ŷ)], ŷ = σ(logits).

    logits and targets (0/1, or probabilities) have the same shape, e.g. (B, T, C) or (B, T);
    mask covers the leading axes, e.g. (B, T), True on real steps; N = number of real steps.
    Returns (L, dL/dlogits) with dL/dlogits = (ŷ - y) * m / N.
    """
    if logits.shape != targets.shape:
        raise RnnkitError(f"expected targets of shape {logits.shape}, got {targets.shape}")
    real = _real_steps(logits.shape[: logits.ndim if mask is None else mask.ndim], mask)
    m = real.reshape(real.shape + (1,) * (logits.ndim - real.ndim))  # broadcast over trailing axes
    N = max(int(real.sum()), 1)
    # -[y log σ(l) + (1 - y) log(1 - σ(l))] = softplus(l) - y l, written to never overflow
    per_output = np.logaddexp(0.0, logits) - targets * logits
    loss = float((per_output * m).sum() / N)
    dlogits = (sigmoid(logits) - targets) * m / N
    return loss, dlogits
