"""The `rnnkit` command: a thin layer over the library.

Each subcommand parses its options into the task's config dataclasses and calls one library
function; errors a user can fix are printed as one line, with a non-zero exit status.

Layout: `train TASK` and `evaluate TASK` are written once, against the recipe contract
(`rnnkit.tasks.recipe.Recipe`): every field of the chosen preset's config is a `train` option,
and `evaluate` takes --checkpoint, --data, --split and --json for every task. The verbs only
some tasks have (generate, predict, tag) and the options a task adds to `evaluate` live in
one module per task (`rnnkit.cli.music`, ...; see `rnnkit.cli.commands.TaskCommands`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rnnkit import __version__
from rnnkit.cli import (
    activity,
    crossval,
    data,
    diagnose,
    dna,
    export,
    music,
    ner,
    sentiment,
    serve,
    speech,
    text,
    translate,
    video,
)
from rnnkit.cli.commands import TaskCommands, format_metrics
from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.cli.options import add_checkpoint_option, add_device_options, device_from
from rnnkit.config import read_config_file, to_dict
from rnnkit.errors import RnnkitError
from rnnkit.tasks import RECIPES, Recipe
from rnnkit.tasks.recipe import recorded_config
from rnnkit.train.distributed import distributed_run
from rnnkit.train.rundir import next_free_run_dir

TASK_COMMANDS: dict[str, TaskCommands] = {
    "music": music.COMMANDS,
    "sentiment": sentiment.COMMANDS,
    "ner": ner.COMMANDS,
    "text": text.COMMANDS,
    "translate": translate.COMMANDS,
    "speech": speech.COMMANDS,
    "activity": activity.COMMANDS,
    "video": video.COMMANDS,
    "dna": dna.COMMANDS,
}

VERBS = {
    "train": "train a task's model",
    "evaluate": "evaluate a trained model",
    "generate": "sample from a trained model",
    "predict": "predict with a trained model",
}


def build_parser(presets: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. `presets`: task -> the preset whose config fields become the
    options of `train TASK` (default: "default"), so that each preset lists its own options
    with its own values."""
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
    for name, recipe in RECIPES.items():
        add_train_command(verbs["train"], recipe, (presets or {}).get(name, "default"))
        add_evaluate_command(verbs["evaluate"], recipe, TASK_COMMANDS[name])
        TASK_COMMANDS[name].add_commands(verbs, commands)
    crossval.add_command(commands, dict(presets or {}))
    diagnose.add_command(commands)
    data.add_command(commands)
    serve.add_command(commands)
    export.add_command(commands)
    add_summary_command(commands)
    return parser


def add_train_command(verbs: Any, recipe: Recipe[Any], preset: str) -> None:
    p = verbs.add_parser(recipe.NAME, help=recipe.HELP, description=f"Train: {recipe.HELP}.")
    p.add_argument(
        "--preset",
        choices=sorted(recipe.PRESETS),
        default="default",
        help="starting configuration; `--preset NAME --help` lists its options and values "
        "(default: default)",
    )
    p.add_argument(
        "--out",
        dest="out_dir_arg",
        metavar="DIR",
        help="run directory: checkpoints, metrics.jsonl, loss.png; one that holds a run needs "
        f"--resume or --overwrite (default: {recipe.PRESETS[preset].train.out_dir})",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted or finished run in --out with the configuration and data "
        "it recorded; options given with it change that (raise --epochs to train longer; other "
        "data needs --change-data)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a JSON or TOML file of config fields laid over the preset (the options given "
        "here win over it); --print-config writes one",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the configuration this command would train with, as JSON, and exit",
    )
    config = recipe.PRESETS[preset]
    add_config_arguments(p, config, hidden=recipe.HIDDEN | {"out_dir", "progress"})
    p.set_defaults(run=cmd_train, recipe=recipe)


