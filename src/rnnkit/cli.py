"""The `rnnkit` command: a thin layer over the library.

Each subcommand parses its options into the task's config dataclasses and calls one library
function; errors a user can fix are printed as one line, with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rnnkit import __version__
from rnnkit.configargs import add_config_arguments, apply_overrides
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class TaskEntry:
    """What the CLI knows of a task recipe module."""

    module: str  # e.g. "rnnkit.tasks.music"
    help: str
    hidden: frozenset[str] = frozenset()  # config fields the task fixes itself

    def load(self) -> ModuleType:
        import importlib

        return importlib.import_module(self.module)


TASKS: dict[str, TaskEntry] = {
    "music": TaskEntry(
        "rnnkit.tasks.music",
        "polyphonic music generation on Bach chorales (one-to-many)",
        frozenset(
            {
                "vocab_size",
                "embedding_dim",
                "num_features",
                "bidirectional",
                "merge",
                "out_dir",
                "progress",
            }
        ),
    ),
}


def _task_parser(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent neural networks: train, evaluate, generate, inspect."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train a task's model", description="Train a task's model."
    )
    train_tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, entry in TASKS.items():
        task = entry.load()
        p = _task_parser(train_tasks, name, f"train: {entry.help}")
        p.add_argument(
            "--preset",
            choices=sorted(task.PRESETS),
            default="default",
            help="starting configuration (default: default)",
        )
        p.add_argument(
            "--out",
            dest="out_dir_arg",
            metavar="DIR",
            help=f"run directory: checkpoints, metrics.jsonl, loss.png (default: {task.PRESETS['default'].train.out_dir})",
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue the interrupted or finished run in --out (raise --epochs to train longer)",
        )
        add_config_arguments(p, task.PRESETS["default"], hidden=entry.hidden)

    evaluate = commands.add_parser(
        "evaluate", help="evaluate a trained model", description="Evaluate a trained model."
    )
    eval_tasks = evaluate.add_subparsers(dest="task", metavar="TASK", required=True)
    p = _task_parser(
        eval_tasks, "music", "evaluate: negative log-likelihood per time step of a chorale model"
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="DIR",
        help="checkpoint directory, e.g. runs/music/best",
    )
    p.add_argument("--split", default="valid", help="train, valid or test (default: valid)")
    p.add_argument(
        "--source",
        choices=["music21", "jsb"],
        help="data source (default: the one the model was trained on)",
    )
    p.add_argument("--data", metavar="DIR", help="JSB Chorales folder for --source jsb")

    generate = commands.add_parser(
        "generate", help="sample from a trained model", description="Sample from a trained model."
    )
    gen_tasks = generate.add_subparsers(dest="task", metavar="TASK", required=True)
    p = _task_parser(
        gen_tasks, "music", "generate: sample a chorale, write MIDI and a piano-roll PNG"
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="DIR",
        help="checkpoint directory, e.g. runs/music/best",
    )
    p.add_argument("--steps", type=int, default=64, help="quarter notes to generate (default: 64)")
    p.add_argument(
        "--out",
        default="sample.mid",
        help="MIDI file to write (default: sample.mid); the PNG goes beside it",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1: safer, above 1: wilder (default: 1.0)",
    )
    p.add_argument(
        "--top-k", type=int, default=None, help="at most this many notes at once, the likeliest"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same piece"
    )
    p.add_argument("--bpm", type=float, default=80.0, help="tempo of the MIDI file (default: 80)")

    summary = commands.add_parser(
        "summary",
        help="show a model's layers and parameter counts",
        description="Show a model's layers, output shapes and parameter counts. With no arguments: "
        "the lecture's sentiment model, Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1, sigmoid).",
    )
    summary.add_argument(
        "task", nargs="?", choices=sorted(TASKS), help="show this task's model (its --preset)"
    )
    summary.add_argument("--preset", default="default", help="the task's preset (default: default)")
    summary.add_argument(
        "--checkpoint", metavar="DIR", help="show the model saved in this checkpoint"
    )
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    entry = TASKS[args.task]
    task = entry.load()
    config = task.PRESETS[args.preset]
    config = apply_overrides(config, vars(args))
    train_overrides: dict[str, Any] = {}
    if args.out_dir_arg:
        train_overrides["out_dir"] = args.out_dir_arg
    if args.quiet:
        train_overrides["progress"] = False
    config = apply_overrides(config, train_overrides)
    result = task.train(config, resume=args.resume)
    best = result.best_metric
    print(
        f"trained {result.epochs_completed} epochs ({result.global_step} steps); best dev {config.train.metric}: "
        f"{best:.4f} at epoch {result.best_epoch}"
        if best is not None
        else "trained without a dev split"
    )
    if result.out_dir is not None:
        print(
            f"checkpoints: {result.out_dir / 'best'} (best), {result.out_dir / 'last'} (last); log: {result.out_dir / 'metrics.jsonl'}"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    task = TASKS[args.task].load()
    data = None
    if args.source:
        data = task.MusicDataConfig(source=args.source, data=args.data)
    metrics = task.evaluate(args.checkpoint, split=args.split, data=data)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    task = TASKS[args.task].load()
    steps = task.generate(
        args.checkpoint,
        steps=args.steps,
        out=args.out,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        bpm=args.bpm,
    )
    notes = sum(len(s) for s in steps)
    from pathlib import Path

    print(
        f"wrote {args.out} ({len(steps)} steps, {notes} notes) and {Path(args.out).with_suffix('.png')}"
    )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from rnnkit.models import summary

    if args.checkpoint:
        from rnnkit.models.io import load_model

        model, meta = load_model(args.checkpoint)
        print(summary(model, title=f"{meta.task} ({args.checkpoint})"))
        return 0
    if args.task:
        task = TASKS[args.task].load()
        if args.preset not in task.PRESETS:
            raise RnnkitError(
                f"task {args.task!r} has no preset {args.preset!r}; choose one of {', '.join(sorted(task.PRESETS))}"
            )
        print(
            summary(
                task.build_model(task.PRESETS[args.preset]), title=f"{args.task} ({args.preset})"
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


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "generate": cmd_generate,
    "summary": cmd_summary,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"rnnkit: error:{where}: {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
