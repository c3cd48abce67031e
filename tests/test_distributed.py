"""Data-parallel training under torchrun equals one process over the union of the shards."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from rnnkit.train import init_distributed, load_checkpoint

# The worker is a script torchrun runs twice; the test imports the same file for the
# single-process reference, so model, data and config exist once.
WORKER = r'''
"""2-process DDP run of a tiny tagger (torchrun-style env vars), and the data both runs share."""
import json
import sys
from pathlib import Path

import torch
from torch import nn

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.train import TrainConfig, cleanup_distributed, fit, init_distributed
from rnnkit.models.losses import sequence_cross_entropy

V, C, SHARD, T, STEPS = 7, 3, 3, 5, 4  # SHARD sequences per rank and step, all of length T
CONFIG = TrainConfig(epochs=2, lr=0.05, clip_norm=0.5, progress=False, log_every=2,
                     restore_best=False, seed=0, device="cpu")


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(V, 4)
        self.rnn = nn.GRU(4, 6, batch_first=True)
        self.head = nn.Linear(6, C)

    def forward(self, batch: Batch) -> ModelOutput:
        logits = self.head(self.rnn(self.embed(batch.inputs))[0])  # (B, T, C)
        loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)


def _batch(inputs: torch.Tensor) -> Batch:
    lengths = torch.full((inputs.shape[0],), inputs.shape[1])
    return Batch(inputs, lengths, mask_from_lengths(lengths), (inputs * 2 + 1) % C)


def global_inputs(epoch: int, world_size: int = 2) -> list[torch.Tensor]:
    """Per step, the union of every rank's shard: (world_size * SHARD, T) ids."""
    g = torch.Generator().manual_seed(10 + epoch)
    return [torch.randint(0, V, (world_size * SHARD, T), generator=g) for _ in range(STEPS)]


def shard_batches(epoch: int, rank: int, world_size: int) -> list[Batch]:
    return [_batch(x[rank * SHARD:(rank + 1) * SHARD]) for x in global_inputs(epoch, world_size)]


def union_batches(epoch: int) -> list[Batch]:
    return [_batch(x) for x in global_inputs(epoch)]


def dev_batches() -> list[Batch]:
    g = torch.Generator().manual_seed(99)
    return [_batch(torch.randint(0, V, (4, T), generator=g)) for _ in range(2)]


def main(out: Path) -> None:
    info = init_distributed("cpu")
    model = Tagger()
    result = fit(model, lambda e: shard_batches(e, info.rank, info.world_size), dev_batches,
                 CONFIG, out_dir=out / "ddp", dist=info)
    report = {"world_size": info.world_size, "history": result.history}
    try:  # rank 1 gets one batch more: every rank must stop with the same error, not hang
        fit(Tagger(), lambda e: shard_batches(e, 0, 2)[: STEPS - 1 + info.rank], None, CONFIG,
            dist=info)
    except RnnkitError as e:
        report["uneven"] = str(e)
    (out / f"rank{info.rank}.json").write_text(json.dumps(report))
    cleanup_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
'''

TIMING = ("seconds", "eval_seconds", "tokens_per_s")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_all(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Each process's output once all have ended (killed after 3 minutes); each must exit 0."""
    try:
        outputs = [p.communicate(timeout=180)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, output in zip(procs, outputs, strict=True):
        assert p.returncode == 0, output[-3000:]
    return outputs


def run_two_ranks(argv: list[str]) -> list[str]:
    """Run `argv` as ranks 0 and 1 of a gloo group, with the variables torchrun sets (without
    torchrun's extra agent process: a third torch import would cost seconds); their outputs."""
    base = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "WORLD_SIZE": "2",
        "LOCAL_WORLD_SIZE": "2",
    }
    procs = [
        subprocess.Popen(
            argv,
            env={**base, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    return wait_all(procs)


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ddp_worker", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_torchrun_is_a_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.is_main, info.is_distributed) == (0, 1, True, False)
    assert not torch.distributed.is_initialized()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_two_process_ddp_equals_single_process_over_the_union(tmp_path: Path) -> None:
    script = tmp_path / "ddp_worker.py"
    script.write_text(WORKER)
    run_two_ranks([sys.executable, str(script), str(tmp_path)])
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in reports)
    untimed = [
        [{k: v for k, v in rec.items() if k not in TIMING} for rec in r["history"]] for r in reports
    ]
    assert untimed[0] == untimed[1]  # every rank reports the same all-reduced numbers
    for r in reports:
        assert "ranks yielded different numbers of batches" in r["uneven"]

    worker = _import(script)
    torch.set_num_threads(1)
    reference = worker.Tagger()
    single = worker.fit(reference, worker.union_batches, worker.dev_batches, worker.CONFIG)
    for ddp_rec, ref_rec in zip(untimed[0], single.history):
        for key in ("train_loss", "grad_norm", "dev_loss", "lr"):
            assert ddp_rec[key] == pytest.approx(ref_rec[key], rel=1e-6, abs=1e-7), key
        assert ddp_rec["step"] == ref_rec["step"]
    ddp_state = load_checkpoint(tmp_path / "ddp" / "last").model_state
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(ddp_state[name], value, rtol=0, atol=1e-6)
    assert not any(
        torch.equal(ddp_state[n], v) for n, v in worker.Tagger().state_dict().items() if v.dim() > 0
    )  # it trained
