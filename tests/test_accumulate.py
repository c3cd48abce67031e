"""Gradient accumulation (`TrainConfig.accumulate`): N batches make one optimiser step whose
gradient is that of one batch holding all their examples (the loss is a mean over real steps,
so each batch is weighted by its count), checked in float64 against the merged batch."""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_distributed import run_two_ranks
from torch import Tensor, nn

from rnnkit.cli import main
from rnnkit.data.batch import Batch
from rnnkit.data.batching import make_batch
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.train import TrainConfig, fit
from rnnkit.train.step import accumulated_step, train_step

LENGTHS = [5, 2, 7, 3, 4]  # varied, so the batches' counts differ
D, H, C = 3, 4, 3


def examples(tagger: bool) -> tuple[list[Tensor], list[Tensor]]:
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(n, D, generator=g, dtype=torch.float64) for n in LENGTHS]
    if tagger:  # count = real steps
        return inputs, [torch.randint(0, C, (n,), generator=g) for n in LENGTHS]
    return inputs, [torch.randint(0, C, (), generator=g) for _ in LENGTHS]  # count = B


def make_model(tagger: bool) -> nn.Module:
    torch.manual_seed(0)
    encoder = EncoderConfig(num_features=D, hidden_size=H)
    model: nn.Module
    if tagger:
        model = SequenceTagger(TaggerConfig(encoder=encoder, num_tags=C))
    else:
        model = SequenceClassifier(ClassifierConfig(encoder=encoder, num_classes=C))
    return model.double()


def split(tagger: bool, sizes: list[int]) -> tuple[list[Batch], Batch]:
    """The examples cut into batches of `sizes`, and all of them as one batch."""
    inputs, targets = examples(tagger)
    batches, start = [], 0
    for size in sizes:
        batches.append(make_batch(inputs[start : start + size], targets[start : start + size]))
        start += size
    return batches, make_batch(inputs, targets)


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("tagger", [False, True])
@pytest.mark.parametrize("clip_norm", [None, 0.05])
def test_two_batches_step_like_their_merged_batch(tagger: bool, clip_norm: float | None) -> None:
    batches, merged = split(tagger, [3, 2])
    model = make_model(tagger)
    reference = copy.deepcopy(model)
    start = copy.deepcopy(model)
    outs = accumulated_step(
        model, torch.optim.SGD(model.parameters(), lr=0.5), batches, 0.5, clip_norm
    )
    ref = train_step(
        reference, torch.optim.SGD(reference.parameters(), lr=0.5), merged, 0.5, clip_norm
    )
    assert max_difference(model, start) > 1e-3  # the step moved the weights
    assert max_difference(model, reference) < 1e-10
    assert abs(float(outs[0].grad_norm) - float(ref.grad_norm)) < 1e-10
    # each batch reports its own loss and count; together they make the merged batch's loss
    assert [int(o.count) for o in outs] == ([14, 7] if tagger else [3, 2])
    total = sum(float(o.loss) * int(o.count) for o in outs) / int(ref.count)
    assert total == pytest.approx(float(ref.loss), abs=1e-12)


def test_a_group_of_one_is_the_plain_step() -> None:
    (batch,), _ = split(True, [5])
    a, b = make_model(True), make_model(True)
    accumulated_step(a, torch.optim.SGD(a.parameters(), lr=0.5), [batch], 0.5, None)
    out = b(batch)
    out.loss.backward()
    with torch.no_grad():
        for p in b.parameters():
            p -= 0.5 * p.grad
    assert max_difference(a, b) < 1e-12
    with pytest.raises(RnnkitError, match="at least one batch"):
        accumulated_step(a, torch.optim.SGD(a.parameters(), lr=0.5), [], 0.5, None)


def run_fit(batches: list[Batch], accumulate: int, epochs: int = 1) -> tuple[nn.Module, int]:
    model = make_model(True)
    config = TrainConfig(
        epochs=epochs,
        accumulate=accumulate,
        optimizer="sgd",
        lr=0.3,
        clip_norm=None,
        device="cpu",
        progress=False,
        num_threads=1,
    )
    result = fit(model, batches, config=config)
    return model, result.global_step


def test_fit_accumulates_and_counts_optimiser_steps() -> None:
    batches, merged = split(True, [3, 2])
    accumulated, steps = run_fit(batches, accumulate=2)
    reference, reference_steps = run_fit([merged], accumulate=1)
    assert steps == reference_steps == 1
    assert max_difference(accumulated, reference) < 1e-10
    singles, _ = split(True, [1, 1, 1, 1, 1])
    for accumulate in (1, 2, 3, 5, 7):  # the epoch's last, shorter group still steps
        _, steps = run_fit(singles, accumulate, epochs=2)
        assert steps == 2 * math.ceil(5 / accumulate)


