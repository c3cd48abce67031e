"""`rnnkit ... dna`: the DNA models' evaluate options and `rnnkit predict dna`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import add_checkpoint_option, add_device_options, device_from
from rnnkit.errors import RnnkitError
from rnnkit.tasks.dna.inference import (
    DNAPredictor,
    Mark,
    Prediction,
    SequenceInput,
    picture_name,
    read_inputs,
    write_output,
)


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bed",
        metavar="BED",
        help="a tagger: the intervals (name start end label) of the FASTA file given as --data",
    )


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["predict"].add_parser(
        "dna",
        help="classify DNA sequences, or mark their intervals (a tagger)",
        description="Classify each sequence (name, label, its probability, then every "
        "class's probability, as TSV with a header), or, with a tagger, write the intervals it "
        "marks as BED lines (name start end label score).",
    )
    add_checkpoint_option(p, "dna")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a FASTA or label<TAB>sequence file (gzip too), a sequence written out (ACGT...), "
        "or '-' for standard input",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per sequence")
    p.add_argument("--output", metavar="FILE", help="write the results to FILE (atomically)")
    p.add_argument(
        "--saliency",
        metavar="DIR",
        help="a classifier: draw which bases drove each call (gradient x input) to "
        "DIR/NNNN-<name>.png",
    )
    p.add_argument(
        "--unknown", metavar="LETTER", help="read characters outside ACGT/IUPAC as LETTER (N)"
    )
    add_device_options(p)
    p.set_defaults(run=predict)


def classified_lines(
    found: Sequence[Prediction], classes: Sequence[str], as_json: bool
) -> list[str]:
    if as_json:
        return [json.dumps({"name": c.name, "label": c.label, "probability": c.probability,
                            "probabilities": c.probabilities}) for c in found]  # fmt: skip
    header = "\t".join(["name", "label", "probability", *(f"p({c})" for c in classes)])
    rows = [
        "\t".join(
            [
                c.name,
                c.label,
                f"{c.probability:.4f}",
                *(f"{c.probabilities[k]:.4f}" for k in classes),
            ]
        )
        for c in found
    ]
    return [header, *rows]


def marked_lines(
    items: Sequence[SequenceInput], marks: Sequence[Sequence[Mark]], as_json: bool
) -> list[str]:
    if as_json:
        return [json.dumps({"name": x.name, "length": len(x.sequence), "intervals": [
            {"start": m.start, "end": m.end, "label": m.label, "score": m.score} for m in ms
        ]}) for x, ms in zip(items, marks, strict=True)]  # fmt: skip
    return [f"{m.name}\t{m.start}\t{m.end}\t{m.label}\t{m.score:.4f}" for ms in marks for m in ms]


def predict(args: argparse.Namespace) -> int:
    items = read_inputs(args.inputs, args.unknown)
    predictor = DNAPredictor(args.checkpoint, device_from(args))
    if predictor.is_tagger:
        if args.saliency is not None:
            raise RnnkitError("--saliency explains a classifier's calls; this model is a tagger")
        lines = marked_lines(items, predictor.tag(items), args.json)
    else:
        lines = classified_lines(predictor.classify(items), predictor.classes, args.json)
    text = "".join(line + "\n" for line in lines)
    if args.output is not None:
        write_output(args.output, text, args.inputs)
    else:
        print(text, end="")
    if args.saliency is not None:
        folder = Path(args.saliency)
        if folder.exists() and not folder.is_dir():
            raise RnnkitError(f"--saliency {folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(items, start=1):
            predictor.draw_saliency(item, folder / picture_name(i, item.name))
        print(f"wrote {len(items)} saliency picture(s) to {folder}", file=sys.stderr)
    return 0


COMMANDS = TaskCommands(
    evaluate_help="Accuracy, macro F1, each class's scores and the confusion matrix of a DNA "
    "classifier; base accuracy, interval F1 and marked-base F1 of a tagger.",
    data_help="label<TAB>sequence lines (a classifier) or a FASTA file with --bed (a tagger); "
    "default: the model's own data, split as it was trained",
    split_help="dev (default: the part held out in training), train, or all; with --data: all",
    add_evaluate_options=add_evaluate_options,
    evaluate_options=("bed",),
    add_commands=add_commands,
)
