"""Config dataclasses <-> JSON dicts, for every config of every package.

`to_dict` / `from_dict` work for any (nested) frozen config dataclass: the training config,
the model configs saved in checkpoints, and the task recipes' data configs all travel through
JSON the same way. This module sits at the bottom of the package, beside `rnnkit.errors`, so
that any layer may use it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from rnnkit.errors import RnnkitError

C = TypeVar("C")


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass (nested ones included) as a JSON-able dict; tuples become lists."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"to_dict expects a dataclass instance, got {type(config).__name__}")
    return {f.name: _to_json(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build the dataclass `cls` from a dict made by `to_dict` (or written by hand in JSON).

    Unknown keys are rejected (a misspelt option must not be silently ignored); missing keys
    take their defaults; nested dataclasses and tuples are rebuilt from dicts and lists; simple
    field types (int, float, str, bool, their Optional forms) are checked.
    """
    name = cls.__name__
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"from_dict expects a dataclass type, got {name}")
    if not isinstance(data, Mapping):
        raise RnnkitError(f"{name}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RnnkitError(
            f"{name}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"known fields: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {key: _from_json(f"{name}.{key}", hints[key], value) for key, value in data.items()}
    return cls(**kwargs)


_SIMPLE = (bool, int, float, str)


def _from_json(where: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _from_json(where, options[0], value)
        return value  # a real union of several types: passed through unchecked
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise RnnkitError(f"{where}: expected a JSON object, got {value!r}")
        return from_dict(hint, value)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(f"{where}[{i}]", args[0], v) for i, v in enumerate(value))
        if args and len(args) == len(value):
            return tuple(
                _from_json(f"{where}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value))
            )
        return tuple(value)
    if origin is list and isinstance(value, (list, tuple)) and args:
        return [_from_json(f"{where}[{i}]", args[0], v) for i, v in enumerate(value)]
    if hint in _SIMPLE:
        ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # JSON writes 1.0 as 1 sometimes; an int is a fine float
        if not ok:
            raise RnnkitError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}"
            )
    return value
