"""Attention: at each output step t, a weighted average of the encoder's states a<t'>.

In the lecture's notation, with s the decoder's state at output step t and a<t'> the
encoder's output at source step t' (both directions concatenated):

    e<t,t'>     = score(s, a<t'>)                        (B, T_x)
    alpha<t,t'> = exp(e<t,t'>) / sum_t'' exp(e<t,t''>)   softmax over the real source steps
    c<t>        = sum_t' alpha<t,t'> a<t'>               (B, H_enc)

Two scores, two classes:

    AdditiveAttention (Bahdanau):           e<t,t'> = v^T tanh(W_s s + W_h a<t'>)
    GeneralAttention (Luong, multiplicative): e<t,t'> = s^T W a<t'>

Padded source steps (mask False) get e = -inf before the softmax, so their weight is exactly
0 and the weights of each row sum to 1 over its real steps. Every row needs at least one real
step (sequence lengths are >= 1 everywhere in rnnkit).

The part of the score that depends only on the source (W_h a<t'>, or W a<t'>) is the same at
every output step: `keys(a)` computes it once per source, and `forward` takes it back so a
decoder does not recompute it T_y times.

Shapes: s (B, H_dec), a (B, T_x, H_enc), mask (B, T_x) bool -> c (B, H_enc), alpha (B, T_x).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _glorot(weight: Tensor) -> None:
    fan_out, fan_in = weight.shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound)


class Attention(nn.Module):
    """What both scores share: the mask, the softmax and the weighted average."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.query_size = query_size  # H_dec, the size of s
        self.key_size = key_size  # H_enc, the size of a<t'>

    def keys(self, a: Tensor) -> Tensor:
        """The source-only part of the score, computed once per source: (B, T_x, H_enc) ->
        (B, T_x, K)."""
        raise NotImplementedError

    def score(self, s: Tensor, keys: Tensor) -> Tensor:
        """e<t,t'> for every t': s (B, H_dec), keys (B, T_x, K) -> (B, T_x)."""
        raise NotImplementedError

    def forward(
        self, s: Tensor, a: Tensor, mask: Tensor, keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(c<t> (B, H_enc), alpha<t,.> (B, T_x)); `keys` = self.keys(a) when precomputed."""
        e = self.score(s, self.keys(a) if keys is None else keys)  # (B, T_x)
        e = e.masked_fill(~mask, float("-inf"))  # padded steps: weight exactly 0
        alpha = torch.softmax(e, dim=-1)  # (B, T_x)
        c = torch.bmm(alpha[:, None, :], a).squeeze(1)  # (B, H_enc)
        return c, alpha


class AdditiveAttention(Attention):
    """Bahdanau's score, a one-hidden-layer network: e<t,t'> = v^T tanh(W_s s + W_h a<t'>).

    Parameters: W_s (A, H_dec), W_h (A, H_enc), v (A,), no bias (A = attention_size), so
    A * (H_dec + H_enc + 1) in all. keys(a) = W_h a<t'>, (B, T_x, A).
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__(query_size, key_size)
        self.attention_size = attention_size
        self.W_s = nn.Parameter(torch.empty(attention_size, query_size))
        self.W_h = nn.Parameter(torch.empty(attention_size, key_size))
        self.v = nn.Parameter(torch.empty(attention_size))
        _glorot(self.W_s)
        _glorot(self.W_h)
        bound = math.sqrt(3.0 / attention_size)
        nn.init.uniform_(self.v, -bound, bound)

    def keys(self, a: Tensor) -> Tensor:
        return a @ self.W_h.T  # (B, T_x, A)

    def score(self, s: Tensor, keys: Tensor) -> Tensor:
        query = s @ self.W_s.T  # (B, A)
        return torch.tanh(query[:, None, :] + keys) @ self.v  # (B, T_x)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, attention_size={self.attention_size}"


class GeneralAttention(Attention):
    """Luong's "general" (multiplicative) score: e<t,t'> = s^T W a<t'>.

    Parameters: W (H_dec, H_enc), no bias. keys(a) = W a<t'>, (B, T_x, H_dec), so the score at
    each step is one batched dot product with s.
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__(query_size, key_size)
        self.W = nn.Parameter(torch.empty(query_size, key_size))
        _glorot(self.W)

    def keys(self, a: Tensor) -> Tensor:
        return a @ self.W.T  # (B, T_x, H_dec)

    def score(self, s: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, s[:, :, None]).squeeze(-1)  # (B, T_x)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}"
