"""What a task's command-line module declares: its evaluate options and printing, and the
verbs only it has. One `TaskCommands` per task (`rnnkit.cli.music.COMMANDS`, ...)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _no_options(parser: argparse.ArgumentParser) -> None:
    pass


def _no_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    pass


@dataclass(frozen=True)
class TaskCommands:
    """A task's part of the command line, beside the generic `train` and `evaluate`.

    evaluate_help, data_help, split_help: the help texts of `evaluate TASK` and its --data
        and --split options;
    add_evaluate_options: adds the options only this task's `evaluate` has, whose names are
        `evaluate_options` (passed to the recipe's evaluate as keyword arguments);
    format_evaluation: the table `evaluate` prints (default: `format_metrics`);
    add_commands(verbs, commands): adds the task's own sub-parsers, e.g. `generate TASK` to
        verbs["generate"], or a top-level command such as `tag` to `commands`.
    """

    evaluate_help: str
    data_help: str
    split_help: str
    add_evaluate_options: Callable[[argparse.ArgumentParser], None] = _no_options
    evaluate_options: tuple[str, ...] = ()
    format_evaluation: Callable[[dict[str, Any]], str] | None = None
    add_commands: Callable[[Mapping[str, Any], Any], None] = field(default=_no_commands)


def format_metrics(result: Mapping[str, Any], prefix: str = "") -> str:
    """One `name  value` line per metric, nested results with dotted names."""
    lines = []
    width = max([16] + [len(n) for n, v in result.items() if not isinstance(v, Mapping)])
    for name, value in result.items():
        if isinstance(value, Mapping):
            lines.append(format_metrics(value, f"{prefix}{name}."))
        elif isinstance(value, float):
            lines.append(f"{prefix}{name:<{width}} {value:.4f}")
        else:
            lines.append(f"{prefix}{name:<{width}} {value}")
    return "\n".join(lines)
