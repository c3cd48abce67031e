"""The parts of the fit loop on their own: one optimisation step, the epoch's progress record
(running sums, step records, summary, the snapshot an interrupted run saves), the resume skip,
the ranks' agreement, the run state's round trip through a checkpoint, the Ctrl-C request."""

from __future__ import annotations

import copy
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.models.losses import sequence_cross_entropy
from rnnkit.train import (
    CheckpointMeta,
    DistInfo,
    TrainConfig,
    WeightAverage,
    fit,
    load_checkpoint,
    loop,
    save_checkpoint,
    single_process,
)
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.loop import agree_across_ranks, skip_done
from rnnkit.train.progress import EpochProgress, RunState
from rnnkit.train.step import StepOutput, train_step

V, C = 6, 3  # vocabulary, tag classes
CPU = torch.device("cpu")


class Tagger(nn.Module):
    """Embedding -> Linear per step (float64); remembers the inputs it trained on."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(V, 4, dtype=torch.float64)
        self.head = nn.Linear(4, C, dtype=torch.float64)
        self.trained_on: list[torch.Tensor] = []

    def forward(self, batch: Batch) -> ModelOutput:
        if self.training:
            self.trained_on.append(batch.inputs)
        logits = self.head(self.embed(batch.inputs))  # (B, T, C)
        assert batch.targets is not None
        loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)


def make_batches(n: int, seed: int = 0, B: int = 3) -> list[Batch]:
    """n batches of variable-length sequences; the tag of a step is its token id mod C."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lengths = torch.randint(1, 6, (B,), generator=g)
        T = int(lengths.max())
        mask = mask_from_lengths(lengths, T)
        inputs = torch.randint(0, V, (B, T), generator=g).masked_fill(~mask, 0)
        out.append(Batch(inputs, lengths, mask, (inputs % C).masked_fill(~mask, -100)))
    return out


# --- one optimisation step -------------------------------------------------------------------


def _reference_gradients(model: nn.Module, batch: Batch) -> tuple[float, list[torch.Tensor]]:
    """The loss and gradients of a copy of `model`, computed by hand, before any update."""
    twin = copy.deepcopy(model)
    loss = twin(batch).loss
    assert loss is not None
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in twin.parameters() if p.grad is not None]


@pytest.mark.parametrize("clip_factor", [0.1, 10.0, None])
def test_step_clips_by_global_norm_and_steps_with_the_given_lr(clip_factor: float | None) -> None:
    batch = make_batches(1)[0]
    model = Tagger()
    before = [p.detach().clone() for p in model.parameters()]
    loss, grads = _reference_gradients(model, batch)
    norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
    clip = None if clip_factor is None else norm * clip_factor
    optimizer = torch.optim.SGD(model.parameters(), lr=123.0)  # the step sets its own lr
    lr = 0.3

    out = train_step(model, optimizer, batch, lr, clip)

    assert optimizer.param_groups[0]["lr"] == lr
    assert float(out.loss) == loss and not out.loss.requires_grad
    assert int(out.count) == batch.num_steps == int(batch.mask.sum())
    assert float(out.grad_norm) == pytest.approx(norm, rel=1e-12)  # before clipping
    scale = 1.0 if clip is None else min(1.0, clip / norm)
    for p, p0, g in zip(model.parameters(), before, grads, strict=True):
        torch.testing.assert_close(p.detach(), p0 - lr * scale * g, rtol=1e-5, atol=1e-12)


def test_step_updates_the_weight_average_after_the_optimiser() -> None:
    batch = make_batches(1)[0]
    model = Tagger()
    before = [p.detach().clone() for p in model.parameters()]
    average = WeightAverage(model, decay=0.5)
    rate = average.rate()  # 1 - min(0.5, 1/10) = 0.9 on the first update
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.3), batch, 0.3, None, average)
    assert average.updates == 1
    averaged = average.state_dict()["average"]
    for (name, p), p0 in zip(model.named_parameters(), before, strict=True):
        assert not torch.equal(p, p0)
        torch.testing.assert_close(averaged[name], p0 + rate * (p.detach() - p0))


