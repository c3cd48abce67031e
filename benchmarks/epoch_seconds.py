"""Benchmark: seconds per training epoch of task presets, this tree against an earlier commit.

    RNNKIT_SHARED_DATA=../shared/data python benchmarks/epoch_seconds.py
    python benchmarks/epoch_seconds.py --tasks ner:default --rounds 2
    python benchmarks/epoch_seconds.py --tasks music:jsb --options "--hidden-size 384"

Each run is `rnnkit train TASK --preset PRESET --epochs 1` in its own process, on one thread
(--threads), with PYTHONPATH pointing at the source it measures: this working tree ("after")
or `git archive REV` of --before ("before"; default 6f144e6, main just before issue 14's first
change: the padded kernel calls for varied lengths, the flat GPU weights, --compile and fp16).
The figure is the epoch record's "seconds" in metrics.jsonl: training steps only, the data
preparation and the dev evaluation excluded. Rounds alternate the variants (before, after,
after with --compile when asked), and the best of --rounds is printed with after/before.

A preset whose values changed between the commits times two different models: --options
(passed to every run) pins them, e.g. the music jsb preset of today on both sides (its
LSTM 256 -> 384, NADE 150 -> 200 and dropout changed at d361b5d, after 6f144e6).

Quality is not measured here: the presets' own benchmarks (music_jsb.py, ner_conll.py) do.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "6f144e6"
DEFAULT_TASKS = ["music:jsb", "ner:default"]


def export_source(rev: str, folder: Path) -> Path:
    """The package source of commit `rev`, unpacked under `folder`; returns its src/."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def epoch_seconds(src: Path, task: str, preset: str, threads: int, extra: list[str]) -> float:
    """Train one epoch of the preset with the package at `src`; its training seconds."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "rnnkit", "train", task, "--preset", preset]
        command += ["--epochs", "1", "--num-threads", str(threads), "--out", out, *extra]
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        lines = (Path(out) / "metrics.jsonl").read_text().splitlines()
        epochs = [json.loads(line) for line in lines if '"kind": "epoch"' in line]
        return float(epochs[-1]["seconds"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--before", default=DEFAULT_BEFORE, help="the earlier commit")
    p.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, metavar="TASK:PRESET")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--compile", action="store_true", help="also time this tree with --compile")
    p.add_argument("--options", default="", help="options for every run (quoted)")
    args = p.parse_args()
    if "RNNKIT_SHARED_DATA" not in os.environ:
        print("set RNNKIT_SHARED_DATA to the shared data folder", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        common = shlex.split(args.options)
        variants = {
            f"before ({args.before})": (export_source(args.before, Path(tmp)), common),
            "after": (REPO / "src", common),
        }
        if args.compile:
            variants["after --compile"] = (REPO / "src", [*common, "--compile"])
        print(f"| task | {' | '.join(variants)} | after/before |")
        print("|---|" + "---|" * (len(variants) + 1))
        for spec in args.tasks:
            task, _, preset = spec.partition(":")
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                for name, (src, extra) in variants.items():
                    s = epoch_seconds(src, task, preset or "default", args.threads, extra)
                    best[name] = min(best.get(name, s), s)
            cells = " | ".join(f"{best[name]:.1f} s" for name in variants)
            ratio = best["after"] / best[next(iter(variants))]
            print(f"| {spec} | {cells} | {ratio:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
