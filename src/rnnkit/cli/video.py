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


def format_evaluation(result: dict[str, Any]) -> str:
    """The metrics, each class's precision, recall and F1, then the confusion matrix (rows:
    true label, columns: predicted)."""
    counted = f"{result['frames']:,} frames of " if "frames" in result else ""
    lines = [
        f"split      {result['split']} ({counted}{result['clips']:,} clips)",
        f"loss       {result['loss']:.4f}",
        f"accuracy   {result['accuracy']:.4f}",
        f"macro F1   {result['macro_f1']:.4f}",
        "",
    ]
    classes: dict[str, dict[str, float]] = result["classes"]
    names = list(classes)
    width = max(10, *(len(n) + 2 for n in names))
    lines.append(f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for name, c in classes.items():
        lines.append(f"{name:<{width}}{c['precision']:>10.4f}{c['recall']:>10.4f}"
                     f"{c['f1']:>10.4f}{int(c['support']):>10,}")  # fmt: skip
    lines += ["", "confusion matrix (rows: true label, columns: predicted label)"]
    lines.append(" " * width + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, result["confusion"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>{width},}" for n in row))
    return "\n".join(lines)


COMMANDS = TaskCommands(
    evaluate_help="Accuracy (per clip, or per frame), macro F1, each class's precision, recall "
    "and F1, and the confusion matrix of a video model.",
    data_help="a labels TSV (or a folder holding labels.tsv) of clips; default: the model's "
    "own data (generated clips, or its labels file)",
    split_help="generated clips: dev (default), test (digit images never trained on) or "
    "train; a labels file: all (the default with --data), dev or train",
    format_evaluation=format_evaluation,
    add_commands=add_commands,
)
