"""Inverted dropout with a mask drawn from uniform numbers: F.dropout's law, cheaper on the CPU.

    m ~ Bernoulli(1 - p) per element,   y = x * m / (1 - p)   (training; y = x otherwise)

`torch.nn.functional.dropout` draws m with `bernoulli_`, which on the CPU costs about 2.5
uniform draws per element: on the lecture's sentiment batch (128 reviews x ~350 words x 100,
one thread, torch 2.13) it took 40-45 ms of a 90 ms training step, more than the recurrent
layer's forward and backward together (`benchmarks/sentiment_frameworks.py --profile`).
Here m = [u >= p] with u ~ U[0, 1) drawn in float32 whatever x's dtype (so P(m = 1) = 1 - p
to 2^-24), about 17 ms there; compare and scale run in place, and forward plus backward take
about half of F.dropout's time. The law is the same; the masks one seed draws are not (the
random stream is used differently). On other devices F.dropout runs: CUDA fuses its draw and
product into one kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """x (any shape) -> x * m / (1 - p), m ~ Bernoulli(1 - p) per element, when training and
    p > 0; else x itself. p = 1 gives zeros (and zero gradients)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training)
    if p >= 1.0:
        return x * 0.0
    u = torch.rand(x.shape, dtype=torch.float32, device=x.device)  # U[0, 1)
    keep = u.ge_(p).to(x.dtype).mul_(1.0 / (1.0 - p))  # m / (1 - p): 0 or 1 / (1 - p)
    return x * keep
