"""Checks of configuration fields, written once: each message names the field by its
command-line flag (`hidden_size` -> `--hidden-size`) and by its place in the config class,
says what is expected and what was received, so that a user of the CLI and a user of the
library can both act on it:

    --dropout (EncoderConfig.dropout) must be in [0, 1), got 1.5
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from rnnkit.errors import RnnkitError

# torch.manual_seed takes [-2**63, 2**64); one bit is left for the rank added under torchrun.
SEED_RANGE = (-(2**63), 2**63)


def flag(field: str) -> str:
    """The command-line option of a config field: `hidden_size` -> `--hidden-size`."""
    return "--" + field.replace("_", "-")


def require(ok: bool, owner: str, field: str, expected: str, got: Any) -> None:
    """Raise RnnkitError naming the field's flag unless `ok`."""
    if not ok:
        where = f"{flag(field)} ({owner}.{field})" if owner else flag(field)
        raise RnnkitError(f"{where} must be {expected}, got {got!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(owner: str, field: str, value: Any, low: int) -> None:
    """An integer >= low."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    require(ok, owner, field, f"an integer >= {low}", value)


def check_fraction(owner: str, field: str, value: Any) -> None:
    """A dropout rate: a number in [0, 1) (NaN is not)."""
    require(_number(value) and 0 <= value < 1, owner, field, "in [0, 1)", value)


def check_positive(owner: str, field: str, value: Any) -> None:
    """A finite number > 0 (NaN and infinity are not)."""
    ok = _number(value) and math.isfinite(value) and value > 0
    require(ok, owner, field, "a finite number > 0", value)


def check_choice(owner: str, field: str, value: Any, choices: Collection[str]) -> None:
    """One of `choices`."""
    require(value in choices, owner, field, "one of " + ", ".join(choices), value)


def check_sampling(temperature: Any, top_k: Any, seed: Any) -> None:
    """The options of sampling from a model (`generate`): --temperature a finite number > 0,
    --top-k None or an integer >= 1, --seed one torch accepts."""
    check_positive("", "temperature", temperature)
    if top_k is not None:
        check_int("", "top_k", top_k, 1)
    check_seed("", "seed", seed)


def check_seed(owner: str, field: str, value: Any) -> None:
    """A random seed torch accepts."""
    low, high = SEED_RANGE
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value < high
    require(ok, owner, field, "an integer in [-2**63, 2**63)", value)
