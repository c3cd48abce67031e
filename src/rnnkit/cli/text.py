"""`rnnkit ... text`: the character model's evaluate options and `generate text`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_checkpoint_option,
    add_device_options,
    add_samples_option,
    add_sampling_options,
    device_from,
)
from rnnkit.tasks import text as recipe


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--eval-streams",
        type=int,
        default=None,
        metavar="N",
        help="parallel streams (default: the training run's)",
    )


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["generate"].add_parser(
        "text", help=recipe.HELP, description="Sample text from a character model, after a prime."
    )
    add_checkpoint_option(p, "text")
    p.add_argument(
        "--prime", default="", help='text the sample continues, e.g. "ROMEO:" (default: none)'
    )
    p.add_argument("--length", type=int, default=500, help="characters to generate (default: 500)")
    add_sampling_options(
        p,
        top_k_help="sample among the k likeliest characters only",
        seed_help="random seed: the same seed gives the same text",
    )
    add_samples_option(p, "texts")
    add_device_options(p)
    p.set_defaults(run=generate)


def generate(args: argparse.Namespace) -> int:
    samples = recipe.generate_samples(
        args.checkpoint,
        prime=args.prime,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        device=device_from(args),
        samples=args.samples,
    )
    if len(samples) == 1:
        print(args.prime + samples[0])
        return 0
    for i, sample in enumerate(samples, start=1):  # a header line before each sample
        print(f"{SAMPLE_HEADER.format(i=i, n=len(samples))}\n{args.prime + sample}")
    return 0


# The line before each text when there are several (`--samples N`, N > 1).
SAMPLE_HEADER = "==> sample {i} of {n} <=="


COMMANDS = TaskCommands(
    evaluate_help="Validation loss of a character model, in nats and bits per character.",
    data_help="text file (default: the one the model was trained on)",
    split_help="valid: the last part of the text, as held out in training; train: the rest; "
    "all: the whole file (default: valid)",
    add_evaluate_options=add_evaluate_options,
    evaluate_options=("eval_streams",),
    add_commands=add_commands,
)
