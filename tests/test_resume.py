"""Honest resume: a text run interrupted mid-epoch resumes exactly (the carried state is in the
checkpoint), a double Ctrl-C keeps the step it announced, `--resume` continues on the config,
data and vocabulary the run recorded, and a run SIGKILLed during a checkpoint write resumes to
the same final metrics as an uninterrupted one."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from fit_helpers import (  # noqa: F401  (_one_thread: the autouse fixture)
    CONFIG,
    _one_thread,
    _untimed,
    dev_batches,
    new_model,
    train_batches,
)

from rnnkit.cli import main
from rnnkit.data.batch import Batch
from rnnkit.tasks import text
from rnnkit.train import fit, load_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"
TINY_TEXT = "".join(f"{w} the cat sat on mat {i % 7}.\n" for i, w in enumerate(["a", "b"] * 60))
OPTIONS = ["--hidden-size", "8", "--embedding-dim", "6", "--dropout", "0", "--output-dropout"]
OPTIONS += ["0.2", "--batch-size", "3", "--bptt", "10", "--eval-streams", "2", "--lr", "0.02"]
OPTIONS += ["--warmup-steps", "0", "--log-every", "5", "--num-threads", "1", "--quiet"]


def text_config(data: Path, out: Path, epochs: int = 2) -> text.TextConfig:
    base = text.PRESETS["small"]
    model = replace(base.model, encoder=replace(base.model.encoder, hidden_size=8))
    data_config = replace(base.data, path=str(data), bptt=10, eval_streams=2)
    train = replace(base.train, epochs=epochs, batch_size=3, progress=False, out_dir=str(out))
    return replace(base, data=data_config, model=model, train=replace(train, device="cpu"))


class Interrupting:
    """One epoch's batches (with a length, as the schedules need) that send this process
    SIGINT while producing batch `at` = (epoch, i)."""

    def __init__(self, batches: list[Batch], epoch: int, at: tuple[int, int]) -> None:
        self.batches, self.epoch, self.at = batches, epoch, at

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        for i, batch in enumerate(self.batches):
            if (self.epoch, i) == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            yield batch


def interrupting(batches: Any, at: tuple[int, int]) -> Any:
    """train_batches that send this process SIGINT while producing batch `at` = (epoch, i)."""
    return lambda epoch: Interrupting(list(batches(epoch)), epoch, at)


def test_a_text_run_resumed_mid_epoch_ends_exactly_as_the_straight_run(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT)
    config = text_config(data, tmp_path / "unused")
    prepared = text.prepare(config)
    results = []
    for name, at in (("straight", None), ("interrupted", (1, 4))):
        out = tmp_path / name
        torch.manual_seed(0)
        model = text.build_model(prepared.config)
        batches = prepared.train_batches if at is None else interrupting(prepared.train_batches, at)
        args: dict[str, Any] = {"evaluate": prepared.evaluate, "out_dir": out, "task": "text"}
        if at is not None:
            with pytest.raises(KeyboardInterrupt):
                fit(model, batches, prepared.dev_batches, config.train, **args)
            assert load_checkpoint(out / "last").carry_state is not None
            model = text.build_model(prepared.config)  # everything from the checkpoint
            args["resume"] = True
        result = fit(model, prepared.train_batches, prepared.dev_batches, config.train, **args)
        results.append((result, model))
    (a, model_a), (b, model_b) = results
    assert _untimed(a.history) == _untimed(b.history)
    assert a.final_metrics == b.final_metrics
    assert all(torch.equal(v, model_b.state_dict()[k]) for k, v in model_a.state_dict().items())


def test_a_double_interrupt_keeps_the_step_it_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fit_module = sys.modules["rnnkit.train.fit"]
    real_save = fit_module.save_checkpoint

    def interrupted_again(path: Path, *args: Any, **kwargs: Any) -> Path:
        if len(args) > 3 and args[3].train_state["in_progress"] is not None:  # interrupted
            os.kill(os.getpid(), signal.SIGINT)  # a 2nd Ctrl-C while `last` is written
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(fit_module, "save_checkpoint", interrupted_again)
    with caplog.at_level(logging.WARNING, logger="rnnkit.train"), pytest.raises(KeyboardInterrupt):
        fit(new_model(), interrupting(train_batches, (1, 3)), dev_batches, CONFIG,
            out_dir=tmp_path, task="toy")  # fmt: skip
    saving = [r.message for r in caplog.records if "saving the interrupted run" in r.message]
    announced = int(re.findall(r"step (\d+)", saving[0])[0])
    assert announced == 6 + 3
    assert load_checkpoint(tmp_path / "last").meta.global_step == announced


def cli(*args: str) -> int:
    return main(["train", "text", *OPTIONS, *args])


def test_resume_continues_on_the_recorded_config_data_and_vocabulary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, other = tmp_path / "tiny.txt", tmp_path / "other.txt"
    data.write_text(TINY_TEXT)
    other.write_text(TINY_TEXT[::-1] + "!")  # one character the run's vocabulary lacks
    out = str(tmp_path / "run")
    assert cli("--data", str(data), "--out", out, "--epochs", "1", "--bptt", "7") == 0
    vocab = load_checkpoint(Path(out) / "last").meta.extras["vocab"]
    # no --data, no --bptt: the recorded ones; --epochs given: it applies
    assert main(["train", "text", "--out", out, "--resume", "--epochs", "2", "--quiet"]) == 0
    meta = load_checkpoint(Path(out) / "last").meta
    assert meta.epoch == 2 and meta.extras["vocab"] == vocab
    assert meta.extras["data"]["path"] == str(data) and meta.extras["data"]["bptt"] == 7
    assert meta.extras["config"]["model"]["encoder"]["hidden_size"] == 8
    capsys.readouterr()
    assert cli("--out", out, "--resume", "--epochs", "3", "--data", str(other)) == 1
    err = capsys.readouterr().err
    assert "--data" in err and str(data) in err and "--change-data" in err
    args = ["--out", out, "--resume", "--epochs", "3", "--data", str(other), "--change-data"]
    assert cli(*args) == 1  # the run's vocabulary is kept: "!" has no id
    assert "'!'" in capsys.readouterr().err
    other.write_text(TINY_TEXT[::-1])
    assert cli(*args) == 0
    meta = load_checkpoint(Path(out) / "last").meta
    assert meta.extras["vocab"] == vocab and meta.extras["data"]["path"] == str(other)


KILLER = """
import os, signal, sys
import rnnkit.train.checkpoint as ck
real, saves = ck._write_file, []
def write(path, data):
    if path.parent.name == ".last.tmp":
        saves.append(path)
        if len(saves) == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
    real(path, data)
ck._write_file = write
from rnnkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kill_at", [4, 5])  # inside the 2nd epoch's `last`: first or 2nd file
def test_a_run_killed_during_a_checkpoint_write_resumes_to_the_same_result(
    tmp_path: Path, kill_at: int
) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT)
    common = ["train", "text", "--data", str(data), *OPTIONS, "--epochs", "3"]
    assert main([*common, "--out", str(tmp_path / "straight")]) == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(SRC), "KILL_AT": str(kill_at)}
    argv = [sys.executable, "-c", KILLER, *common, "--out", str(killed)]
    child = subprocess.run(argv, env=env, check=False)
    assert child.returncode == -signal.SIGKILL
    assert any(p.name in (".last.tmp", ".last.old") for p in killed.iterdir()), "killed mid-write"
    assert main([*common, "--out", str(killed), "--resume"]) == 0
    a, b = (load_checkpoint(tmp_path / n / "last") for n in ("straight", "killed"))
    assert _untimed(a.meta.history) == _untimed(b.meta.history)
    assert all(torch.equal(v, b.model_state[k]) for k, v in a.model_state.items())
    records = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
