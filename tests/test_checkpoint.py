"""Checkpoints: exact round trips, atomic replacement under crashes, one-line errors."""

from __future__ import annotations

import json
import os
import pickle
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit.train.checkpoint as ckpt
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.train.checkpoint import (
    CheckpointMeta,
    RngState,
    checkpoint_exists,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.fit import LRSchedule


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and do not stall on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TiedLM(nn.Module):
    """Embedding -> GRU -> output layer sharing the embedding matrix (weight tying)."""

    def __init__(self, V: int = 11, H: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, H)
        self.rnn = nn.GRU(H, H, batch_first=True)
        self.out = nn.Linear(H, V)
        self.out.weight = self.embed.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.embed(x))[0])  # (B, T, V)


def _trained(seed: int = 0, H: int = 6) -> tuple[TiedLM, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = TiedLM(H=H)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randint(0, 11, (2, 5))
    for _ in range(2):
        opt.zero_grad()
        model(x).logsumexp(-1).mean().backward()
        opt.step()
    return model, opt


def _meta(task: str = "text", epoch: int = 3) -> CheckpointMeta:
    return CheckpointMeta(
        task=task,
        model_config={"hidden": 6},
        train_config={"lr": 0.01},
        extras={"vocab": ["<pad>", "a", "b"]},
        epoch=epoch,
        global_step=12,
        history=[{"epoch": 1, "train_loss": 1.5}],
        best_metric=0.25,
        best_epoch=2,
        train_state={"bad_evals": 1},
        rng=[RngState.capture()],
    )


def _save(path: Path, seed: int = 0, epoch: int = 3, task: str = "text") -> TiedLM:
    model, opt = _trained(seed)
    schedule = LRSchedule(TrainConfig(lr_schedule="plateau"))
    schedule.observe(1.0)
    save_checkpoint(path, model, opt, schedule, _meta(task, epoch))
    return model


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    model, opt = _trained()
    schedule = LRSchedule(TrainConfig(lr_schedule="plateau"))
    schedule.observe(1.0)
    schedule.observe(2.0)
    rng = RngState.capture()
    expected = (torch.rand(3), random.random(), np.random.rand())
    meta = _meta()
    save_checkpoint(
        tmp_path / "last", model, opt, schedule, CheckpointMeta(**{**meta.__dict__, "rng": [rng]})
    )

    loaded = load_checkpoint(tmp_path / "last", expected_task="text")
    fresh = TiedLM()
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_schedule = LRSchedule(TrainConfig(lr_schedule="plateau"))
    loaded.restore(fresh, fresh_opt, fresh_schedule)
    assert _same_state(model, fresh)
    assert fresh.out.weight is fresh.embed.weight  # the tie survives
    a, b = opt.state_dict(), fresh_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        for name in a["state"][k]:
            assert torch.equal(a["state"][k][name], b["state"][k][name])
    assert fresh_schedule.state_dict() == schedule.state_dict()
    m = loaded.meta
    assert (
        m.task,
        m.model_config,
        m.extras,
        m.epoch,
        m.global_step,
        m.best_metric,
        m.best_epoch,
        m.history,
        m.train_state,
    ) == (
        "text",
        {"hidden": 6},
        {"vocab": ["<pad>", "a", "b"]},
        3,
        12,
        0.25,
        2,
        [{"epoch": 1, "train_loss": 1.5}],
        {"bad_evals": 1},
    )
    m.rng[0].restore()  # the generators continue exactly where they were captured
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(again[0], expected[0]) and again[1:] == expected[1:]


def test_tied_tensor_is_stored_once(tmp_path: Path) -> None:
    model = _save(tmp_path / "c")
    import safetensors.torch

    stored = safetensors.torch.load_file(str(tmp_path / "c" / "model.safetensors"))
    assert ("out.weight" in stored) != ("embed.weight" in stored)
    fresh = TiedLM()
    load_model_weights(fresh, tmp_path / "c")
    assert _same_state(model, fresh)


def test_weights_only_checkpoint_refuses_optimizer_restore(tmp_path: Path) -> None:
    model, _ = _trained()
    save_checkpoint(tmp_path / "best", model, meta=CheckpointMeta(task="text"))
    assert not (tmp_path / "best" / "optimizer.safetensors").exists()
    loaded = load_checkpoint(tmp_path / "best")
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        loaded.restore(TiedLM(), torch.optim.Adam(TiedLM().parameters()))


def _one_line_error(path: Path, match: str, **kwargs: str) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_truncated_safetensors(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    f = tmp_path / "c" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-40])
    msg = _one_line_error(tmp_path / "c", "truncated")
    assert str(f) in msg


