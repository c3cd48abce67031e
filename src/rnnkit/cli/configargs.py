"""Config dataclasses as command-line options, and back.

Every leaf field of a (nested) frozen config dataclass becomes one option named after it:
`hidden_size` -> `--hidden-size`; a field may name its option otherwise with
`metadata={"option": "data"}` (a data config's `path` is `--data`). Its help text is the
comment written above the field in the dataclass, so the documentation lives in one place.
A string field whose values a config class lists in its class-level `CHOICES` mapping ({option
name: values}, for its own fields or those of the configs it holds; the outer class wins) is
offered with argparse choices: `--help` lists them and a value outside them is refused.
Options the user does not give keep the preset's value.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any

from rnnkit.errors import RnnkitError

FieldPath = tuple[str, ...]


def leaf_fields(config: Any, prefix: FieldPath = ()) -> dict[str, tuple[FieldPath, Any, Any]]:
    """{option name: (path, type hint, current value)} for every non-dataclass field."""
    out: dict[str, tuple[FieldPath, Any, Any]] = {}
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            for name, item in leaf_fields(value, prefix + (f.name,)).items():
                if name in out:
                    raise AssertionError(f"option --{name} would be ambiguous")
                out[name] = item
        else:
            name = f.metadata.get("option", f.name)
            if name in out:
                raise AssertionError(f"option --{name} would be ambiguous")
            out[name] = (prefix + (f.name,), hints[f.name], value)
    return out


def field_comments(cls: type) -> dict[str, str]:
    """The comment lines just above each field of a dataclass's source, joined."""
    comments: dict[str, str] = {}
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return comments
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending:
            comments[match.group(1)] = " ".join(pending)
        pending = []
    return comments


def _all_comments(config: Any) -> dict[str, str]:
    comments = field_comments(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            comments.update(_all_comments(value))
    return comments


def all_choices(config: Any) -> dict[str, tuple[Any, ...]]:
    """{option name: allowed values} from the CHOICES of `config`'s class and of every config
    it holds; an outer class's entry replaces an inner one (a task narrows `metric`)."""
    choices: dict[str, tuple[Any, ...]] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            choices.update(all_choices(value))
    choices.update({k: tuple(v) for k, v in getattr(type(config), "CHOICES", {}).items()})
    return choices


def _parser_for(hint: Any, option: str) -> tuple[Any, bool]:
    """(argparse type, optional) for a field's type hint."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    base = hint if hint in (int, float, str, bool) else str

    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null", "off"):
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {base.__name__}, got {text!r}") from None

    parse.__name__ = base.__name__
    return parse, optional


def add_config_arguments(
    parser: argparse.ArgumentParser, config: Any, hidden: frozenset[str] = frozenset()
) -> None:
    """One option per leaf field of `config`; an option not given is absent from the namespace."""
    comments = _all_comments(config)
    choices = all_choices(config)
    for name, (path, hint, value) in leaf_fields(config).items():
        if name in hidden:
            continue
        flag = "--" + name.replace("_", "-")
        help_text = comments.get(path[-1], "")
        help_text = f"{help_text} (default: {value})".strip().replace("%", "%%")
        if hint is bool:
            parser.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parse, optional = _parser_for(hint, flag)
            metavar = parse.__name__.upper()
            allowed: list[Any] | None = None
            if name in choices:
                allowed = [*choices[name], *([None] if optional else [])]
                metavar = "{" + ",".join(choices[name]) + "}"
            parser.add_argument(
                flag,
                dest=name,
                type=parse,
                choices=allowed,
                default=argparse.SUPPRESS,
                metavar=metavar + ("|none" if optional else ""),
                help=help_text,
            )


def apply_overrides(config: Any, values: dict[str, Any]) -> Any:
    """A copy of `config` with the given options replaced, nested fields included.

    Dataclass validation (__post_init__) runs again on every rebuilt level.
    """
    fields = leaf_fields(config)
    for name, value in values.items():
        if name not in fields:
            continue
        config = _replace_path(config, fields[name][0], value, name)
    return config


def _replace_path(config: Any, path: FieldPath, value: Any, option: str) -> Any:
    head, *rest = path
    new = value if not rest else _replace_path(getattr(config, head), tuple(rest), value, option)
    try:
        return dataclasses.replace(config, **{head: new})
    except (TypeError, ValueError) as e:
        raise RnnkitError(f"--{option.replace('_', '-')}: {e}") from e
