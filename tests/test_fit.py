"""The fit loop: determinism, exact resume (epoch ends and mid-epoch), clipping, schedules,
early stopping with the best checkpoint, outputs on disk, config round trips."""

from __future__ import annotations

import json
import math
import signal
import sys
import types
from collections.abc import Iterable
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

from rnnkit.config import from_dict, to_dict
from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.train import (
    FitResult,
    LRSchedule,
    TrainConfig,
    evaluate_loss,
    fit,
    load_checkpoint,
    load_model_weights,
    read_metrics,
    resolve_device,
)


def test_same_call_twice_gives_identical_metrics_and_weights() -> None:
    runs = []
    for _ in range(2):
        model = new_model()
        runs.append((fit(model, train_batches, dev_batches, CONFIG), model))
    (r1, m1), (r2, m2) = runs
    assert _untimed(r1.history) == _untimed(r2.history)
    assert len(r1.history) == 4 and r1.global_step == 24
    assert _same_weights(m1, m2)
    other = new_model()
    r3 = fit(other, train_batches, dev_batches, replace(CONFIG, seed=4))  # dropout differs
    assert _untimed(r3.history) != _untimed(r1.history)


def test_training_learns_the_task() -> None:
    model = new_model(dropout=0.0)
    result = fit(
        model,
        train_batches,
        dev_batches,
        replace(CONFIG, epochs=30, lr=0.05, lr_schedule="constant", warmup_steps=0),
    )
    first, last = result.history[0]["dev_loss"], result.history[-1]["dev_loss"]
    assert last < 0.25 * first
    assert result.best_metric == min(r["dev_loss"] for r in result.history)


def test_resume_after_two_epochs_equals_four_straight(tmp_path: Path) -> None:
    # mode="max" on a falling loss: every evaluation after the first is "worse", so the plateau
    # schedule, the early-stopping counter and the best checkpoint (epoch 1) all carry state
    # across the resume.
    config = replace(CONFIG, mode="max", patience=10)
    straight = new_model()
    a = fit(straight, train_batches, dev_batches, config, out_dir=tmp_path / "a", task="toy")

    first = new_model()
    fit(
        first,
        train_batches,
        dev_batches,
        replace(config, epochs=2),
        out_dir=tmp_path / "b",
        task="toy",
    )
    resumed = Tagger(dropout=0.3)  # fresh weights: everything must come from the checkpoint
    b = fit(
        resumed, train_batches, dev_batches, config, out_dir=tmp_path / "b", task="toy", resume=True
    )

    assert _untimed(a.history) == _untimed(b.history)
    assert a.final_metrics == b.final_metrics and a.best_epoch == b.best_epoch
    assert _same_weights(straight, resumed)
    last_a = load_checkpoint(tmp_path / "a" / "last")
    last_b = load_checkpoint(tmp_path / "b" / "last")
    for k, v in last_a.model_state.items():
        assert torch.equal(v, last_b.model_state[k])
    assert last_a.scheduler_state == last_b.scheduler_state
    assert last_a.scheduler_state is not None and last_a.scheduler_state["scale"] < 1
    assert a.best_epoch == 1 and last_b.meta.train_state["bad_evals"] == 3
    # the metrics log reads as one run: 4 epoch records, no duplicates
    epochs = [r["epoch"] for r in read_metrics(tmp_path / "b") if r["kind"] == "epoch"]
    assert epochs == [1, 2, 3, 4]


