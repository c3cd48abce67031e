"""`rnnkit ... activity`: the activity model's evaluate options (--confusion PNG) and table,
and `rnnkit predict activity` (files of cases, or long recordings with --stride)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import add_checkpoint_option, add_device_options, device_from
from rnnkit.errors import RnnkitError
from rnnkit.tasks import activity as recipe
from rnnkit.tasks.activity.config import MISSING_POLICIES
from rnnkit.tasks.activity.inference import ActivityClassifier, StreamPrediction


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["predict"].add_parser(
        "activity",
        help=recipe.HELP,
        description="Classify the cases of .ts, .npz or .csv files (one line per case: where "
        "it is, its class and the class's probability), or, with --stride, long recordings "
        "(a .csv with one row a step, or an .npz with x (T, C)) cut into the model's windows: "
        "one line per step, `step<TAB>label<TAB>p`, each step's probabilities the mean over "
        "the windows covering it.",
    )
    add_checkpoint_option(p, "activity")
    p.add_argument("files", nargs="+", metavar="FILE", help="files of cases, or recordings")
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        metavar="N",
        help="read each FILE as one long recording and classify windows of the model's "
        "length N steps apart (the last window aligned to the recording's end)",
    )
    p.add_argument(
        "--missing",
        choices=MISSING_POLICIES,
        default="error",
        help="missing values (? or NaN): refuse them (error, naming file and line), or fill "
        "them (interpolate, zero) (default: error)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON lines: every class's probability (per case; or per window and per step)",
    )
    add_device_options(p)
    p.set_defaults(run=predict)


def predict(args: argparse.Namespace) -> int:
    if args.stride is not None and args.stride < 1:
        raise RnnkitError(f"--stride must be at least 1, got {args.stride}")
    model = ActivityClassifier(args.checkpoint, device_from(args))
    classes = list(model.pipeline.classes)
    for path in args.files:
        if args.stride is None:
            for case in model.classify_file(path, args.missing):
                if args.json:
                    probabilities = dict(zip(classes, case.probabilities, strict=True))
                    record = {
                        "case": case.where,
                        "label": case.label,
                        "probability": case.probability,
                        "probabilities": probabilities,
                    }
                    print(json.dumps(record))
                else:
                    print(f"{case.where}\t{case.label}\t{case.probability:.4f}")
            continue
        found = model.classify_stream_file(path, args.stride, args.missing)
        if args.json:
            print(json.dumps(stream_record(found)))
            continue
        if len(args.files) > 1:
            print(f"# {path}")
        for step, (label, p) in enumerate(found.labels(found.step_probabilities)):
            print(f"{step}\t{label}\t{p:.4f}")
    return 0


def stream_record(found: StreamPrediction) -> dict[str, Any]:
    """One recording's JSON: its windows and its steps, each with every class's probability."""
    window_labels = found.labels(found.window_probabilities)
    step_labels = found.labels(found.step_probabilities)
    return {
        "file": found.source,
        "classes": list(found.classes),
        "window": found.window,
        "stride": found.stride,
        "windows": [
            {
                "start": s,
                "end": s + found.window,
                "label": label,
                "probability": p,
                "probabilities": found.window_probabilities[n].tolist(),
            }
            for n, (s, (label, p)) in enumerate(zip(found.starts, window_labels, strict=True))
        ],
        "steps": [
            {
                "step": t,
                "label": label,
                "probability": p,
                "probabilities": found.step_probabilities[t].tolist(),
            }
            for t, (label, p) in enumerate(step_labels)
        ],
    }


def format_evaluation(result: dict[str, Any]) -> str:
    """The scores, each class's precision/recall/F1/support, and the confusion matrix."""
    lines = [
        f"{result['source']} ({result['split']}): {result['cases']} cases",
        f"loss      {result['loss']:.4f}",
        f"accuracy  {result['accuracy']:.4f}",
        f"macro F1  {result['macro_f1']:.4f}",
        "",
    ]
    names = list(result["classes"])
    width = max(10, *(len(n) + 2 for n in names))
    lines.append(f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for name, c in result["classes"].items():
        lines.append(
            f"{name:<{width}}{c['precision']:>10.4f}{c['recall']:>10.4f}"
            f"{c['f1']:>10.4f}{c['support']:>9}"
        )
    lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
    lines.append(" " * width + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, result["confusion"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>{width}}" for n in row))
    if "confusion_png" in result:
        lines += ["", f"confusion matrix picture: {result['confusion_png']}"]
    return "\n".join(lines)


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--confusion", metavar="FILE.png", help="also draw the confusion matrix into FILE.png"
    )


COMMANDS = TaskCommands(
    evaluate_help="Accuracy, macro F1, each class's precision, recall and F1, and the "
    "confusion matrix of an activity model.",
    data_help="cases to evaluate on (.ts, .npz, .csv or a UCI HAR folder; default: the "
    "model's own data)",
    split_help="dev (default for the model's own data), train, test (X_TEST.ts beside "
    "X_TRAIN.ts, or a UCI HAR folder's test/) or all (default for --data)",
    add_evaluate_options=add_evaluate_options,
    evaluate_options=("confusion",),
    format_evaluation=format_evaluation,
    add_commands=add_commands,
)
