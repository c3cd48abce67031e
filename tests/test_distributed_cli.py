"""`torchrun -m rnnkit train TASK`: the command line joins the process group, trains one model
on each rank's shard of the data, and only rank 0 writes and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_distributed import _free_port, wait_all

from rnnkit.train import load_checkpoint

PIECE = [[60, 64, 67], [62, 65], [64, 67, 72], [60], [59, 62, 67], [60, 64]]


def write_jsb(folder: Path) -> Path:
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps([PIECE * (1 + i % 3) for i in range(8)]))
    (folder / "valid.json").write_text(json.dumps([PIECE] * 2))
    return folder


def train_args(data: Path, out: Path) -> list[str]:
    return [
        "train", "music", "--source", "jsb", "--data", str(data), "--hidden-size", "8",
        "--epochs", "2", "--batch-size", "2", "--device", "cpu", "--quiet", "--out", str(out),
    ]  # fmt: skip


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    code = "import sys; from rnnkit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    return wait_all(procs)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_torchrun_through_the_cli_trains_one_sharded_model(tmp_path: Path) -> None:
    data = write_jsb(tmp_path / "jsb")
    alone = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    alone["OMP_NUM_THREADS"] = "1"
    # The variables torchrun sets for each process (without its extra agent process).
    group = {
        **alone,
        "GLOO_SOCKET_IFNAME": "lo",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "WORLD_SIZE": "2",
        "LOCAL_WORLD_SIZE": "2",
    }
    ranks = [
        run_cli(train_args(data, tmp_path / "ddp"), {**group, "RANK": r, "LOCAL_RANK": r})
        for r in ("0", "1")
    ]
    rank0, rank1 = finish(ranks)
    (single,) = finish([run_cli(train_args(data, tmp_path / "single"), alone)])

    assert "trained 2 epochs" in rank0 and "trained" not in rank1  # rank 0 reports
    log = [
        json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in log if r["kind"] == "epoch"] == [1, 2]  # one writer
    ddp = load_checkpoint(tmp_path / "ddp" / "last").meta
    one = load_checkpoint(tmp_path / "single" / "last").meta
    # Each rank trained on its half of the batches: half the optimiser steps of one process.
    assert ddp.global_step * 2 == one.global_step
    assert "trained 2 epochs" in single
