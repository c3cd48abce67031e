"""Checks of a checkpoint's model tensors: finite values, and names, shapes and dtypes that fit
the model they are loaded into. Each failure is a `CheckpointError` naming the file (or
checkpoint) and the tensor."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnkit.errors import CheckpointError

# Tensor dtypes a model's state may hold: weights (floating point), counters and ids
# (integers), masks (bool).
ALLOWED_DTYPES = frozenset(
    {
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.uint8,
        torch.bool,
    }
)


def check_tensor_values(state: Mapping[str, Tensor], where: str | Path) -> None:
    """Raise CheckpointError for a tensor of a dtype no model holds, or with NaN or inf
    values (a run that diverged, or a damaged file): such weights predict nothing."""
    for name, t in state.items():
        if t.dtype not in ALLOWED_DTYPES:
            raise CheckpointError(f"{where}: tensor {name!r} has dtype {t.dtype}, not a weight's")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(
                f"{where}: tensor {name!r} holds {bad} non-finite value(s) (NaN or inf); the run "
                "diverged or the file is damaged"
            )


def check_model_state(model: nn.Module, state: Mapping[str, Tensor], where: str | Path) -> None:
    """Raise CheckpointError unless `state` has exactly the model's tensor names, shapes and
    dtypes."""
    own = model.state_dict()
    mismatched = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if not (mismatched or missing or unexpected):
        for k, t in own.items():
            if state[k].dtype != t.dtype:
                raise CheckpointError(
                    f"checkpoint {where} does not fit this model: tensor {k!r} is "
                    f"{state[k].dtype} in the checkpoint but {t.dtype} in the model"
                )
        return
    if mismatched:
        k = mismatched[0]
        first = (
            f"tensor {k!r} is {tuple(state[k].shape)} in the checkpoint but "
            f"{tuple(own[k].shape)} in the model"
        )
    elif missing:
        first = f"model tensor {missing[0]!r} is missing from the checkpoint"
    else:
        first = f"checkpoint tensor {unexpected[0]!r} has no counterpart in the model"
    raise CheckpointError(
        f"checkpoint {where} does not fit this model: {first} ({len(mismatched)} shape "
        f"mismatches, {len(missing)} missing, {len(unexpected)} unexpected); was it made with "
        "another model configuration?"
    )
