"""`rnnkit ... sentiment`: the review classifier's evaluate table and `predict sentiment`."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_checkpoint_option,
    add_device_options,
    check_argument_texts,
    device_from,
)
from rnnkit.errors import RnnkitError
from rnnkit.tasks import STDIN, stream_lines
from rnnkit.tasks import sentiment as recipe

BLANK = "empty text: every line must hold one review"
NO_TEXT = "no texts to classify"


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["predict"].add_parser(
        "sentiment",
        help=recipe.HELP,
        description="Label reviews as pos or neg, with the model's probability of that label. "
        "One result per text, one per line, in input order.",
    )
    add_checkpoint_option(p, "sentiment")
    p.add_argument(
        "texts",
        nargs="*",
        metavar="TEXT",
        help="reviews to classify; '-' reads them from standard input, one per line",
    )
    p.add_argument(
        "--input",
        "--file",
        dest="file",
        metavar="FILE",
        help="read the reviews from FILE, one per line ('-': standard input); --file is the "
        "same option",
    )
    add_device_options(p)
    p.add_argument(
        "--json",
        action="store_true",
        help='JSON lines: {"label": ..., "probability": ..., "text": ...}',
    )
    p.set_defaults(run=predict)


def format_evaluation(result: dict[str, Any]) -> str:
    """The metrics, then the confusion matrix with true labels down and predictions across."""
    labels: list[str] = result["labels"]
    positive = labels[1]
    lines = [
        f"examples   {result['examples']:,}",
        f"loss       {result['loss']:.4f}",
        f"accuracy   {result['accuracy']:.4f}",
        f"precision  {result['precision']:.4f}  (of {positive})",
        f"recall     {result['recall']:.4f}  (of {positive})",
        f"f1         {result['f1']:.4f}  (of {positive})",
        "",
        "confusion matrix (rows: true label, columns: predicted label)",
    ]
    matrix: list[list[int]] = result["confusion_matrix"]
    width = max(
        8, *(len(f"{n:,}") + 2 for row in matrix for n in row), *(len(x) + 2 for x in labels)
    )
    lines.append(" " * width + "".join(f"{name:>{width}}" for name in labels))
    for name, row in zip(labels, matrix, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>{width},}" for n in row))
    return "\n".join(lines)


def input_source(args: argparse.Namespace) -> str | None:
    """The file (or '-', standard input) the reviews are read from, one per line; None when
    they are given as arguments."""
    if args.file is not None and args.texts:
        raise RnnkitError("give the texts as arguments or with --file, not both")
    if args.file is not None:
        return str(args.file)
    if args.texts == [STDIN]:
        return STDIN
    if STDIN in args.texts:
        raise RnnkitError("'-' (read standard input) must be the only text argument")
    if not args.texts:
        raise RnnkitError(
            "no texts to classify: give them as arguments, with --file, or '-' for standard input"
        )
    check_argument_texts(args.texts)
    return None


def predict(args: argparse.Namespace) -> int:
    source = input_source(args)
    if source is None:
        results = recipe.predict(args.checkpoint, args.texts, device_from(args))
        for text, (label, probability) in zip(args.texts, results, strict=True):
            print(result_line(text, label, probability, args.json))
        return 0
    # Streamed: a chunk of lines at a time is read, classified and printed, so that a file of
    # any size runs in bounded memory and results start at once. The first line is read
    # before the model is loaded: a missing or empty file is reported straight away.
    lines = stream_lines(source, BLANK, NO_TEXT)
    first = next(lines)
    classifier = recipe.SentimentClassifier(args.checkpoint, device_from(args))
    name = "<stdin>" if source == STDIN else source
    for chunk in classifier.predict_chunks(itertools.chain([first], lines), name):
        for text, label, probability in chunk:
            print(result_line(text, label, probability, args.json))
        sys.stdout.flush()
    return 0


def result_line(text: str, label: str, probability: float, as_json: bool) -> str:
    """One review's line of output: `label<TAB>probability`, or a JSON object."""
    if as_json:
        record = {"label": label, "probability": probability, "text": text}
        return json.dumps(record, ensure_ascii=False)
    return f"{label}\t{probability:.4f}"


COMMANDS = TaskCommands(
    evaluate_help="Accuracy, precision, recall, F1 (of the positive class) and the confusion "
    "matrix of a review classifier.",
    data_help="labelled reviews (label<TAB>text, CSV, JSON lines or an aclImdb folder); "
    "default: the dev part held out of the model's own training data",
    split_help="which half of an aclImdb folder given as --data (default: test)",
    format_evaluation=format_evaluation,
    add_commands=add_commands,
)
