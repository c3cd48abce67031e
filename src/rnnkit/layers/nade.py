"""NADE: the notes of one frame modelled jointly, each key given the keys before it.

A piano-roll frame y (D keys, 0/1) is not D independent coin flips: the notes of a chord
depend on each other. The neural autoregressive distribution estimator (Larochelle and Murray
2011), conditioned on the RNN's state as in the RNN-NADE of Boulanger-Lewandowski et al.
(2012), writes the frame's probability with the chain rule over keys,
P(y) = prod_k P(y_k | y_<k), and gives every conditional a hidden layer of its own that
shares its weights with the others:

    h_k = σ(W_ca a + b_c + sum_{j<k} W_j y_j)        (N_h,)  what the keys before k say
    z_k += U_k · h_k                                   the key's logit gains this term

W (N_h, D) and U (D, N_h) are shared by every k, so the D hidden layers cost one running sum
over keys, not D separate layers. The hidden layer's bias c(a) = W_ca a + b_c depends on the
RNN state a<t>, so the frame distribution changes from step to step.

`NadeLayer.forward` computes every z_k of a known frame in one pass (a cumulative sum over
keys, for training and for the likelihood); `NadeLayer.readable` is the same thing one key at
a time, as written above (the test that they agree is the proof of the fast form);
`start`/`advance` carry the running sum while a frame is sampled key by key.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class NadeLayer(nn.Module):
    """The hidden-layer term of the within-frame logits: c(a) (..., N_h), y (..., D) -> (..., D).

    Parameters: W_ca (N_h, H), b_c (N_h,), W (N_h, D) key j -> hidden, U (D, N_h) hidden -> key
    k. Keys are taken in index order (0 first); a caller that wants another order permutes y
    and the result.
    """

    def __init__(self, in_features: int, keys: int, hidden: int):
        super().__init__()
        self.keys = keys
        self.hidden = hidden
        self.W_ca = nn.Parameter(torch.empty(hidden, in_features))
        self.b_c = nn.Parameter(torch.zeros(hidden))
        self.W = nn.Parameter(torch.empty(hidden, keys))
        self.U = nn.Parameter(torch.empty(keys, hidden))
        bound = math.sqrt(6.0 / (in_features + hidden))  # Glorot-uniform, as Dense
        nn.init.uniform_(self.W_ca, -bound, bound)
        # Small key weights: at the start each key's hidden layer is nearly the same, c(a).
        nn.init.normal_(self.W, std=0.01)
        nn.init.normal_(self.U, std=0.01)

    def start(self, a: Tensor) -> Tensor:
        """c(a) = W_ca a + b_c: the hidden pre-activation before any key is known, (..., N_h)."""
        return F.linear(a, self.W_ca, self.b_c)

    def term(self, pre: Tensor, k: int) -> Tensor:
        """U_k · σ(pre): key k's logit term from its hidden pre-activation. (...,)"""
        return torch.sigmoid(pre) @ self.U[k]

    def advance(self, pre: Tensor, k: int, y_k: Tensor) -> Tensor:
        """The pre-activation for key k + 1 once y_k is known: pre + W_k y_k. (..., N_h)"""
        return pre + self.W[:, k] * y_k.unsqueeze(-1)

    def forward(self, c: Tensor, y: Tensor) -> Tensor:
        """Every key's term in one pass, from c = `start(a)` (..., N_h) and y (..., D): (..., D)."""
        contributions = y.unsqueeze(-1) * self.W.T  # (..., D, N_h): W_j y_j
        before = torch.cumsum(contributions, dim=-2) - contributions  # sum over j < k only
        h = torch.sigmoid(c.unsqueeze(-2) + before)  # (..., D, N_h)
        return (h * self.U).sum(-1)  # (..., D)

    def readable(self, c: Tensor, y: Tensor) -> Tensor:
        """The same terms, one key at a time, as the equations read. c (..., N_h), y (..., D)."""
        pre = c  # (..., N_h)
        terms = []
        for k in range(self.keys):
            terms.append(self.term(pre, k))
            pre = self.advance(pre, k, y[..., k])
        return torch.stack(terms, dim=-1)  # (..., D)

    def extra_repr(self) -> str:
        return f"in={self.W_ca.shape[1]}, keys={self.keys}, hidden={self.hidden}"