def test_step_needs_a_loss() -> None:
    class NoLoss(Tagger):
        def forward(self, batch: Batch) -> ModelOutput:
            out = super().forward(batch)
            return ModelOutput(out.logits, None, out.count)

    model = NoLoss()
    with pytest.raises(RnnkitError, match="returned no loss: training batches need targets"):
        train_step(model, torch.optim.SGD(model.parameters(), lr=0.1), make_batches(1)[0], 0.1, 1.0)


# --- the epoch's progress record -------------------------------------------------------------

LOSSES = [2.0, 1.0, 0.5, 4.0, 3.25]
COUNTS = [3, 5, 2, 4, 1]
NORMS = [0.75, 1.5, 2.0, 0.25, 1.0]
TOKENS = [7, 9, 4, 8, 2]


def _step(i: int) -> StepOutput:
    return StepOutput(torch.tensor(LOSSES[i]), torch.tensor(COUNTS[i]), torch.tensor(NORMS[i]))


def _weighted(indices: range) -> float:
    """The count-weighted train loss of the given steps, computed independently."""
    return sum(LOSSES[i] * COUNTS[i] for i in indices) / sum(COUNTS[i] for i in indices)


def _mean_norm(indices: range) -> float:
    return sum(NORMS[i] for i in indices) / len(indices)


def test_step_records_cover_the_steps_since_the_last_one() -> None:
    progress = EpochProgress(epoch=2, device=CPU, dist=single_process("cpu"))
    for i in range(2):
        progress.add(_step(i), TOKENS[i])
    first = progress.step_record(global_step=12, lr=0.01)
    for i in range(2, 5):
        progress.add(_step(i), TOKENS[i])
    second = progress.step_record(global_step=15, lr=0.02)

    assert (first["kind"], first["epoch"], first["step"], first["lr"]) == ("step", 3, 12, 0.01)
    assert first["train_loss"] == pytest.approx(_weighted(range(2)), rel=1e-12)
    assert first["grad_norm"] == pytest.approx(_mean_norm(range(2)), rel=1e-12)
    assert (second["step"], second["lr"]) == (15, 0.02)
    assert second["train_loss"] == pytest.approx(_weighted(range(2, 5)), rel=1e-12)
    assert second["grad_norm"] == pytest.approx(_mean_norm(range(2, 5)), rel=1e-12)
    # tokens per second over each window: the first window starts at the epoch's start
    assert first["tokens_per_s"] * first["seconds"] == pytest.approx(sum(TOKENS[:2]), rel=1e-6)
    window = second["seconds"] - first["seconds"]
    assert second["tokens_per_s"] * window == pytest.approx(sum(TOKENS[2:]), rel=1e-6)


def test_summary_is_the_count_weighted_epoch() -> None:
    progress = EpochProgress(epoch=0, device=CPU, dist=single_process("cpu"))
    for i in range(5):
        progress.add(_step(i), TOKENS[i])
    summary = progress.summary(global_step=5, lr=0.125)
    assert progress.steps == 5 and progress.tokens == sum(TOKENS)
    assert summary["train_loss"] == pytest.approx(_weighted(range(5)), rel=1e-12)
    assert summary["grad_norm"] == pytest.approx(_mean_norm(range(5)), rel=1e-12)
    assert summary["lr"] == 0.125
    assert summary["tokens_per_s"] * summary["seconds"] == pytest.approx(sum(TOKENS), rel=1e-6)


