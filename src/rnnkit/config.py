"""Config dataclasses <-> JSON dicts, for every config of every package.

`to_dict` / `from_dict` work for any (nested) frozen config dataclass: the training config,
the model configs saved in checkpoints, and the task recipes' data configs all travel through
JSON the same way. This module sits at the bottom of the package, beside `rnnkit.errors`, so
that any layer may use it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
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
        if isinstance(value, Mapping) and all(_is_dataclass_type(o) for o in options):
            return _one_of(where, options, value)
        return value  # a real union of several other types: passed through unchecked
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


def _is_dataclass_type(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint) and isinstance(hint, type)


def _one_of(where: str, options: list[Any], value: Mapping[str, Any]) -> Any:
    """A union of config dataclasses (e.g. a CRF tagger's or a softmax tagger's config): the
    first whose fields take every key of `value` (unknown keys are refused, so the fields
    tell the options apart)."""
    errors = []
    for option in options:
        try:
            return from_dict(option, value)
        except RnnkitError as e:
            errors.append(str(e))
    raise RnnkitError(f"{where}: fits none of {', '.join(o.__name__ for o in options)}: {errors}")


def read_config_file(path: str | Path, base: C) -> C:
    """`base` (a config dataclass) with the values of a JSON or TOML file laid over it.

    The file holds the same nested object `to_dict` writes (`rnnkit train TASK --print-config`
    prints one); it may give only some fields. Unknown keys and values of the wrong type are
    an RnnkitError naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise RnnkitError(f"{p}: cannot read the config file ({e.strerror or e})") from None
    try:
        if p.suffix.lower() == ".toml":
            import tomllib  # Python 3.11+

            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except ImportError:
        raise RnnkitError(f"{p}: TOML config files need Python 3.11 or later") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise RnnkitError(f"{p}: not a valid {p.suffix.lstrip('.') or 'JSON'} file: {e}") from None
    if not isinstance(data, Mapping):
        raise RnnkitError(f"{p}: expected an object of config fields, got {type(data).__name__}")
    try:
        return from_dict(type(base), _merge(to_dict(base), data))
    except RnnkitError as e:
        raise RnnkitError(f"{p}: {e}") from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid over `base`, nested objects merged key by key. An object with a key that
    `base`'s has not replaces it whole (another kind of config, e.g. a softmax tagger's in
    place of a CRF tagger's)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and set(value) <= set(old):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
