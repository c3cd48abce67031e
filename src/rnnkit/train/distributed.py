"""Data-parallel training under torchrun: which process am I, and how processes agree.

Launch any training script with

    torchrun --nproc_per_node=N script.py ...

torchrun starts N copies and tells each one who it is through environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). `init_distributed()` reads them, joins the
process group (gloo on CPU, NCCL on GPU) and returns a `DistInfo`; without torchrun it returns
the single-process `DistInfo` and initialises nothing, so the same script runs both ways.

The contract with `rnnkit.train.fit`:

* Sharding is the caller's: build the training batches with `rank=info.rank,
  world_size=info.world_size` (e.g. `rnnkit.data.batching.BucketBatcher`) and pass
  `train_batches(epoch)` yielding this process's share, the same number of batches on every
  rank (fit checks it on every step and stops with an error rather than hang).
* The dev batches are NOT sharded: every rank evaluates the whole dev split and rank 0's
  metrics are broadcast, so that metrics which are not means (F1) stay exact and every rank
  takes the same early-stopping decision.
* `fit(..., dist=info)` wraps the model in DistributedDataParallel, which averages the
  gradients over ranks after each backward pass; the training loss is all-reduced
  count-weighted; only rank 0 writes checkpoints, logs and plots.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a (possibly single-process) data-parallel job."""

    rank: int  # global index of this process, 0 .. world_size - 1
    world_size: int  # number of processes
    local_rank: int  # index on this machine: picks the GPU
    device: torch.device  # where this process trains

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and shows progress."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The device of this process: "auto" -> cuda:<local_rank> when CUDA is available, else
    cpu; "cuda" -> cuda:<local_rank>."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RnnkitError(
            f"device {name!r} was asked for but CUDA is not available; use --device cpu or auto"
        )
    return device


def single_process(device: str = "auto") -> DistInfo:
    """The DistInfo of an ordinary, non-distributed run."""
    return DistInfo(rank=0, world_size=1, local_rank=0, device=resolve_device(device))


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistInfo:
    """Join the torchrun process group described by the environment (or run alone).

    Reads RANK, WORLD_SIZE and LOCAL_RANK (MASTER_ADDR and MASTER_PORT are read by torch's
    env:// rendezvous). With WORLD_SIZE unset or 1 nothing is initialised. On a GPU device the
    backend is NCCL and this process takes GPU `LOCAL_RANK`; on CPU it is gloo. `timeout_s`
    bounds how long a collective waits for a slow rank before failing.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return single_process(device)
    try:
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as e:
        raise RnnkitError(
            f"WORLD_SIZE={world_size} but RANK/LOCAL_RANK are missing or not integers ({e}); "
            "launch with torchrun, which sets them"
        ) from e
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not tdist.is_initialized():
        tdist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def current_dist(device: str = "auto") -> DistInfo:
    """The DistInfo of an already initialised process group, or a single process."""
    if tdist.is_available() and tdist.is_initialized():
        world_size = tdist.get_world_size()
        if world_size > 1:
            rank = tdist.get_rank()
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            return DistInfo(rank, world_size, local_rank, resolve_device(device, local_rank))
    return single_process(device)


@contextmanager
def distributed_run(device: str = "auto") -> Iterator[DistInfo]:
    """`with distributed_run(device) as info:` joins the torchrun process group for the block
    when the environment describes one (see `init_distributed`), and leaves it afterwards;
    alone it is a single-process DistInfo. The command line trains inside one, so that
    `torchrun --nproc_per_node=N -m rnnkit train TASK` trains one model on N shards."""
    info = init_distributed(device)
    try:
        yield info
    finally:
        if info.is_distributed:
            cleanup_distributed()


def cleanup_distributed() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op alone)."""
    if info.is_distributed:
        tdist.barrier()


def all_reduce_max(values: list[float], info: DistInfo) -> list[float]:
    """Element-wise maximum over ranks (the list as given when alone)."""
    if not info.is_distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return [float(v) for v in t.tolist()]


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Element-wise sum over ranks (the list as given when alone)."""
    if not info.is_distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
    return [float(v) for v in t.tolist()]


def broadcast_object(obj: Any, info: DistInfo, src: int = 0) -> Any:
    """Rank `src`'s value of a small picklable object, on every rank (in memory only)."""
    if not info.is_distributed:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=src, device=_collective_device(info))
    return box[0]


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's value of a small picklable object, indexed by rank (in memory only)."""
    if not info.is_distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    tdist.all_gather_object(out, obj)
    return out


def _collective_device(info: DistInfo) -> torch.device | None:
    return info.device if info.device.type == "cuda" else None


def training_net(model: nn.Module, dist: DistInfo, compile: bool = False) -> nn.Module:
    """What the training steps call: `model` itself, or DistributedDataParallel(model) under
    torchrun, and that wrapped by torch.compile when `compile` (the parameters stay the
    model's own: `rnnkit.train.checkpoint.unwrap_model` finds it inside both wrappers)."""
    net: nn.Module = model
    if dist.is_distributed:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids)
    if compile:
        net = torch.compile(net)  # type: ignore[assignment]
    return net
