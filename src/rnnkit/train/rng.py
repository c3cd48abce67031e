"""The random generators of a process: seeding them, capturing and restoring their states, and
the states' checkpoint form (JSON plus uint8 tensors, never a pickle)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import CheckpointError


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class RngState:
    """The random generators of one process: Python's, NumPy's, torch's CPU and current GPU."""

    python: Any  # random.getstate()
    numpy: Any  # np.random.get_state()
    torch_cpu: Tensor  # torch.get_rng_state(): uint8
    torch_cuda: Tensor | None = None  # torch.cuda.get_rng_state(device) of the training GPU

    @classmethod
    def capture(cls, device: torch.device | None = None) -> RngState:
        cuda = None
        if device is not None and device.type == "cuda":
            cuda = torch.cuda.get_rng_state(device)
        return cls(random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda)

    def restore(self, device: torch.device | None = None) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch_cpu)
        if self.torch_cuda is not None and device is not None and device.type == "cuda":
            torch.cuda.set_rng_state(self.torch_cuda, device)


def rng_to_json(state: RngState, rank: int, tensors: dict[str, Tensor]) -> dict[str, Any]:
    """`state` as JSON; its torch states go to `tensors` under "rng.<rank>.torch_cpu/cuda"."""
    version, internal, gauss = state.python
    kind, keys, pos, has_gauss, cached = state.numpy
    tensors[f"rng.{rank}.torch_cpu"] = state.torch_cpu.detach().cpu().contiguous()
    if state.torch_cuda is not None:
        tensors[f"rng.{rank}.cuda"] = state.torch_cuda.detach().cpu().contiguous()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
        "torch_cpu": f"rng.{rank}.torch_cpu",
        "torch_cuda": None if state.torch_cuda is None else f"rng.{rank}.cuda",
    }


def rng_from_json(data: Mapping[str, Any], tensors: Mapping[str, Tensor], where: Path) -> RngState:
    """Inverse of `rng_to_json`; `where` (the tensor file) names the checkpoint in errors."""
    version, internal, gauss = data["python"]
    kind, keys, pos, has_gauss, cached = data["numpy"]
    for key in (data["torch_cpu"], data["torch_cuda"]):
        if key is not None and key not in tensors:
            raise CheckpointError(f"{where}: RNG tensor {key!r} is missing")
    return RngState(
        python=(version, tuple(internal), gauss),
        numpy=(kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached),
        torch_cpu=tensors[data["torch_cpu"]],
        torch_cuda=None if data["torch_cuda"] is None else tensors[data["torch_cuda"]],
    )
