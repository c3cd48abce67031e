"""`rnnkit ... text`: the character model's evaluate and generate commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rnnkit.cli.options import add_checkpoint_option, add_sampling_options
from rnnkit.tasks import text as RECIPE

HELP = "character-level text generation, e.g. Tiny Shakespeare (one-to-many)"
HIDDEN = frozenset({"vocab_size", "num_features", "bidirectional", "merge"})


def add_commands(verbs: dict[str, Any]) -> None:
    p = verbs["evaluate"].add_parser(
        "text",
        help=HELP,
        description="Validation loss of a character model, in nats and bits per character.",
    )
    add_checkpoint_option(p, "text")
    p.add_argument(
        "--data", metavar="FILE", help="text file (default: the one the model was trained on)"
    )
    p.add_argument(
        "--split",
        choices=["valid", "train", "all"],
        default="valid",
        help="valid: the last part of the text, as held out in training; train: the rest; "
        "all: the whole file (default: valid)",
    )
    p.add_argument(
        "--eval-streams",
        type=int,
        default=None,
        metavar="N",
        help="parallel streams (default: the training run's)",
    )
    p.set_defaults(run=evaluate)

    p = verbs["generate"].add_parser(
        "text", help=HELP, description="Sample text from a character model, after a prime."
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
    p.set_defaults(run=generate)


def evaluate(args: argparse.Namespace) -> int:
    metrics = RECIPE.evaluate(
        args.checkpoint, data=args.data, split=args.split, eval_streams=args.eval_streams
    )
    print(json.dumps(metrics, indent=2))
    return 0


def generate(args: argparse.Namespace) -> int:
    sample = RECIPE.generate(
        args.checkpoint,
        prime=args.prime,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
    )
    print(args.prime + sample)
    return 0
