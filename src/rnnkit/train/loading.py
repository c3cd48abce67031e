"""Save and load a trained model in one call each: config as JSON, weights as safetensors
(never pickle).

    save_model(model, "model")           # any registered architecture
    model, meta = load_model("model")    # or load_model("runs/x/best") after fit
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

import rnnkit.models  # noqa: F401  (every architecture registers itself on import)
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.models.registry import build_model, describe_model
from rnnkit.train.checkpoint import (
    CheckpointMeta,
    load_checkpoint,
    save_checkpoint,
    unwrap_model,
)


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


def model_description(model: nn.Module) -> dict[str, Any]:
    """`describe_model(model)` for a registered architecture, else {} (`fit`'s default
    model_config: a model trained by `fit` then reloads with `load_model(path)` alone)."""
    model = unwrap_model(model)
    if not hasattr(model, "config"):
        return {}
    try:
        return describe_model(model)
    except RnnkitError:  # not a registered architecture: the caller must rebuild it
        return {}


def save_model(
    model: nn.Module,
    path: str | Path,
    *,
    task: str | None = None,
    extras: Mapping[str, Any] | None = None,
) -> Path:
    """Save a registered model's weights and description to the checkpoint directory `path`
    (atomically, weights-only); `load_model(path)` rebuilds it. Returns the path.

    extras: JSON data to keep beside it (vocabularies, label sets), read back as meta.extras.
    Raises RnnkitError for a model whose class is not a registered architecture.
    """
    description = describe_model(unwrap_model(model))
    meta = CheckpointMeta(task=task, model_config=description, extras=dict(extras or {}))
    return save_checkpoint(path, model, meta=meta)
