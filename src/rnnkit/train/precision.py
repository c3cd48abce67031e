"""Mixed precision for the training step.

With precision "bf16" the forward pass runs under `torch.autocast` in bfloat16: matrix
products take bfloat16 inputs (accumulating in float32), while softmax, the losses and
reductions stay in float32 by autocast's own rules. The weights, their gradients and the
optimiser's state stay float32, so no loss scaling is needed (bfloat16 has float32's range).
Evaluation and inference run in float32.

"auto" picks bf16 where the hardware multiplies bfloat16 natively (a CUDA GPU that supports
it, or a CPU with AVX512-BF16 or AMX; there it is about 3.5 times the float32 speed for the
output layer of a translation model on one CPU thread, benchmarks/translate_tatoeba.py) and
float32 elsewhere, where emulated bfloat16 would be slower.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
    return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the training step's forward pass is cast to; None for float32."""
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """`torch.autocast` on `device` in `dtype`, or nothing when dtype is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device.type, dtype=dtype):
        yield
