"""The optimiser: Adam and AdamW run PyTorch's fused kernel, which takes the same steps as its
per-parameter loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.train.config import TrainConfig
from rnnkit.train.optim import make_optimizer


def _trained(optimizer_name: str, fused: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    config = TrainConfig(optimizer=optimizer_name, lr=0.01, weight_decay=0.01)
    optimizer = make_optimizer(model, config)
    assert optimizer.defaults["fused"] is True
    if not fused:  # the same optimiser on PyTorch's per-parameter loop
        kind = type(optimizer)
        optimizer = kind(model.parameters(), lr=0.01, weight_decay=0.01, foreach=False)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for _ in range(20):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_the_fused_kernel_takes_the_same_steps_as_the_loop(name: str) -> None:
    for fused, loop in zip(_trained(name, True), _trained(name, False), strict=True):
        torch.testing.assert_close(fused, loop, rtol=1e-5, atol=1e-6)
