"""The `rnnkit` command: a thin layer over the library.

Each subcommand parses its options into the task's config dataclasses and calls one library
function; errors a user can fix are printed as one line, with a non-zero exit status.

Layout: this module builds the verbs (train, evaluate, generate, ..., summary); each task has a
module here (`rnnkit.cli.music`, ...) that adds its own sub-parsers to the verbs it supports.
`rnnkit train TASK` is generic: every field of the task's config dataclasses is an option.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from rnnkit import __version__
from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.errors import RnnkitError

# Task name -> its CLI module. Each CLI module defines:
#   RECIPE: the library module (PRESETS, train(config, resume), build_model(config))
#   HELP: one line;  HIDDEN: config fields the task fixes itself (not options)
#   add_commands(verbs): adds its sub-parsers (with set_defaults(run=...)) to the verbs it supports
TASK_CLIS: dict[str, str] = {
    "music": "rnnkit.cli.music",
    "sentiment": "rnnkit.cli.sentiment",
    "ner": "rnnkit.cli.ner",
    "text": "rnnkit.cli.text",
}

VERBS = {
    "train": "train a task's model",
    "evaluate": "evaluate a trained model",
    "generate": "sample from a trained model",
    "predict": "predict with a trained model",
}


def task_cli(name: str) -> ModuleType:
    return importlib.import_module(TASK_CLIS[name])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent neural networks: train, evaluate, generate, inspect."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    verbs: dict[str, Any] = {}
    for verb, help_text in VERBS.items():
        p = commands.add_parser(
            verb, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        verbs[verb] = p.add_subparsers(dest="task", metavar="TASK", required=True)
    verbs["_root"] = commands  # for task commands without a TASK word (`rnnkit tag`)

    for name in TASK_CLIS:
        module = task_cli(name)
        recipe = module.RECIPE
        p = verbs["train"].add_parser(name, help=module.HELP, description=f"Train: {module.HELP}.")
        p.add_argument(
            "--preset",
            choices=sorted(recipe.PRESETS),
            default="default",
            help="starting configuration (default: default)",
        )
        p.add_argument(
            "--out",
            dest="out_dir_arg",
            metavar="DIR",
            help=f"run directory: checkpoints, metrics.jsonl, loss.png (default: {recipe.PRESETS['default'].train.out_dir})",
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue the interrupted or finished run in --out (raise --epochs to train longer)",
        )
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        add_config_arguments(
            p, recipe.PRESETS["default"], hidden=module.HIDDEN | {"out_dir", "progress"}
        )
        p.set_defaults(run=cmd_train, task_module=module)
        module.add_commands(verbs)

    from rnnkit.cli import diagnose

    diagnose.add_command(commands)

    summary = commands.add_parser(
        "summary",
        help="show a model's layers and parameter counts",
        description="Show a model's layers, output shapes and parameter counts. With no arguments: "
        "the lecture's sentiment model, Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1, sigmoid).",
    )
    summary.add_argument(
        "task", nargs="?", choices=sorted(TASK_CLIS), help="show this task's model (its --preset)"
    )
    summary.add_argument("--preset", default="default", help="the task's preset (default: default)")
    summary.add_argument(
        "--checkpoint", metavar="DIR", help="show the model saved in this checkpoint"
    )
    summary.set_defaults(run=cmd_summary)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    recipe = args.task_module.RECIPE
    config = apply_overrides(recipe.PRESETS[args.preset], vars(args))
    extra: dict[str, Any] = {}
    if args.out_dir_arg:
        extra["out_dir"] = args.out_dir_arg
    if args.quiet:
        extra["progress"] = False
    config = apply_overrides(config, extra)
    result = recipe.train(config, resume=args.resume)
    if result.best_metric is not None:
        print(
            f"trained {result.epochs_completed} epochs ({result.global_step} steps); best dev "
            f"{config.train.metric}: {result.best_metric:.4f} at epoch {result.best_epoch}"
        )
    else:
        print(f"trained {result.epochs_completed} epochs ({result.global_step} steps)")
    if result.out_dir is not None:
        out = result.out_dir
        print(
            f"checkpoints: {out / 'best'} (best), {out / 'last'} (last); log: {out / 'metrics.jsonl'}"
        )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from rnnkit.models import summary

    if args.checkpoint:
        from rnnkit.train.loading import load_model

        model, meta = load_model(args.checkpoint)
        print(summary(model, title=f"{meta.task} ({args.checkpoint})"))
        return 0
    if args.task:
        recipe = task_cli(args.task).RECIPE
        if args.preset not in recipe.PRESETS:
            raise RnnkitError(
                f"task {args.task!r} has no preset {args.preset!r}; choose one of {', '.join(sorted(recipe.PRESETS))}"
            )
        print(
            summary(
                recipe.build_model(recipe.PRESETS[args.preset]),
                title=f"{args.task} ({args.preset})",
            )
        )
        return 0
    from rnnkit.models import ClassifierConfig, EncoderConfig, SequenceClassifier

    lecture = SequenceClassifier(
        ClassifierConfig(
            encoder=EncoderConfig(vocab_size=10_000, embedding_dim=100, cell="rnn", hidden_size=10)
        )
    )
    print(summary(lecture, title="lecture sentiment model"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The engine reports each epoch's metrics (and warnings) through logging.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return int(args.run(args))
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "rnnkit: interrupted (the last checkpoint is kept; continue with --resume)",
            file=sys.stderr,
        )
        return 130
    except OSError as e:
        where = f" {e.filename}:" if getattr(e, "filename", None) else ""
        print(f"rnnkit: error:{where} {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