def test_snapshot_then_resume_gives_the_uninterrupted_summary_exactly() -> None:
    dist = single_process("cpu")
    straight = EpochProgress(epoch=1, device=CPU, dist=dist)
    for i in range(5):
        straight.add(_step(i), TOKENS[i])

    interrupted = EpochProgress(epoch=1, device=CPU, dist=dist)
    for i in range(2):
        interrupted.add(_step(i), TOKENS[i])
    snapshot = interrupted.snapshot()
    assert {k: snapshot[k] for k in ("epoch", "steps", "tokens")} == {
        "epoch": 1,
        "steps": 2,
        "tokens": sum(TOKENS[:2]),
    }
    assert snapshot["loss_sum"] == LOSSES[0] * COUNTS[0] + LOSSES[1] * COUNTS[1]
    assert snapshot["count"] == COUNTS[0] + COUNTS[1]
    assert snapshot["grad_norm_sum"] == NORMS[0] + NORMS[1]

    resumed = EpochProgress(epoch=1, device=CPU, dist=dist, saved=snapshot)
    assert resumed.steps == 2 and resumed.tokens == sum(TOKENS[:2])
    for i in range(2, 5):
        resumed.add(_step(i), TOKENS[i])
    a, b = straight.summary(5, 0.1), resumed.summary(5, 0.1)
    assert (a["train_loss"], a["grad_norm"]) == (b["train_loss"], b["grad_norm"])  # bit-equal
    assert b["seconds"] >= snapshot["seconds"]


def test_a_resumed_epoch_counts_the_saved_sums_on_rank_0_only() -> None:
    saved = {
        "epoch": 0,
        "steps": 4,
        "loss_sum": 9.0,
        "count": 6.0,
        "grad_norm_sum": 3.0,
        "tokens": 20,
        "seconds": 1.5,
    }
    other = DistInfo(rank=1, world_size=2, local_rank=1, device=CPU)
    progress = EpochProgress(epoch=0, device=CPU, dist=other, saved=saved)  # no collective yet
    assert progress.steps == 4 and progress.tokens == 0
    assert progress.acc.tolist() == [0.0, 0.0, 3.0]  # the gradient norm is the same everywhere
    main = EpochProgress(epoch=0, device=CPU, dist=single_process("cpu"), saved=saved)
    assert main.tokens == 20 and main.acc.tolist() == [9.0, 6.0, 3.0]


def test_an_empty_or_diverged_epoch_is_an_error() -> None:
    empty = EpochProgress(epoch=3, device=CPU, dist=single_process("cpu"))
    with pytest.raises(RnnkitError, match=r"train_batches\(3\) yielded no batches"):
        empty.summary(global_step=0, lr=0.1)
    diverged = EpochProgress(epoch=0, device=CPU, dist=single_process("cpu"))
    diverged.add(StepOutput(torch.tensor(math.inf), torch.tensor(2), torch.tensor(1.0)), 3)
    with pytest.raises(RnnkitError, match=r"diverged: the train loss is inf in epoch 1 \(step 7"):
        diverged.step_record(global_step=7, lr=0.1)


# --- the resume skip -------------------------------------------------------------------------


def test_skip_done_draws_exactly_the_done_batches() -> None:
    batches = make_batches(5)
    drawn: list[int] = []

    def counting() -> Iterator[Batch]:
        for i, batch in enumerate(batches):
            drawn.append(i)
            yield batch

    iterator = counting()
    skip_done(iterator, 3, epoch=0)
    assert drawn == [0, 1, 2]
    assert next(iterator) is batches[3]
    iterator = iter(batches)
    skip_done(iterator, 0, epoch=0)
    assert next(iterator) is batches[0]
    with pytest.raises(
        RnnkitError,
        match=r"resuming epoch 2 at batch 7, but train_batches\(1\) "
        r"yields only 5: the data changed",
    ):
        skip_done(iter(batches), 6, epoch=1)


