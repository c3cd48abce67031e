"""`rnnkit ... speech` and `rnnkit transcribe`: the speech models' evaluate options and the
command that transcribes WAV files (files, folders or list files)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_beam_option,
    add_checkpoint_option,
    add_device_options,
    device_from,
)
from rnnkit.errors import RnnkitError
from rnnkit.tasks.speech.inference import Transcriber, expand_inputs

BEAM = "CTC prefix beam search width"


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = commands.add_parser(
        "transcribe",
        help="transcribe WAV files with a trained speech model",
        description="Transcribe WAV files: the digit (digit classifier) or the digits (CTC) "
        "heard in each, one line per file. Inputs are files, folders (every .wav in them) "
        "or list files (.txt/.lst/.list, one path a line).",
    )
    add_checkpoint_option(p, "speech")
    p.add_argument("inputs", nargs="+", metavar="WAV", help="files, folders or list files")
    add_beam_option(p, 1, BEAM)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per file: text, symbols, each symbol's time in seconds, score",
    )
    p.add_argument(
        "--plot",
        metavar="DIR",
        help="write each file's log-mel spectrogram with the CTC posteriors under it to "
        "DIR/<name>.png",
    )
    add_device_options(p)
    p.set_defaults(run=transcribe)


def transcribe(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.inputs)
    transcriber = Transcriber(args.checkpoint, device_from(args), beam=args.beam)
    if args.plot is not None:
        folder = Path(args.plot)
        if folder.exists() and not folder.is_dir():
            raise RnnkitError(f"--plot {folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        found = [transcriber.plot(p, folder / f"{Path(p).stem}.png") for p in paths]
    else:
        found = transcriber.transcribe(paths)
    for t in found:
        print(json.dumps(asdict(t)) if args.json else f"{t.path}\t{t.text}")
    if args.plot is not None:
        print(f"wrote {len(found)} picture(s) to {args.plot}")
    return 0


COMMANDS = TaskCommands(
    evaluate_help="Accuracy (digits) or digit error rate, greedy and beam (CTC), of a speech "
    "model.",
    data_help="a folder of {digit}_{speaker}_{take}.wav recordings (default: the model's own)",
    split_help="dev (default), test (takes 0-4, where the folder has them) or train",
    add_evaluate_options=lambda p: add_beam_option(p, 8, BEAM),
    evaluate_options=("beam",),
    add_commands=add_commands,
)
