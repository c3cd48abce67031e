"""`rnnkit export`: a trained model to ONNX, with its vocabularies and labels as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.options import add_checkpoint_option
from rnnkit.tasks.export import SUPPORTED, export_checkpoint


def add_command(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="export a trained model to ONNX",
        description="Write a trained model as an ONNX graph (dynamic batch and time "
        "dimensions, the lengths as an input; translation: FILE's stem + .encoder.onnx and "
        ".decoder.onnx) and, beside it with the suffix .json, its "
        "vocabularies, labels, input names and shapes, and preprocessing. Tasks: "
        f"{', '.join(SUPPORTED)}. Needs pip install 'rnnkit[export]'.",
    )
    add_checkpoint_option(p, "sentiment")
    p.add_argument("--out", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument(
        "--overwrite", action="store_true", help="replace FILE and its .json when they exist"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    written = export_checkpoint(args.checkpoint, args.out, args.overwrite)
    print("wrote " + ", ".join(str(path) for path in written))
    return 0