def test_flipped_byte_in_safetensors(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    for name in ("model.safetensors", "optimizer.safetensors"):
        f = tmp_path / "c" / name
        original = f.read_bytes()
        data = bytearray(original)
        data[-5] ^= 0x01  # inside the tensor data: safetensors itself would not notice
        f.write_bytes(bytes(data))
        msg = _one_line_error(tmp_path / "c", "SHA-256 mismatch")
        assert name in msg
        f.write_bytes(original)
    load_checkpoint(tmp_path / "c")


def test_corrupt_or_edited_json(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    f = tmp_path / "c" / "checkpoint.json"
    original = f.read_text()
    f.write_text(original[: len(original) // 2])
    _one_line_error(tmp_path / "c", "checkpoint.json: not valid JSON")
    f.write_text(original.replace('"global_step": 12', '"global_step": 13'))
    _one_line_error(tmp_path / "c", "does not match its checksum")
    f.write_text(json.dumps({"hello": 1}))
    _one_line_error(tmp_path / "c", "not an rnnkit checkpoint")


def test_missing_files(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    (tmp_path / "c" / "optimizer.safetensors").unlink()
    _one_line_error(tmp_path / "c", "optimizer.safetensors: missing")
    (tmp_path / "c" / "checkpoint.json").unlink()
    _one_line_error(tmp_path / "c", "checkpoint.json: missing")
    _one_line_error(tmp_path / "nowhere", "not found")


def test_wrong_task(tmp_path: Path) -> None:
    _save(tmp_path / "c", task="text")
    msg = _one_line_error(tmp_path / "c", "made for", expected_task="music")
    assert msg == f"checkpoint {tmp_path / 'c'} was made for task 'text', not 'music'"


def test_shape_mismatch_names_first_tensor(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    bigger = TiedLM(H=8)
    with pytest.raises(
        CheckpointError,
        match=r"tensor 'embed.weight' is \(11, 6\) in the "
        r"checkpoint but \(11, 8\) in the model",
    ) as info:
        load_model_weights(bigger, tmp_path / "c")
    assert "\n" not in str(info.value)
    other = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="is missing from the checkpoint"):
        load_model_weights(other, tmp_path / "c")


def test_optimizer_that_does_not_fit(tmp_path: Path) -> None:
    _save(tmp_path / "c")
    loaded = load_checkpoint(tmp_path / "c")
    model = TiedLM()
    opt = torch.optim.Adam([model.embed.weight], lr=0.1)  # one parameter, not four... groups
    with pytest.raises(CheckpointError, match="optimizer state does not fit"):
        loaded.restore(model, opt)


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save(tmp_path / "c")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used while loading a checkpoint")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    load_model_weights(TiedLM(), tmp_path / "c")


def test_extras_must_be_json(tmp_path: Path) -> None:
    model, _ = _trained()
    with pytest.raises(RnnkitError, match="extras must be JSON-serialisable"):
        save_checkpoint(tmp_path / "c", model, meta=CheckpointMeta(extras={"p": Path("x")}))


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so no cleanup code runs."""


def _epoch_of(path: Path) -> int:
    return load_checkpoint(path).meta.epoch


def test_failed_write_leaves_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last"
    old_model = _save(path, seed=0, epoch=1)
    real_write = ckpt._write_file
    calls = []

    def failing_write(p: Path, data: bytes) -> None:
        calls.append(p)
        if len(calls) == 2:  # half of the second file, then a disk error
            p.write_bytes(data[: len(data) // 2])
            raise OSError("No space left on device")
        real_write(p, data)

    monkeypatch.setattr(ckpt, "_write_file", failing_write)
    with pytest.raises(OSError):
        _save(path, seed=1, epoch=2)
    assert _epoch_of(path) == 1
    fresh = TiedLM()
    load_model_weights(fresh, path)
    assert _same_state(fresh, old_model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no temporary left


def test_crash_while_writing_then_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last"
    _save(path, epoch=1)
    real_write = ckpt._write_file

    def crash(p: Path, data: bytes) -> None:
        p.write_bytes(data[:10])
        raise SimulatedCrash

    monkeypatch.setattr(ckpt, "_write_file", crash)
    with pytest.raises(SimulatedCrash):
        _save(path, epoch=2)
    assert (tmp_path / ".last.tmp").exists()  # debris of the "dead" process
    assert _epoch_of(path) == 1
    monkeypatch.setattr(ckpt, "_write_file", real_write)
    _save(path, epoch=3)
    assert _epoch_of(path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_crash_between_the_renames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last"
    _save(path, epoch=1)
    real_replace = os.replace
    calls = []

    def replace(src: str | Path, dst: str | Path) -> None:
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:  # after last -> .last.old, before .last.tmp -> last
            raise SimulatedCrash
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", replace)
    with pytest.raises(SimulatedCrash):
        _save(path, epoch=2)
    monkeypatch.setattr(ckpt.os, "replace", real_replace)
    assert calls[0] == ("last", ".last.old")
    assert not path.exists() and checkpoint_exists(path)
    loaded = load_checkpoint(path)  # falls back to the previous checkpoint
    assert loaded.meta.epoch == 1 and loaded.path.name == ".last.old"
    _save(path, epoch=3)  # the next save recovers
    assert _epoch_of(path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_crash_after_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last"
    _save(path, epoch=1)
    real_fsync_dir = ckpt._fsync_dir

    def fsync_dir(p: Path) -> None:
        if p == tmp_path:  # the parent's fsync comes right after the final rename
            raise SimulatedCrash
        real_fsync_dir(p)

    monkeypatch.setattr(ckpt, "_fsync_dir", fsync_dir)
    with pytest.raises(SimulatedCrash):
        _save(path, epoch=2)
    assert (tmp_path / ".last.old").exists()
    assert _epoch_of(path) == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_at_load(tmp_path: Path, bad: float) -> None:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight[1, 2] = bad
    save_checkpoint(tmp_path / "c", model)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'weight' holds 1 non"):
        load_checkpoint(tmp_path / "c")


def test_weights_of_another_dtype_are_refused_at_load(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "double", nn.Linear(3, 2).double())
    loaded = load_checkpoint(tmp_path / "double")
    with pytest.raises(CheckpointError, match="'weight' is torch.float64 in the checkpoint"):
        loaded.restore(nn.Linear(3, 2))
    model = nn.Linear(3, 2)
    model.weight = nn.Parameter(torch.zeros(2, 3, dtype=torch.complex64))
    save_checkpoint(tmp_path / "complex", model)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'weight' has dtype"):
        load_checkpoint(tmp_path / "complex")
