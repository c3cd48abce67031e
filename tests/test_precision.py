"""Mixed precision (TrainConfig.precision): the forward pass of a training step really runs
in bfloat16, the weights, gradients and evaluation stay float32, the step agrees with the
float32 step to bfloat16's accuracy, and a bf16 run learns the task as a float32 run does.
fp16's loss scaling: the gradient reaches clipping and the optimiser unscaled, an overflowing
step is skipped (weights and weight average untouched, scale halved), the scaler's state
survives a resume, and an fp16 run learns like float32. fp16 is a CUDA option; here the CPU's
float16 autocast (which runs the tiny GRU) stands in for the GPU's behind a lifted check."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

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
from rnnkit.train.averaging import WeightAverage
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.precision import autocast_dtype, grad_scaler, native_bf16
from rnnkit.train.step import train_step

CPU = torch.device("cpu")


def test_precision_resolves_and_is_validated() -> None:
    assert autocast_dtype("fp32", CPU) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16
    assert autocast_dtype("auto", CPU) is (torch.bfloat16 if native_bf16(CPU) else None)
    assert autocast_dtype("auto", torch.device("meta")) is None
    assert autocast_dtype("fp16", CPU) is torch.float16
    assert grad_scaler("bf16", CPU) is None and grad_scaler("fp16", CPU) is not None
    with pytest.raises(RnnkitError, match="precision"):
        TrainConfig(precision="fp8")


def test_fp16_is_refused_off_a_gpu_with_the_option_to_use() -> None:
    with pytest.raises(RnnkitError, match="fp16 needs a CUDA GPU.*bf16"):
        fit(new_model(), train_batches, None, replace(CONFIG, precision="fp16", device="cpu"))


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


def _fp16_step(
    init_scale: float, average: bool = False
) -> tuple[torch.nn.Module, torch.amp.GradScaler, WeightAverage | None, float]:
    model = new_model(dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    ema = WeightAverage(model, 0.9) if average else None
    out = train_step(model, optimizer, TRAIN[0], 0.1, 1e9, ema, torch.float16, scaler)
    return model, scaler, ema, float(out.grad_norm)


def test_fp16_step_unscales_the_gradient_before_clipping_and_the_update() -> None:
    m32, _, _ = _step("fp32")
    m16, scaler, _, norm = _fp16_step(init_scale=1024.0)
    assert scaler.get_scale() == 1024.0  # a clean step keeps the scale
    for (name, p32), p16 in zip(m32.named_parameters(), m16.parameters(), strict=True):
        assert p16.dtype == torch.float32
        # the update is lr * the unscaled gradient: a scaled one would move 1024 times as far
        assert torch.allclose(p16, p32, atol=2e-3, rtol=0), name
        g32, g16 = p32.grad, p16.grad
        assert g32 is not None and g16 is not None
        assert float((g16 - g32).abs().max()) < 0.02 * (float(g32.abs().max()) + 1e-6), name
    assert 0 < norm < 100  # measured unscaled


def test_fp16_step_that_overflows_is_skipped_with_the_weight_average() -> None:
    before = new_model(dropout=0.0)
    model, scaler, ema, norm = _fp16_step(init_scale=2.0**60, average=True)  # S * loss = inf
    assert not math.isfinite(norm)
    assert scaler.get_scale() == 2.0**59  # halved
    for p0, p in zip(before.parameters(), model.parameters(), strict=True):
        assert torch.equal(p0, p)  # no update
    assert ema is not None and ema.updates == 0
    _, _, ema_ok, _ = _fp16_step(init_scale=1024.0, average=True)
    assert ema_ok is not None and ema_ok.updates == 1


def test_fp16_run_learns_like_float32_and_resumes_its_scaler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sys.modules["rnnkit.train.fit"]  # (the package's `fit` shadows the module's name)
    monkeypatch.setattr(engine, "check_precision", lambda precision, device: None)
    config = replace(CONFIG, epochs=30, lr=0.05, lr_schedule="constant", warmup_steps=0)
    reference = fit(new_model(dropout=0.0), train_batches, dev_batches, config)
    fp16 = replace(config, precision="fp16", device="cpu")
    result = fit(new_model(dropout=0.0), train_batches, dev_batches, fp16, out_dir=tmp_path)
    first, last = result.history[0]["dev_loss"], result.history[-1]["dev_loss"]
    assert last < 0.25 * first
    assert last == pytest.approx(reference.history[-1]["dev_loss"], rel=0.15)
    saved = load_checkpoint(tmp_path / "last").meta.train_state["grad_scaler"]
    assert saved["scale"] == 65536.0 and saved["_growth_tracker"] == 30 * len(TRAIN)
    more = fit(
        new_model(dropout=0.0),
        train_batches,
        dev_batches,
        replace(fp16, epochs=31),
        out_dir=tmp_path,
        resume=True,
    )
    assert more.epochs_completed == 31
    resumed = load_checkpoint(tmp_path / "last").meta.train_state["grad_scaler"]
    assert resumed["_growth_tracker"] == 31 * len(TRAIN)  # continued, not restarted at 0
