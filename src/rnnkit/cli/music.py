"""`rnnkit ... music`: the chorale model's evaluate and generate commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rnnkit.cli.options import add_checkpoint_option, add_sampling_options
from rnnkit.tasks import music as RECIPE

HELP = "polyphonic music generation on Bach chorales (one-to-many)"
HIDDEN = frozenset({"vocab_size", "embedding_dim", "num_features", "bidirectional", "merge"})


def add_commands(verbs: dict[str, Any]) -> None:
    p = verbs["evaluate"].add_parser(
        "music", help=HELP, description="Negative log-likelihood per time step of a chorale model."
    )
    add_checkpoint_option(p, "music")
    p.add_argument("--split", default="valid", help="train, valid or test (default: valid)")
    p.add_argument(
        "--source",
        choices=["music21", "jsb"],
        help="data source (default: the one the model was trained on)",
    )
    p.add_argument("--data", metavar="DIR", help="JSB Chorales folder for --source jsb")
    p.set_defaults(run=evaluate)

    p = verbs["generate"].add_parser(
        "music", help=HELP, description="Sample a chorale; write MIDI and a piano-roll PNG."
    )
    add_checkpoint_option(p, "music")
    p.add_argument("--steps", type=int, default=64, help="quarter notes to generate (default: 64)")
    p.add_argument(
        "--out",
        default="sample.mid",
        help="MIDI file to write (default: sample.mid); the PNG goes beside it",
    )
    add_sampling_options(
        p,
        top_k_help="at most this many notes at once, the likeliest",
        seed_help="random seed: the same seed gives the same piece",
    )
    p.add_argument("--bpm", type=float, default=80.0, help="tempo of the MIDI file (default: 80)")
    p.set_defaults(run=generate)


def evaluate(args: argparse.Namespace) -> int:
    data = RECIPE.MusicDataConfig(source=args.source, data=args.data) if args.source else None
    print(json.dumps(RECIPE.evaluate(args.checkpoint, split=args.split, data=data), indent=2))
    return 0


def generate(args: argparse.Namespace) -> int:
    steps = RECIPE.generate(
        args.checkpoint,
        steps=args.steps,
        out=args.out,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        bpm=args.bpm,
    )
    notes = sum(len(s) for s in steps)
    print(
        f"wrote {args.out} ({len(steps)} steps, {notes} notes) and {Path(args.out).with_suffix('.png')}"
    )
    return 0
