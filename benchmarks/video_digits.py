"""Benchmark: the video recipe on moving-digit clips generated from scikit-learn's digits.

    python benchmarks/video_digits.py                  # both presets, one after the other
    python benchmarks/video_digits.py --runs digits    # the clip classifier only
    python benchmarks/video_digits.py --jobs 2         # two runs at once, 1 thread each

No real video data set is available offline, so the clips are generated
(`rnnkit.data.moving_digits`): an 8 x 8 handwritten digit of sklearn's moves left, right, up or
down, or turns clockwise or counterclockwise, in 16 frames of 32 x 32 pixels with noise.
Training clips are drawn (anew each epoch) from digit images 0-1077, dev clips from images
1078-1437 and test clips from images 1438-1796: both scores are on digits never trained on.

Runs (each a `rnnkit.tasks.video` training from its preset, 1 CPU thread):
  digits  preset "digits" (many-to-one): accuracy over the 6 motions, dev and test;
  frames  preset "frames" (many-to-many): clips whose motion changes once mid-clip,
          accuracy of every frame's label, dev and test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _timing import markdown_table

from rnnkit.tasks import video


def run(name: str, epochs: int | None, train_clips: int | None, folder: str) -> dict[str, Any]:
    """Train one preset (in its own process, 1 thread) into folder/NAME and score its best
    checkpoint on the dev and the test clips."""
    torch.set_num_threads(1)
    config = video.PRESETS[name]
    out = Path(folder) / name
    train = replace(config.train, out_dir=str(out), progress=False, num_threads=1, overwrite=True)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    data = config.data
    if train_clips is not None:
        data = replace(data, train_clips=train_clips)
    start = time.perf_counter()
    result = video.train(replace(config, data=data, train=train))
    seconds = time.perf_counter() - start
    best = out / "best"
    dev, test = video.evaluate(best), video.evaluate(best, split="test")
    return {
        "run": name,
        "seconds": seconds,
        "epochs": result.epochs_completed,
        "best_epoch": result.best_epoch,
        "dev_accuracy": dev["accuracy"],
        "test_accuracy": test["accuracy"],
        "test_macro_f1": test["macro_f1"],
        "test_clips": test["clips"],
        "test_classes": {k: v["recall"] for k, v in test["classes"].items()},
        "test_confusion": test["confusion"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="+", default=["digits", "frames"], help="digits, frames")
    parser.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    parser.add_argument("--train-clips", type=int, default=None, help="training clips per epoch")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, 1 thread each")
    parser.add_argument("--out", default="runs/bench-video", help="the runs and results.json")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, r, args.epochs, args.train_clips, args.out) for r in args.runs]
        rows = [f.result() for f in futures]
    table = []
    for r in rows:
        what = "clip accuracy" if r["run"] == "digits" else "frame accuracy"
        table.append([
            r["run"], what, f"{100 * r['dev_accuracy']:.2f}%", f"{100 * r['test_accuracy']:.2f}%",
            str(r["epochs"]), f"{r['seconds'] / 60:.1f}",
        ])  # fmt: skip
    print(markdown_table(["run", "metric", "dev", "test", "epochs", "train min"], table))
    for r in rows:
        recalls = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["test_classes"].items())
        print(f"{r['run']}: test recall per motion: {recalls}")
    results = Path(args.out) / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(rows, indent=1))
    print(f"\nresults: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
