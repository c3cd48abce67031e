"""Load a trained model from a checkpoint directory in one call: config from JSON, weights
from safetensors (never pickle)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

import rnnkit.models  # noqa: F401  (every architecture registers itself on import)
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.models.registry import build_model
from rnnkit.train.checkpoint import CheckpointMeta, load_checkpoint


def load_model(
    path: str | Path, expected_task: str | None = None
) -> tuple[nn.Module, CheckpointMeta]:
    """The model saved in checkpoint directory `path` (e.g. runs/music/best), in eval mode.

    Raises CheckpointError when the directory is missing, truncated or corrupt, or was made by
    another task than `expected_task`.
    """
    loaded = load_checkpoint(path, expected_task=expected_task)
    try:
        model = build_model(loaded.meta.model_config)
    except RnnkitError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from e
    loaded.restore(model)
    return model.eval(), loaded.meta
