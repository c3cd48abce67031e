"""Run directories: a run is never overwritten without an explicit choice, a failing run leaves
the old log alone, one run at a time owns a directory (`.lock`), stale locks are taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fit_helpers import (  # noqa: F401  (_one_thread: the autouse fixture)
    CONFIG,
    _one_thread,
    dev_batches,
    new_model,
    train_batches,
)

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.train import TrainConfig, fit, load_checkpoint, read_metrics

LOCK_FILE = ".lock"
SHORT = replace(CONFIG, epochs=1)


def run(out: Path, config: TrainConfig = SHORT, **kwargs: object) -> None:
    fit(new_model(), train_batches, dev_batches, config, out_dir=out, task="toy", **kwargs)


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    run(out, replace(CONFIG, epochs=2))
    return out


def test_a_directory_holding_a_run_is_refused_without_resume_or_overwrite(finished: Path) -> None:
    before = snapshot(finished)
    with pytest.raises(RnnkitError, match="already holds a run") as e:
        run(finished)
    assert "--resume" in str(e.value) and "--overwrite" in str(e.value)
    assert snapshot(finished) == before, "nothing written, nothing removed"


def test_a_failing_run_leaves_the_old_log_whole(finished: Path) -> None:
    lines = (finished / "metrics.jsonl").read_text()

    def diverging(epoch: int) -> list[object]:
        raise RnnkitError("loss diverged")

    with pytest.raises(RnnkitError):
        fit(new_model(), diverging, dev_batches, SHORT, out_dir=finished, task="toy")
    assert (finished / "metrics.jsonl").read_text() == lines
    with pytest.raises(RnnkitError, match="loss diverged"):  # a resumed one appends after it
        fit(new_model(), diverging, dev_batches, CONFIG, out_dir=finished, task="toy", resume=True)
    assert (finished / "metrics.jsonl").read_text() == lines


def test_overwrite_replaces_only_the_run(finished: Path) -> None:
    (finished / "notes.txt").write_text("mine")
    run(finished, replace(SHORT, overwrite=True))
    assert [r["epoch"] for r in read_metrics(finished) if r["kind"] == "epoch"] == [1]
    assert load_checkpoint(finished / "last").meta.epoch == 1
    assert (finished / "notes.txt").read_text() == "mine"
    assert not (finished / LOCK_FILE).exists(), "the lock goes with the run"


def test_empty_paths_and_contradictions_are_refused(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RnnkitError, match="empty"):
        fit(new_model(), train_batches, None, SHORT, out_dir="")
    with pytest.raises(RnnkitError, match="empty"):
        TrainConfig(out_dir="")
    with pytest.raises(RnnkitError, match="contradict"):
        run(finished, replace(SHORT, overwrite=True), resume=True)
    # `--out ''` must not mean the default runs/text
    assert main(["train", "text", "--out", "", "--data", "missing.txt"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_cli_refuses_an_existing_run_naming_both_options(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finished / "last").rename(finished / "elsewhere")  # metrics.jsonl alone marks a run
    assert main(["train", "text", "--out", str(finished), "--data", "missing.txt"]) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert "--overwrite" in _train_help(capsys)


def _train_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["train", "text", "--help"])
    return capsys.readouterr().out


def test_a_second_run_into_a_locked_directory_fails_at_once(tmp_path: Path) -> None:
    from rnnkit.train.rundir import RunLock

    out = tmp_path / "run"
    lock = RunLock(out).acquire()
    try:
        with pytest.raises(RnnkitError, match=f"in use by another run \\(pid {os.getpid()}"):
            run(out)
        with pytest.raises(RnnkitError, match="in use"):  # overwrite deletes nothing either
            run(out, replace(SHORT, overwrite=True))
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    finally:
        lock.release()
    run(out)  # free again
    assert not (out / LOCK_FILE).exists()


def test_a_stale_lock_is_taken_over_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING, logger="rnnkit.train"):
        run(out)
    assert any("stale lock" in r.message and str(pid) in r.message for r in caplog.records)
    assert load_checkpoint(out / "last").meta.epoch == 1


def test_the_lock_holds_the_owner_pid_while_the_run_lives(tmp_path: Path) -> None:
    out = tmp_path / "run"
    seen: list[dict[str, object]] = []

    def batches(epoch: int) -> list[object]:
        seen.append(json.loads((out / LOCK_FILE).read_text()))
        return train_batches(epoch)

    fit(new_model(), batches, dev_batches, SHORT, out_dir=out)
    assert seen == [{"pid": os.getpid(), "host": socket.gethostname()}]
    assert not (out / LOCK_FILE).exists()


def test_without_out_a_second_run_goes_beside_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --out: the preset's runs/<task> is kept, the next run goes to runs/<task>-2."""
    from test_distributed_cli import write_jsb

    from rnnkit.cli import main

    monkeypatch.chdir(tmp_path)
    data = write_jsb(tmp_path / "jsb")
    args = ["train", "music", "--source", "jsb", "--data", str(data), "--hidden-size", "4",
            "--epochs", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    first = (tmp_path / "runs" / "music" / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main(args) == 0
    assert (
        "runs/music holds an earlier run: this one goes to runs/music-2" in capsys.readouterr().err
    )
    assert (tmp_path / "runs" / "music" / "metrics.jsonl").read_bytes() == first
    assert (tmp_path / "runs" / "music-2" / "best").is_dir()
    assert main([*args, "--out", "runs/music"]) == 1  # named explicitly: refused
