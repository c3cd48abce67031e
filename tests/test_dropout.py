"""rnnkit.models.dropout: inverted dropout, checked against its definition and F.dropout's
distribution."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.dropout import dropout


@pytest.mark.parametrize("p", [0.3, 0.5, 0.9])
def test_dropout_keeps_each_element_with_probability_1_minus_p_and_scales_it(p: float) -> None:
    torch.manual_seed(0)
    x = torch.rand(200, 500) + 0.5  # no zeros, so a zero output is a dropped element
    y = dropout(x, p, training=True)
    kept = y != 0
    n = x.numel()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * sigma
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    # the same law as F.dropout's: kept fractions agree within their sampling noise
    reference = (F.dropout(x, p, training=True) != 0).float().mean().item()
    assert abs(kept.float().mean().item() - reference) < 7 * sigma
    # a fresh mask on every call, and elements dropped independently of their neighbours
    assert not torch.equal(kept, dropout(x, p, training=True) != 0)
    both = (kept[:, :-1] & kept[:, 1:]).float().mean().item()
    assert abs(both - (1 - p) ** 2) < 0.01


def test_dropout_gradient_is_the_mask_over_1_minus_p() -> None:
    torch.manual_seed(1)
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(4, 7, 3, dtype=torch.float64)
    y = dropout(x, 0.25, training=True)
    (y * g).sum().backward()
    assert x.grad is not None
    m = (y != 0).to(x.dtype)  # the mask drawn (x has no zeros)
    torch.testing.assert_close(y, x * m / 0.75)
    torch.testing.assert_close(x.grad, g * m / 0.75)


def test_dropout_is_the_identity_in_eval_or_at_p_0_and_zero_at_p_1() -> None:
    x = torch.randn(3, 5, requires_grad=True)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0, training=True) is x
    y = dropout(x, 1.0, training=True)
    assert torch.equal(y, torch.zeros_like(x))
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def test_dropout_keeps_the_dtype_and_follows_the_seed() -> None:
    x = torch.randn(6, 8).to(torch.bfloat16)
    assert dropout(x, 0.5, training=True).dtype == torch.bfloat16
    torch.manual_seed(3)
    a = dropout(x, 0.5, training=True)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.5, training=True))