def test_a_stop_inside_a_group_resumes_at_its_first_batch(tmp_path: Path) -> None:
    batches, _ = split(True, [1, 1, 1, 1, 1])
    config = TrainConfig(
        epochs=2, accumulate=2, optimizer="sgd", lr=0.3, progress=False, device="cpu"
    )

    def interrupted(epoch: int) -> Iterator[Batch]:
        for i, batch in enumerate(batches):
            if (epoch, i) == (0, 3):  # asked to stop inside the group of batches 2 and 3
                os.kill(os.getpid(), signal.SIGINT)
            yield batch

    straight, first = make_model(True), make_model(True)
    fit(straight, batches, config=config)
    with pytest.raises(KeyboardInterrupt):
        fit(first, interrupted, config=config, out_dir=tmp_path)
    saved = json.loads((tmp_path / "last" / "checkpoint.json").read_text())
    assert saved["global_step"] == 1 and saved["train_state"]["in_progress"]["steps"] == 2
    resumed = make_model(True)
    result = fit(resumed, batches, config=config, out_dir=tmp_path, resume=True)
    assert result.global_step == 2 * 3
    assert max_difference(resumed, straight) < 1e-12


def test_accumulate_is_validated() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RnnkitError, match="accumulate"):
            TrainConfig(accumulate=bad)  # type: ignore[arg-type]


def write_jsb(folder: Path) -> Path:
    folder.mkdir(parents=True)
    piece = [[60, 64, 67], [62, 65, 69], [64, 67, 71], [], [59, 62, 67]]
    (folder / "train.json").write_text(json.dumps([piece * 2] * 5))
    (folder / "valid.json").write_text(json.dumps([piece] * 2))
    return folder


def test_cli_train_music_with_accumulate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsb(tmp_path / "jsb")
    tiny = ["--source", "jsb", "--hidden-size", "8", "--epochs", "2", "--batch-size", "1"]
    args = ["train", "music", "--data", str(data), *tiny, "--quiet", "--num-threads", "1"]
    assert main([*args, "--out", str(tmp_path / "run"), "--accumulate", "2"]) == 0
    saved = json.loads((tmp_path / "run" / "last" / "checkpoint.json").read_text())
    assert saved["train_config"]["accumulate"] == 2
    log = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in log if '"epoch"' in line]
    assert steps == [3, 6]  # 5 chorales in batches of one: ceil(5 / 2) steps an epoch
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "bad"), "--accumulate", "0"]) == 1
    err = capsys.readouterr().err.strip()
    expected = "--accumulate (TrainConfig.accumulate) must be an integer >= 1, got 0"
    assert err == f"rnnkit: error: {expected}"
    assert not (tmp_path / "bad").exists()


# Two processes (torchrun's variables, gloo): each accumulates its own shard's batches under
# no_sync, and DDP averages the two ranks' accumulated gradients at the group's last batch.
DDP_WORKER = r"""
import json
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[2])
from test_accumulate import ddp_config, make_model, shard_batches  # noqa: E402

from rnnkit.train import cleanup_distributed, fit, init_distributed  # noqa: E402

info = init_distributed("cpu")
model = make_model(True)
fit(model, shard_batches(info.rank), config=ddp_config(), dist=info)
weights = [p.detach().flatten().tolist() for p in model.parameters()]
Path(sys.argv[1], f"rank{info.rank}.json").write_text(json.dumps(weights))
cleanup_distributed()
"""
# Each rank's four batches as example indices: varied sizes and lengths, so counts differ.
SHARDS = [[[0, 1], [2], [3, 4], [1]], [[4], [0, 2], [1], [3]]]


def batch_of(ids: list[int]) -> Batch:
    inputs, targets = examples(True)
    return make_batch([inputs[i] for i in ids], [targets[i] for i in ids])


def shard_batches(rank: int) -> list[Batch]:
    return [batch_of(ids) for ids in SHARDS[rank]]


def ddp_config() -> TrainConfig:
    return TrainConfig(
        epochs=1, accumulate=2, optimizer="sgd", lr=0.3, clip_norm=None, progress=False
    )


def ddp_reference() -> nn.Module:
    """Each step: the mean over the ranks of the loss of each rank's group as one batch."""
    model = make_model(True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    for step in range(2):
        optimizer.zero_grad()
        groups = [[i for ids in SHARDS[r][2 * step : 2 * step + 2] for i in ids] for r in (0, 1)]
        loss = sum(model(batch_of(ids)).loss for ids in groups) / 2
        loss.backward()
        optimizer.step()
    return model


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_ddp_averages_each_ranks_accumulated_gradient(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER)
    run_two_ranks([sys.executable, str(script), str(tmp_path), str(Path(__file__).parent)])
    reference = ddp_reference()
    for rank in (0, 1):
        weights = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for p, w in zip(reference.parameters(), weights, strict=True):
            assert (
                float((p.detach().flatten() - torch.tensor(w, dtype=torch.float64)).abs().max())
                < 1e-10
            )
