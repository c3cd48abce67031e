"""The weight average of the fit loop (TrainConfig.ema_decay): its formula, evaluation and
checkpoints with it, and exact resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fit_helpers import (  # noqa: F401  (_one_thread: the autouse fixture)
    CONFIG,
    DEV,
    TIMING,
    TRAIN,
    C,
    InterruptAt,
    Tagger,
    V,
    _one_thread,
    _same_weights,
    _untimed,
    dev_batches,
    make_batches,
    new_model,
    train_batches,
)
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.train import (
    TrainConfig,
    WeightAverage,
    evaluate_loss,
    fit,
    load_checkpoint,
    load_model_weights,
)

# --- the weight average (TrainConfig.ema_decay) --------------------------------------------


def test_weight_average_follows_its_formula() -> None:
    model = nn.Linear(3, 2)
    avg = WeightAverage(model, decay=0.9)
    expected = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(5)
    for n in range(30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        d = min(0.9, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, model.parameters())]
        avg.update()
    live = [p.detach().clone() for p in model.parameters()]
    with avg.applied():
        for p, e in zip(model.parameters(), expected):
            torch.testing.assert_close(p.detach(), e)
    for p, w in zip(model.parameters(), live):  # swapped back exactly
        assert torch.equal(p.detach(), w)


def test_training_with_a_weight_average_evaluates_and_keeps_the_average(tmp_path: Path) -> None:
    config = replace(CONFIG, ema_decay=0.8, lr_schedule="constant")
    model = new_model()
    result = fit(model, train_batches, dev_batches, config, out_dir=tmp_path, task="toy")
    last = load_checkpoint(tmp_path / "last")
    assert last.average_state is not None and last.average_state["updates"] == 24
    averaged = last.average_state["average"]
    # the raw weights are in `last`, the average differs from them
    raw = new_model()
    raw.load_state_dict(last.model_state)
    assert any(not torch.equal(averaged[k], last.model_state[k]) for k in averaged)
    # the dev metric of every epoch is the average's: re-evaluating the saved average agrees
    assert result.best_epoch is not None
    best = new_model()
    load_model_weights(best, tmp_path / "best")
    best.eval()
    with torch.no_grad():
        dev = evaluate_loss(best, dev_batches())
    assert dev["loss"] == pytest.approx(result.best_metric, rel=1e-6)
    raw.eval()
    with torch.no_grad():
        assert evaluate_loss(raw, dev_batches())["loss"] != pytest.approx(dev["loss"], rel=1e-6)
    # the model returned holds the best average
    assert _same_weights(model, best)


def test_resume_with_a_weight_average_equals_the_straight_run(tmp_path: Path) -> None:
    config = replace(CONFIG, ema_decay=0.8)
    straight = new_model()
    a = fit(straight, train_batches, dev_batches, config, out_dir=tmp_path / "a", task="toy")
    first = new_model()
    with pytest.raises(KeyboardInterrupt):
        fit(
            first,
            InterruptAt(epoch=2, index=1),
            dev_batches,
            config,
            out_dir=tmp_path / "b",
            task="toy",
        )
    resumed = Tagger(dropout=0.3)
    b = fit(
        resumed, train_batches, dev_batches, config, out_dir=tmp_path / "b", task="toy", resume=True
    )
    assert _untimed(a.history) == _untimed(b.history)
    assert _same_weights(straight, resumed)
    sa = load_checkpoint(tmp_path / "a" / "last").average_state
    sb = load_checkpoint(tmp_path / "b" / "last").average_state
    assert sa is not None and sb is not None and sa["updates"] == sb["updates"]
    for k, v in sa["average"].items():
        assert torch.equal(v, sb["average"][k])


def test_ema_decay_is_validated() -> None:
    with pytest.raises(RnnkitError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)
