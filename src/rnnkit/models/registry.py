"""The one registry of model architectures: a name for each model class, so that a checkpoint
can say what it holds and be rebuilt from JSON.

Every architecture registers itself where it is defined, with a decorator:

    @register_architecture("classifier", ClassifierConfig)
    class SequenceClassifier(nn.Module): ...

`describe_model(model)` is the JSON a checkpoint saves as its model_config (the model says
what it is: a subclass, such as the stateful language model, is described as the registered
class it derives from); `build_model(description)` makes a fresh, untrained model from it.
Loading the weights as well is the training engine's job (`rnnkit.train.load_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from rnnkit.config import from_dict, to_dict
from rnnkit.errors import RnnkitError

M = TypeVar("M", bound=type[nn.Module])

# name -> (config dataclass, model class)
ARCHITECTURES: dict[str, tuple[type[Any], type[nn.Module]]] = {}


def register_architecture(name: str, config_cls: type[Any]) -> Callable[[M], M]:
    """Class decorator: make a model class known under `name`, built from a `config_cls`."""

    def register(model_cls: M) -> M:
        known = ARCHITECTURES.get(name)
        if known is not None and known[1] is not model_cls:
            raise RnnkitError(f"architecture {name!r} is already registered by {known[1]}")
        ARCHITECTURES[name] = (config_cls, model_cls)
        return model_cls

    return register


def architecture_of(model: nn.Module) -> str:
    """The registered name of a model's class, or of the nearest registered class it derives
    from."""
    names = {model_cls: name for name, (_, model_cls) in ARCHITECTURES.items()}
    for cls in type(model).__mro__:
        if cls in names:
            return names[cls]
    raise RnnkitError(f"{type(model).__name__} is not a registered architecture")


def describe_model(model: nn.Module) -> dict[str, Any]:
    """The JSON saved as a checkpoint's model_config: {"architecture", "config"}."""
    return {"architecture": architecture_of(model), "config": to_dict(model.config)}


def build_model(description: Mapping[str, Any]) -> nn.Module:
    """A fresh, untrained model from `describe_model`'s JSON."""
    try:
        config_cls, model_cls = ARCHITECTURES[description["architecture"]]
        config = from_dict(config_cls, description["config"])
    except (KeyError, TypeError) as e:
        raise RnnkitError(f"model configuration is incomplete or unknown: {e}") from e
    return model_cls(config)
