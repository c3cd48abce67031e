"""Command-line options that several task commands share, defined once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from rnnkit.errors import RnnkitError
from rnnkit.train.distributed import resolve_device


def add_checkpoint_option(p: argparse.ArgumentParser, task: str) -> None:
    """--checkpoint DIR, required: the trained model a command uses."""
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="DIR",
        help=f"checkpoint directory, e.g. runs/{task}/best",
    )


def add_sampling_options(
    p: argparse.ArgumentParser, top_k_help: str, seed_help: str, top_k_alias: str | None = None
) -> None:
    """--temperature, --top-k (also spelled `top_k_alias`) and --seed of the commands that
    sample from a model."""
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1: safer, above 1: wilder (default: 1.0)",
    )
    names = ["--top-k"] + ([top_k_alias] if top_k_alias else [])
    p.add_argument(*names, dest="top_k", type=int, default=None, help=top_k_help)
    p.add_argument("--seed", type=int, default=0, help=f"{seed_help} (default: 0)")


def add_samples_option(p: argparse.ArgumentParser, what: str, more: str = "") -> None:
    """--samples N of the commands that sample from a model: N independent draws, sampled
    together as one batch. `more`: what else the option does, after a semicolon."""
    p.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="N",
        help=f"draw N {what} at once, as one batch (the same --seed gives the same N){more} "
        "(default: 1)",
    )


def add_beam_option(p: argparse.ArgumentParser, default: int, what: str) -> None:
    """--beam N: `what` searches N hypotheses wide; 1 decodes greedily."""
    p.add_argument(
        "--beam",
        type=int,
        default=default,
        metavar="N",
        help=f"{what}; 1 decodes greedily (default: {default})",
    )


def add_device_options(p: argparse.ArgumentParser) -> None:
    """--device and --num-threads of every command that runs a trained model."""
    p.add_argument(
        "--device",
        default="cpu",
        help="where the model runs: cpu, cuda, cuda:N, mps or auto (default: cpu)",
    )
    p.add_argument(
        "--num-threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for PyTorch (default: PyTorch's own choice)",
    )


def device_from(args: argparse.Namespace) -> str:
    """Apply --num-threads; return the --device to load the model on, checked."""
    if args.num_threads is not None:
        if args.num_threads < 1:
            raise RnnkitError(f"--num-threads must be at least 1, got {args.num_threads}")
        torch.set_num_threads(args.num_threads)
    try:
        return str(resolve_device(args.device))
    except RuntimeError as e:
        raise RnnkitError(f"--device {args.device!r}: {e}") from None


def check_argument_texts(texts: Sequence[str]) -> None:
    """Texts given as arguments must be UTF-8: undecodable bytes reach argv as lone
    surrogates, which are reported here rather than deep inside a tokenizer."""
    for i, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise RnnkitError(f"text {i} is not valid UTF-8") from None
