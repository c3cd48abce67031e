"""Attention: weights over real source steps only, and the scores of the two equations."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.batch import mask_from_lengths
from rnnkit.layers import AdditiveAttention, Attention, GeneralAttention

H_DEC, H_ENC = 3, 4


def make(kind: str) -> Attention:
    torch.manual_seed(0)
    if kind == "additive":
        return AdditiveAttention(H_DEC, H_ENC, attention_size=5).double()
    return GeneralAttention(H_DEC, H_ENC).double()


@pytest.mark.parametrize("kind", ["additive", "general"])
def test_weights_sum_to_one_over_real_steps_and_are_zero_on_padding(kind: str) -> None:
    attention = make(kind)
    lengths = torch.tensor([5, 2, 1])
    mask = mask_from_lengths(lengths, 5)  # (3, 5)
    s = torch.randn(3, H_DEC, dtype=torch.float64)
    a = torch.randn(3, 5, H_ENC, dtype=torch.float64)
    a = a.masked_fill(~mask[..., None], 1e6)  # padding holds garbage
    c, alpha = attention(s, a, mask)
    assert alpha.shape == (3, 5) and c.shape == (3, H_ENC)
    assert torch.all(alpha[~mask] == 0)  # exactly zero, not merely small
    torch.testing.assert_close(alpha.sum(-1), torch.ones(3, dtype=torch.float64))
    assert torch.all(alpha[mask] > 0)
    assert torch.all(c.abs() < 1e3)  # the garbage never reaches the context
    torch.testing.assert_close(c[2], a[2, 0])  # one real step: weight 1 on it


@pytest.mark.parametrize("kind", ["additive", "general"])
def test_padding_does_not_change_the_result(kind: str) -> None:
    attention = make(kind)
    s = torch.randn(1, H_DEC, dtype=torch.float64)
    a = torch.randn(1, 3, H_ENC, dtype=torch.float64)
    c, alpha = attention(s, a, torch.ones(1, 3, dtype=torch.bool))
    padded = torch.cat([a, torch.randn(1, 4, H_ENC, dtype=torch.float64)], dim=1)
    c_pad, alpha_pad = attention(s, padded, mask_from_lengths(torch.tensor([3]), 7))
    torch.testing.assert_close(c_pad, c)
    torch.testing.assert_close(alpha_pad[:, :3], alpha)


def hand_attention(scores: list[float], a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """alpha = softmax(e), c = sum_t' alpha<t'> a<t'>, written out for one source."""
    exps = [torch.exp(torch.tensor(e, dtype=torch.float64)) for e in scores]
    total = sum(exps)
    alpha = torch.stack([x / total for x in exps])
    c = sum(alpha[j] * a[j] for j in range(len(scores)))
    return c, alpha  # type: ignore[return-value]


def test_additive_against_hand_computation() -> None:
    attention = make("additive")
    assert isinstance(attention, AdditiveAttention)
    s = torch.randn(H_DEC, dtype=torch.float64)
    a = torch.randn(3, H_ENC, dtype=torch.float64)
    W_s, W_h, v = attention.W_s.detach(), attention.W_h.detach(), attention.v.detach()
    scores = [float(v @ torch.tanh(W_s @ s + W_h @ a[j])) for j in range(3)]
    want_c, want_alpha = hand_attention(scores, a)
    c, alpha = attention(s[None], a[None], torch.ones(1, 3, dtype=torch.bool))
    torch.testing.assert_close(alpha[0], want_alpha)
    torch.testing.assert_close(c[0], want_c)


def test_general_against_hand_computation() -> None:
    attention = make("general")
    assert isinstance(attention, GeneralAttention)
    s = torch.randn(H_DEC, dtype=torch.float64)
    a = torch.randn(3, H_ENC, dtype=torch.float64)
    W = attention.W.detach()
    scores = [float(s @ W @ a[j]) for j in range(3)]
    want_c, want_alpha = hand_attention(scores, a)
    c, alpha = attention(s[None], a[None], torch.ones(1, 3, dtype=torch.bool))
    torch.testing.assert_close(alpha[0], want_alpha)
    torch.testing.assert_close(c[0], want_c)


def test_precomputed_keys_give_the_same_result() -> None:
    attention = make("additive")
    s = torch.randn(2, H_DEC, dtype=torch.float64)
    a = torch.randn(2, 4, H_ENC, dtype=torch.float64)
    mask = mask_from_lengths(torch.tensor([4, 3]), 4)
    c, alpha = attention(s, a, mask)
    c_keys, alpha_keys = attention(s, a, mask, attention.keys(a))
    torch.testing.assert_close(c_keys, c)
    torch.testing.assert_close(alpha_keys, alpha)


def test_parameter_counts() -> None:
    assert sum(p.numel() for p in AdditiveAttention(3, 4, 5).parameters()) == 5 * (3 + 4 + 1)
    assert sum(p.numel() for p in GeneralAttention(3, 4).parameters()) == 3 * 4
