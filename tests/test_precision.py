"""Mixed precision (TrainConfig.precision): the forward pass of a training step really runs
in bfloat16, the weights, gradients and evaluation stay float32, the step agrees with the
float32 step to bfloat16's accuracy, and a bf16 run learns the task as a float32 run does."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from fit_helpers import (  # noqa: F401  (_one_thread: the autouse fixture)
    CONFIG,
    TRAIN,
    _one_thread,
    dev_batches,
    new_model,
    train_batches,
)

from rnnkit.errors import RnnkitError
from rnnkit.train import TrainConfig, fit
from rnnkit.train.precision import autocast_dtype, native_bf16
from rnnkit.train.step import train_step

CPU = torch.device("cpu")


def test_precision_resolves_and_is_validated() -> None:
    assert autocast_dtype("fp32", CPU) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16
    assert autocast_dtype("auto", CPU) is (torch.bfloat16 if native_bf16(CPU) else None)
    assert autocast_dtype("auto", torch.device("meta")) is None
    with pytest.raises(RnnkitError, match="precision"):
        TrainConfig(precision="fp16")


def _step(precision: str) -> tuple[torch.nn.Module, float, list[torch.dtype]]:
    model = new_model(dropout=0.0)
    seen: list[torch.dtype] = []
    model.head.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = train_step(model, optimizer, TRAIN[0], 0.1, None, None, autocast_dtype(precision, CPU))
    return model, float(out.loss), seen


def test_bf16_step_runs_the_forward_in_bfloat16_and_keeps_float32_weights() -> None:
    m32, loss32, seen32 = _step("fp32")
    m16, loss16, seen16 = _step("bf16")
    assert seen32 == [torch.float32] and seen16 == [torch.bfloat16]
    assert loss16 != loss32 and loss16 == pytest.approx(loss32, rel=2e-2)
    for (name, p32), p16 in zip(m32.named_parameters(), m16.parameters(), strict=True):
        assert p16.dtype == torch.float32 and p16.grad is not None
        assert p16.grad.dtype == torch.float32
        scale = float(p32.grad.abs().max()) + 1e-6  # type: ignore[union-attr]
        err = float((p16.grad - p32.grad).abs().max())  # type: ignore[operator]
        assert err < 0.05 * scale, name


def test_bf16_run_learns_the_task_like_float32() -> None:
    config = replace(CONFIG, epochs=30, lr=0.05, lr_schedule="constant", warmup_steps=0)
    final = {}
    for precision in ("fp32", "bf16"):
        model = new_model(dropout=0.0)
        result = fit(model, train_batches, dev_batches, replace(config, precision=precision))
        first, last = result.history[0]["dev_loss"], result.history[-1]["dev_loss"]
        assert last < 0.25 * first
        final[precision] = last
        assert all(p.dtype == torch.float32 for p in model.parameters())
    assert final["bf16"] == pytest.approx(final["fp32"], rel=0.15)
