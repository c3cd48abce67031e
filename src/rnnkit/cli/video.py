"""`rnnkit ... video`: the video models' evaluate help and `predict video` (clips as video
files or folders of numbered frames)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import add_checkpoint_option, add_device_options, device_from
from rnnkit.tasks import video as recipe
from rnnkit.tasks.video.inference import predict as label_clips


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["predict"].add_parser(
        "video",
        help=recipe.HELP,
        description="Label video clips: each CLIP is a video file or a folder of numbered "
        "frame images. One line per clip: clip<TAB>label<TAB>probability; a per-frame model "
        "prints every frame's label and probability, separated by spaces.",
    )
    add_checkpoint_option(p, "video")
    p.add_argument("clips", nargs="+", metavar="CLIP", help="video files or frame folders")
    add_device_options(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per clip: clip, labels, scores and every class's probability "
        "(for the clip, or for each frame)",
    )
    p.set_defaults(run=predict)


def predict(args: argparse.Namespace) -> int:
    for found in label_clips(args.checkpoint, args.clips, device_from(args)):
        if args.json:
            print(json.dumps(asdict(found)))
        else:
            scores = " ".join(f"{p:.4f}" for p in found.scores)
            print(f"{found.clip}\t{' '.join(found.labels)}\t{scores}")
    return 0


COMMANDS = TaskCommands(
    evaluate_help="Accuracy (per clip, or per frame), macro F1, each class's precision, recall "
    "and F1, and the confusion matrix of a video model.",
    data_help="a labels TSV (or a folder holding labels.tsv) of clips; default: the model's "
    "own data (generated clips, or its labels file)",
    split_help="generated clips: dev (default), test (digit images never trained on) or "
    "train; a labels file: all (the default with --data), dev or train",
    add_commands=add_commands,
)
