"""Mixed precision for the training step.

With precision "bf16" the forward pass runs under `torch.autocast` in bfloat16: matrix
products take bfloat16 inputs (accumulating in float32), while softmax, the losses and
reductions stay in float32 by autocast's own rules. The weights, their gradients and the
optimiser's state stay float32, so no loss scaling is needed (bfloat16 has float32's range).
Evaluation and inference run in float32.

"fp16" autocasts to float16 on a CUDA GPU (cuDNN's recurrent kernels and tensor cores take it)
and scales the loss with a `torch.amp.GradScaler`: float16 gradients below about 6e-8 would
flush to zero, so the loss is multiplied by a scale S before the backward pass, the gradients
divided by S before clipping, and a step whose gradients overflowed (inf or NaN) is skipped
and S halved; S doubles after 2,000 clean steps. The scaler's state is part of a resumable
checkpoint. The CPU has no fp16: PyTorch's CPU LSTM kernel (oneDNN) has no float16 version
and the CPU's float16 products are emulated, slower than float32; bf16 is the CPU's option.

"auto" picks bf16 where the hardware multiplies bfloat16 natively (a CUDA GPU that supports
it, or a CPU with AVX512-BF16 or AMX; there it is about 3.5 times the float32 speed for the
output layer of a translation model on one CPU thread, benchmarks/translate_tatoeba.py) and
float32 elsewhere, where emulated bfloat16 would be slower.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from rnnkit.errors import RnnkitError


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
    return False


def check_precision(precision: str, device: torch.device) -> None:
    """RnnkitError when `precision` cannot run on `device` (fp16 off a CUDA GPU)."""
    if precision == "fp16" and device.type != "cuda":
        raise RnnkitError(
            f"precision fp16 needs a CUDA GPU, and this run is on {device.type}: the CPU's "
            "LSTM kernel has no float16 version and its float16 products are emulated; use "
            "--precision bf16 (or auto, which picks bf16 where the CPU has it natively)"
        )


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the training step's forward pass is cast to; None for float32."""
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """The loss scaler fp16 training needs (module docstring); None for every other precision."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """`torch.autocast` on `device` in `dtype`, or nothing when dtype is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device.type, dtype=dtype):
        yield
