"""Command-line options that several task commands share, defined once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rnnkit.errors import RnnkitError


def add_checkpoint_option(p: argparse.ArgumentParser, task: str) -> None:
    """--checkpoint DIR, required: the trained model a command uses."""
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="DIR",
        help=f"checkpoint directory, e.g. runs/{task}/best",
    )


def add_sampling_options(p: argparse.ArgumentParser, top_k_help: str, seed_help: str) -> None:
    """--temperature, --top-k and --seed of the commands that sample from a model."""
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1: safer, above 1: wilder (default: 1.0)",
    )
    p.add_argument("--top-k", type=int, default=None, help=top_k_help)
    p.add_argument("--seed", type=int, default=0, help=f"{seed_help} (default: 0)")


def check_argument_texts(texts: Sequence[str]) -> None:
    """Texts given as arguments must be UTF-8: undecodable bytes reach argv as lone
    surrogates, which are reported here rather than deep inside a tokenizer."""
    for i, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise RnnkitError(f"text {i} is not valid UTF-8") from None