def test_an_interrupted_and_resumed_fit_trains_on_each_batch_exactly_once(tmp_path: Path) -> None:
    batches = make_batches(6, seed=1)
    config = TrainConfig(epochs=2, lr=0.05, progress=False, log_every=2, seed=0, device="cpu")

    def train_batches(epoch: int) -> list[Batch]:
        return batches[::-1] if epoch else batches

    def interrupted(epoch: int) -> Iterator[Batch]:
        for i, batch in enumerate(train_batches(epoch)):
            if (epoch, i) == (0, 4):  # the request arrives while batch 4 is produced
                os.kill(os.getpid(), signal.SIGINT)
            yield batch

    straight = Tagger()
    fit(straight, train_batches, None, config)
    first, second = Tagger(), Tagger()
    with pytest.raises(KeyboardInterrupt):
        fit(first, interrupted, None, config, out_dir=tmp_path)
    fit(second, train_batches, None, config, out_dir=tmp_path, resume=True)

    assert len(first.trained_on) == 4  # batches 0-3; batch 4 was drawn, not trained on
    trained = first.trained_on + second.trained_on
    assert len(trained) == len(straight.trained_on) == 12
    assert all(a is b for a, b in zip(trained, straight.trained_on, strict=True))


# --- the ranks' agreement --------------------------------------------------------------------


def _two_ranks(monkeypatch: pytest.MonkeyPatch, other_end: bool, other_stop: bool) -> DistInfo:
    """This process as rank 0 of 2; the all-reduce takes the maximum with rank 1's values."""
    theirs = [float(other_end), float(not other_end), float(other_stop)]

    def all_reduce_max(values: list[float], info: DistInfo) -> list[float]:
        return [max(a, b) for a, b in zip(values, theirs, strict=True)]

    monkeypatch.setattr(loop, "all_reduce_max", all_reduce_max)
    return DistInfo(rank=0, world_size=2, local_rank=0, device=CPU)


@pytest.mark.parametrize("end", [False, True])
@pytest.mark.parametrize("stop", [False, True])
def test_alone_the_decision_is_this_process_s(end: bool, stop: bool) -> None:
    assert agree_across_ranks(end, stop, single_process("cpu"), 0, 3) == (end, stop)


def test_any_rank_asked_to_stop_stops_every_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    dist = _two_ranks(monkeypatch, other_end=False, other_stop=True)
    assert agree_across_ranks(False, False, dist, 0, 3) == (False, True)
    dist = _two_ranks(monkeypatch, other_end=False, other_stop=False)
    assert agree_across_ranks(False, False, dist, 0, 3) == (False, False)
    dist = _two_ranks(monkeypatch, other_end=True, other_stop=False)
    assert agree_across_ranks(True, False, dist, 0, 3) == (True, False)


def test_ranks_with_different_numbers_of_batches_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dist = _two_ranks(monkeypatch, other_end=True, other_stop=False)
    with pytest.raises(
        RnnkitError,
        match=r"epoch 2: the ranks yielded different numbers of "
        r"batches \(rank 0 has more after 5\)",
    ):
        agree_across_ranks(False, False, dist, 1, 5)
    dist = _two_ranks(monkeypatch, other_end=False, other_stop=False)
    with pytest.raises(RnnkitError, match=r"rank 0 ran out after 5"):
        agree_across_ranks(True, False, dist, 1, 5)


# --- the run state and the stop request ------------------------------------------------------


def test_run_state_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    state = RunState(
        epoch=3,
        global_step=40,
        history=[{"kind": "epoch", "epoch": 3}],
        best_metric=0.5,
        best_epoch=2,
        bad_evals=1,
        stopped_early=True,
        last_metrics={"loss": 0.75},
        in_progress={
            "epoch": 3,
            "steps": 2,
            "loss_sum": 1.5,
            "count": 4.0,
            "grad_norm_sum": 0.5,
            "tokens": 9,
            "seconds": 0.25,
        },
    )
    meta = CheckpointMeta(
        epoch=state.epoch,
        global_step=state.global_step,
        history=state.history,
        best_metric=state.best_metric,
        best_epoch=state.best_epoch,
        train_state=state.to_json(),
    )
    save_checkpoint(tmp_path / "last", Tagger(), meta=meta)
    assert RunState.from_meta(load_checkpoint(tmp_path / "last").meta) == state


def test_the_first_interrupt_asks_the_second_aborts() -> None:
    request = StopRequest()
    before = signal.getsignal(signal.SIGINT)
    request.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert request.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        request.uninstall()
    assert signal.getsignal(signal.SIGINT) is before
