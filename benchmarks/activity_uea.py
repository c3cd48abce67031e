"""Benchmark: the activity recipe on BasicMotions and Japanese Vowels (UEA/UCI archives).

    python benchmarks/activity_uea.py                          # both sets, dev runs and 5-fold CV
    python benchmarks/activity_uea.py --presets japanese-vowels --seeds 1 --folds 0
    python benchmarks/activity_uea.py --set hidden_size=96 --set jitter=0.1   # try a change
    python benchmarks/activity_uea.py --picture docs/activity_confusion.png

Only the TRAIN files are shared (40 and 270 cases), so every score is on cases carved from
them, never trained on:
  dev      a stratified 20% dev split (--split-seed 0), one run per training seed (--seeds);
  cv       5-fold stratified cross-validation (`rnnkit crossval activity --folds 5`), one run
           per fold, training seed 0.
A run's score is its dev accuracy after the LAST epoch (the training length is fixed in
advance, as `rnnkit crossval` scores), so no epoch is picked on the cases it is scored on; the
best-epoch accuracy is shown beside it. Targets: BasicMotions 100%, Japanese Vowels >= 99%.
Each run is a `rnnkit.tasks.activity` training from its preset in its own process with one
CPU thread (--jobs at once). --picture draws the first Japanese Vowels dev run's confusion
matrix (its last checkpoint) to a PNG.

Data: basicmotions and japanese-vowels under RNNKIT_SHARED_DATA.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _timing import markdown_table

from rnnkit.cli.configargs import apply_overrides
from rnnkit.tasks import activity


def run(preset: str, kind: str, index: int, changes: dict[str, Any], folder: str) -> dict[str, Any]:
    """One training (dev run with seed `index`, or CV fold `index`) into its own folder."""
    torch.set_num_threads(1)
    config = apply_overrides(activity.PRESETS[preset], changes)
    out = Path(folder) / preset / f"{kind}-{index}"
    d, t = config.data, config.train
    if kind == "cv":
        d = replace(d, folds=5, fold=index)
    else:
        t = replace(t, seed=index)
    t = replace(t, out_dir=str(out), progress=False, num_threads=1, overwrite=True)
    start = time.perf_counter()
    result = activity.train(replace(config, data=d, train=t))
    return {
        "preset": preset,
        "kind": kind,
        "index": index,
        "seconds": time.perf_counter() - start,
        "epochs": result.epochs_completed,
        "last": float(result.final_metrics["accuracy"]),
        "best": float(result.best_metric or 0.0),
        "out": str(out),
    }


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """One table row: the runs' last-epoch accuracy (mean ± sd), best-epoch mean, minutes."""
    last = [r["last"] for r in rows]
    sd = statistics.stdev(last) if len(last) > 1 else 0.0
    best = statistics.fmean(r["best"] for r in rows)
    minutes = statistics.fmean(r["seconds"] for r in rows) / 60
    scores = " ".join(f"{100 * v:.1f}" for v in last)
    return [
        rows[0]["preset"],
        f"{rows[0]['kind']} x{len(rows)}",
        f"{100 * statistics.fmean(last):.2f} ± {100 * sd:.2f}",
        scores,
        f"{100 * best:.2f}",
        f"{minutes:.2f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    presets = ["basicmotions", "japanese-vowels"]
    parser.add_argument("--presets", nargs="+", default=presets, choices=presets)
    parser.add_argument("--seeds", type=int, default=3, help="dev runs, one per training seed")
    parser.add_argument("--folds", type=int, default=5, help="5: the CV runs; 0: none")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, 1 thread each")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="change the presets"
    )
    parser.add_argument("--out", default="runs/bench-activity", help="the runs, results.json")
    parser.add_argument("--picture", default=None, help="draw a Japanese Vowels dev confusion")
    args = parser.parse_args()
    if args.folds not in (0, 5):
        parser.error("--folds is 5 (the CV runs) or 0 (none)")
    changes = dict(_parsed(item) for item in args.set)
    jobs = [(p, "dev", s) for p in args.presets for s in range(args.seeds)]
    jobs += [(p, "cv", f) for p in args.presets for f in range(args.folds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, p, k, i, changes, args.out) for p, k, i in jobs]
        rows = [f.result() for f in futures]
    table = []
    for p in args.presets:
        for kind in ("dev", "cv"):
            chosen = [r for r in rows if r["preset"] == p and r["kind"] == kind]
            if chosen:
                table.append(summary(chosen))
    header = ["preset", "runs", "accuracy % (last epoch)", "each run", "best epoch %", "train min"]
    print(markdown_table(header, table))
    if changes:
        print(f"changes: {changes}")
    if args.picture:
        first = next(r for r in rows if r["preset"] == "japanese-vowels" and r["kind"] == "dev")
        result = activity.evaluate(Path(first["out"]) / "last", confusion=args.picture)
        print(f"{args.picture}: dev accuracy {100 * result['accuracy']:.2f}%")
    results = Path(args.out) / "results.json"
    results.write_text(json.dumps({"changes": changes, "runs": rows}, indent=1))
    print(f"\nresults: {results}")
    return 0


def _parsed(item: str) -> tuple[str, Any]:
    """FIELD=VALUE -> (field, value of the type of the default preset's value)."""
    from rnnkit.cli.configargs import leaf_fields

    name, _, text = item.partition("=")
    found = leaf_fields(activity.PRESETS["default"]).get(name)
    if found is None:
        raise SystemExit(f"--set {item}: no option {name!r}")
    current = found[2]
    if isinstance(current, bool):
        return name, text.lower() in ("1", "true", "yes")
    if current is None or text.lower() == "none":
        return name, None if text.lower() == "none" else text
    return name, type(current)(text)


if __name__ == "__main__":
    sys.exit(main())