def add_evaluate_command(verbs: Any, recipe: Recipe[Any], task: TaskCommands) -> None:
    p = verbs.add_parser(recipe.NAME, help=recipe.HELP, description=task.evaluate_help)
    add_checkpoint_option(p, recipe.NAME)
    p.add_argument("--data", metavar="PATH", help=task.data_help)
    p.add_argument("--split", default=None, help=task.split_help)
    task.add_evaluate_options(p)
    add_device_options(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(run=cmd_evaluate, recipe=recipe, task_commands=task)


def add_summary_command(commands: Any) -> None:
    summary = commands.add_parser(
        "summary",
        help="show a model's layers and parameter counts",
        description="Show a model's layers, output shapes and parameter counts. With no arguments: "
        "the lecture's sentiment model, Embedding(10,000, 100) -> SimpleRNN(10) -> "
        "Dense(1, sigmoid).",
    )
    summary.add_argument(
        "task", nargs="?", choices=sorted(RECIPES), help="show this task's model (its --preset)"
    )
    summary.add_argument("--preset", default="default", help="the task's preset (default: default)")
    summary.add_argument(
        "--checkpoint", metavar="DIR", help="show the model saved in this checkpoint"
    )
    summary.set_defaults(run=cmd_summary)


def cmd_train(args: argparse.Namespace) -> int:
    recipe: Recipe[Any] = args.recipe
    preset = recipe.PRESETS[args.preset]
    base = preset
    resumed = args.out_dir_arg or preset.train.out_dir
    if args.resume and resumed:
        # resume from what the run recorded; the options given change it
        base = recorded_config(recipe.NAME, type(preset), resumed) or preset
    if args.config:
        base = read_config_file(args.config, base)
    out = run_dir(args, base.train.out_dir)
    config = apply_overrides(base, vars(args))
    extra: dict[str, Any] = {"out_dir": out}
    if args.quiet:
        extra["progress"] = False
    config = apply_overrides(config, extra)
    if args.print_config:
        print(json.dumps(to_dict(config), indent=2))
        return 0
    # Under torchrun (WORLD_SIZE > 1) every process joins one group, trains on its shard of the
    # data, and only rank 0 writes and reports.
    with distributed_run(config.train.device) as dist:
        result = recipe.train(config, resume=args.resume)
    if not dist.is_main:
        return 0
    if result.best_metric is not None:
        print(
            f"trained {result.epochs_completed} epochs ({result.global_step} steps); best dev "
            f"{config.train.metric}: {result.best_metric:.4f} at epoch {result.best_epoch}"
        )
    else:
        print(f"trained {result.epochs_completed} epochs ({result.global_step} steps)")
    if result.out_dir is not None:
        run = result.out_dir
        print(
            f"checkpoints: {run / 'best'} (best), {run / 'last'} (last); "
            f"log: {run / 'metrics.jsonl'}"
        )
    return 0


def run_dir(args: argparse.Namespace, default: str | None) -> str | None:
    """The run directory: --out, else the preset's; when the user named none and the preset's
    holds a run that --resume or --overwrite does not claim, the next free `DIR-2`, `DIR-3`,
    ... so that the earlier run is kept (said on standard output)."""
    if args.out_dir_arg == "":
        raise RnnkitError("--out: an empty path; give a directory")
    if args.out_dir_arg is not None:
        return str(args.out_dir_arg)
    if default is None or args.resume or getattr(args, "overwrite", False):
        return default
    free = str(next_free_run_dir(default))
    if free != default and os.environ.get("RANK", "0") == "0":
        print(
            f"{default} holds an earlier run: this one goes to {free} (--out DIR to choose)",
            file=sys.stderr,
        )
    return free


def cmd_evaluate(args: argparse.Namespace) -> int:
    recipe: Recipe[Any] = args.recipe
    task: TaskCommands = args.task_commands
    extra = {name: getattr(args, name) for name in task.evaluate_options}
    device = device_from(args)
    result = recipe.evaluate(args.checkpoint, args.data, args.split, device=device, **extra)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print((task.format_evaluation or format_metrics)(result))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from rnnkit.models import summary

    if args.checkpoint:
        from rnnkit.train.loading import load_model

        model, meta = load_model(args.checkpoint)
        print(summary(model, title=f"{meta.task} ({args.checkpoint})"))
        return 0
    if args.task:
        recipe = RECIPES[args.task]
        if args.preset not in recipe.PRESETS:
            raise RnnkitError(
                f"task {args.task!r} has no preset {args.preset!r}; choose one of "
                f"{', '.join(sorted(recipe.PRESETS))}"
            )
        model = recipe.build_model(recipe.PRESETS[args.preset])
        print(summary(model, title=f"{args.task} ({args.preset})"))
        return 0
    from rnnkit.models import ClassifierConfig, EncoderConfig, SequenceClassifier

    lecture = SequenceClassifier(
        ClassifierConfig(
            encoder=EncoderConfig(vocab_size=10_000, embedding_dim=100, cell="rnn", hidden_size=10)
        )
    )
    print(summary(lecture, title="lecture sentiment model"))
    return 0


def chosen_presets(argv: Sequence[str]) -> dict[str, str]:
    """{task: preset} when argv is `train TASK ... --preset NAME ...` or `crossval TASK ...`
    (an unknown name is left for the parser to reject with the list of choices)."""
    if len(argv) < 2 or argv[0] not in ("train", "crossval") or argv[1] not in RECIPES:
        return {}
    task, rest = argv[1], list(argv[2:])
    for i, arg in enumerate(rest):
        value = None
        if arg == "--preset" and i + 1 < len(rest):
            value = rest[i + 1]
        elif arg.startswith("--preset="):
            value = arg.split("=", 1)[1]
        if value is not None and value in RECIPES[task].PRESETS:
            return {task: value}
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(chosen_presets(argv)).parse_args(argv)
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
    except BrokenPipeError:
        # the reader of our output went away (`rnnkit data list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        where = f" {e.filename}:" if getattr(e, "filename", None) else ""
        print(f"rnnkit: error:{where} {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
