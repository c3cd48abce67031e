"""Rebuild a trained model from a checkpoint directory: config from JSON, weights from
safetensors (never pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.train.checkpoint import CheckpointMeta, load_checkpoint
from rnnkit.train.config import from_dict, to_dict

ARCHITECTURES: dict[str, tuple[type[Any], type[nn.Module]]] = {
    "classifier": (ClassifierConfig, SequenceClassifier),
    "tagger": (TaggerConfig, SequenceTagger),
    "language_model": (LanguageModelConfig, LanguageModel),
}


def register_architecture(name: str, config_cls: type[Any], model_cls: type[nn.Module]) -> None:
    """Make a model class known to `load_model` (task recipes with their own models call it)."""
    ARCHITECTURES[name] = (config_cls, model_cls)


def describe_model(architecture: str, config: Any) -> dict[str, Any]:
    """The JSON saved as a checkpoint's model_config."""
    return {"architecture": architecture, "config": to_dict(config)}


def build_model(model_config: dict[str, Any]) -> nn.Module:
    """A fresh model from `describe_model`'s JSON."""
    try:
        config_cls, model_cls = ARCHITECTURES[model_config["architecture"]]
        config = from_dict(config_cls, model_config["config"])
    except (KeyError, TypeError) as e:
        raise RnnkitError(f"model configuration is incomplete or unknown: {e}") from e
    return model_cls(config)


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