def test_interrupt_mid_epoch_saves_and_resumes_exactly(tmp_path: Path) -> None:
    # Whatever the run started with (a job started in the background ignores SIGINT).
    before = signal.getsignal(signal.SIGINT)
    straight = new_model()
    a = fit(straight, train_batches, dev_batches, CONFIG)

    first = new_model()
    with pytest.raises(KeyboardInterrupt):
        fit(first, InterruptAt(epoch=1, index=3), dev_batches, CONFIG, out_dir=tmp_path)
    saved = load_checkpoint(tmp_path / "last")
    assert saved.meta.epoch == 1 and saved.meta.global_step == 6 + 3
    assert saved.meta.train_state["in_progress"]["steps"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handler restored

    resumed = Tagger(dropout=0.3)
    b = fit(resumed, train_batches, dev_batches, CONFIG, out_dir=tmp_path, resume=True)
    assert _untimed(a.history) == _untimed(b.history)
    assert _same_weights(straight, resumed)


def test_gradient_is_clipped_by_global_norm_and_norm_is_recorded() -> None:
    batch = TRAIN[0]
    model = new_model(dropout=0.0)
    reference = new_model(dropout=0.0)
    loss = reference(batch).loss
    assert loss is not None
    loss.backward()
    grads = [p.grad.clone() for p in reference.parameters() if p.grad is not None]
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    clip, lr = norm / 10, 0.1
    config = TrainConfig(
        epochs=1, lr=lr, optimizer="sgd", clip_norm=clip, progress=False, device="cpu"
    )
    result = fit(model, lambda epoch: [batch], None, config)
    assert result.history[0]["grad_norm"] == pytest.approx(norm, rel=1e-5)
    for p, p0, g in zip(model.parameters(), reference.parameters(), grads):
        # first SGD step with momentum: p <- p - lr * g * clip / ||g||
        torch.testing.assert_close(p, p0 - lr * g * (clip / norm), rtol=1e-5, atol=1e-7)


def test_lr_schedules() -> None:
    warm = LRSchedule(TrainConfig(lr=1.0, warmup_steps=4))
    assert [warm.lr(s, 0) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cos = LRSchedule(TrainConfig(lr=1.0, epochs=4, lr_schedule="cosine", min_lr=0.1))
    assert cos.lr(0, 0) == pytest.approx(1.0)
    assert cos.lr(0, 2) == pytest.approx(0.55)
    assert cos.lr(0, 3, fraction=1.0) == pytest.approx(0.1)
    plateau = LRSchedule(
        TrainConfig(
            lr=1.0, lr_schedule="plateau", plateau_patience=1, plateau_factor=0.5, min_lr=0.3
        )
    )
    for value in (5.0, 4.0, 4.5, 4.5):  # improves, improves, then 2 bad > patience 1
        plateau.observe(value)
    assert plateau.lr(100, 0) == 0.5
    for value in (4.5, 4.5):
        plateau.observe(value)
    assert plateau.lr(100, 0) == 0.3  # floor


def test_early_stopping_keeps_and_restores_best(tmp_path: Path) -> None:
    scripted = iter([3.0, 2.0, 2.5, 2.4, 2.6, 1.0])
    snapshots: list[dict[str, torch.Tensor]] = []

    def evaluate(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
        assert not model.training
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"score": next(scripted), "loss": 0.0}

    model = new_model()
    config = replace(CONFIG, epochs=6, metric="score", mode="min", patience=3)
    result = fit(model, train_batches, dev_batches, config, evaluate=evaluate, out_dir=tmp_path)
    assert result.stopped_early and result.epochs_completed == 5
    assert (result.best_epoch, result.best_metric) == (2, 2.0)
    best = load_checkpoint(tmp_path / "best")
    assert best.meta.epoch == 2 and best.optimizer_state is None
    for k, v in snapshots[1].items():
        assert torch.equal(best.model_state[k], v)
        assert torch.equal(model.state_dict()[k], v)  # restore_best

    # resuming a run that stopped early does nothing more
    again = fit(
        new_model(),
        train_batches,
        dev_batches,
        config,
        evaluate=evaluate,
        out_dir=tmp_path,
        resume=True,
    )
    assert again.epochs_completed == 5 and again.stopped_early


def test_outputs_on_disk(tmp_path: Path) -> None:
    model = new_model()
    config = replace(CONFIG, epochs=2, eval_every=2)
    result: FitResult = fit(
        model,
        train_batches,
        dev_batches,
        config,
        out_dir=tmp_path,
        task="toy",
        model_config={"H": 8},
        extras={"tags": ["A", "B", "C"]},
    )
    records = read_metrics(tmp_path)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["step"] for r in steps] == [4, 8, 12]
    assert {"train_loss", "lr", "grad_norm", "tokens_per_s", "seconds"} <= set(steps[0])
    assert "dev_loss" not in epochs[0] and "dev_loss" in epochs[1]  # eval_every=2
    assert epochs == result.history
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = load_model_weights(new_model(), tmp_path / "best", expected_task="toy")
    assert meta.extras == {"tags": ["A", "B", "C"]} and meta.model_config == {"H": 8}
    assert from_dict(TrainConfig, meta.train_config) == config
    assert json.loads((tmp_path / "last" / "checkpoint.json").read_text())["task"] == "toy"


def test_tokens_per_second_counts_real_steps(tmp_path: Path) -> None:
    fit(new_model(), train_batches, None, replace(CONFIG, epochs=1, log_every=6), out_dir=tmp_path)
    (step,) = [r for r in read_metrics(tmp_path) if r["kind"] == "step"]
    real_steps = sum(b.num_steps for b in TRAIN)
    assert step["tokens_per_s"] * step["seconds"] == pytest.approx(real_steps, rel=1e-6)


def test_errors_a_user_can_act_on(tmp_path: Path) -> None:
    with pytest.raises(RnnkitError, match="dev metric 'f1' is not among"):
        fit(new_model(), train_batches, dev_batches, replace(CONFIG, epochs=1, metric="f1"))
    with pytest.raises(RnnkitError, match="yielded no batches"):
        fit(new_model(), lambda epoch: [], None, CONFIG)
    with pytest.raises(RnnkitError, match="resume needs an out_dir"):
        fit(new_model(), train_batches, None, CONFIG, resume=True)

    class Diverging(Tagger):
        def forward(self, batch: Batch) -> ModelOutput:
            out = super().forward(batch)
            assert out.loss is not None
            return ModelOutput(out.logits, out.loss * math.nan, out.count)

    with pytest.raises(RnnkitError, match="training diverged"):
        fit(Diverging(), train_batches, None, CONFIG)


def test_config_round_trip_and_validation() -> None:
    config = TrainConfig(epochs=3, clip_norm=None, lr_schedule="cosine", patience=2)
    data = json.loads(json.dumps(to_dict(config)))
    assert from_dict(TrainConfig, data) == config
    assert from_dict(TrainConfig, {"lr": 1}) == TrainConfig(lr=1.0)
    with pytest.raises(RnnkitError, match="unknown field.*'lrr'"):
        from_dict(TrainConfig, {"lrr": 0.1})
    with pytest.raises(RnnkitError, match=r"TrainConfig.epochs: expected int, got str"):
        from_dict(TrainConfig, {"epochs": "3"})
    with pytest.raises(RnnkitError, match=r"--lr-schedule \(TrainConfig\.lr_schedule\) must be"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(RnnkitError, match=r"--clip-norm .* a finite number > 0"):
        TrainConfig(clip_norm=0.0)


def test_device_auto_resolves() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RnnkitError, match="CUDA is not available"):
            resolve_device("cuda")


def test_tensorboard_receives_numeric_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With torch.utils.tensorboard importable, every numeric field becomes a scalar."""
    calls: list[tuple[str, float, int]] = []

    class FakeWriter:
        def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
            assert log_dir == str(tmp_path / "tb") and purge_step == 0

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            calls.append((tag, value, step))

        def close(self) -> None:
            calls.append(("closed", 0.0, 0))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    result = fit(
        new_model(), train_batches, dev_batches, replace(CONFIG, epochs=1), out_dir=tmp_path
    )
    tags = {tag for tag, _, _ in calls}
    assert {"epoch/train_loss", "epoch/dev_loss", "step/train_loss", "step/lr"} <= tags
    assert ("epoch/dev_loss", result.history[0]["dev_loss"], 6) in calls
    assert calls[-1][0] == "closed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_and_checkpoint_to_cpu(tmp_path: Path) -> None:
    model = new_model(dropout=0.0)
    config = replace(CONFIG, device="cuda", epochs=8, lr=0.05, lr_schedule="constant")
    result = fit(model, train_batches, dev_batches, config, out_dir=tmp_path)
    assert next(model.parameters()).device.type == "cuda"
    assert result.history[-1]["dev_loss"] < result.history[0]["dev_loss"]
    cpu_model = Tagger()
    load_model_weights(cpu_model, tmp_path / "best")
    on_cpu = evaluate_loss(cpu_model, DEV)["loss"]
    assert on_cpu == pytest.approx(result.best_metric, abs=1e-3)  # cuDNN may use TF32
    resumed = new_model(dropout=0.0)
    more = fit(
        resumed,
        train_batches,
        dev_batches,
        replace(config, epochs=9),
        out_dir=tmp_path,
        resume=True,
    )
    assert more.epochs_completed == 9 and more.global_step == 9 * len(TRAIN)
