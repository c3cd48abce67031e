"""Benchmark: validation NLL per time step on JSB Chorales, and the training time it takes.

    python benchmarks/music_jsb.py --num-threads 1 # one run of the `jsb` preset
    python benchmarks/music_jsb.py --runs 2        # two seeds at once, and their ensemble
    python benchmarks/music_jsb.py --nade-hidden 0 --key-order ascending   # any training option

Trains on JSB train, early-stops on JSB valid (the held-out test split is not in this
repository's data) and prints one table row per run. With --runs K, K runs (seeds
--seed .. --seed + K - 1) train at the same time as K processes of one thread each, and the
next row is their ensemble: each step's distribution the mean of the K models'
(`rnnkit evaluate music --ensemble`); the last row adds each run's `last` checkpoint (the
end of training, a few epochs past the best) to the ensemble. The wall-clock time covers
all of them.
Target: valid NLL <= 5.4 within 10 minutes of training on a 2-core CPU. For scale (test
split): GRU with independent notes 8.54 (Chung et al. 2014); RNN-RBM 7.27, RNN-NADE 5.56
(Boulanger-Lewandowski et al. 2012).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.data.sequences import epoch_batches
from rnnkit.models.language_model import mixture_nll
from rnnkit.tasks import music

TARGET_NLL, TARGET_SECONDS = 5.4, 600


def train_one(config: music.MusicConfig) -> dict[str, Any]:
    """One run in its own process: train, and return its figures."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    result = music.train(config)
    return {
        "seed": config.train.seed,
        "valid_nll_per_step": result.best_metric,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_completed,
        "train_seconds": round(time.perf_counter() - start, 1),
    }


def ensemble_nlls(config: music.MusicConfig, run_dirs: list[Path]) -> tuple[float | None, float]:
    """The valid NLL of the runs' best checkpoints together (None for one run), and of their
    best and last checkpoints together."""
    valid = music.load_splits(config.data)["valid"]
    examples = music.frame_examples(valid)
    batches = epoch_batches(examples, music.EVAL_BATCH_SIZE, 0, shuffle=False)(0)
    best = [music.load(d / "best").model for d in run_dirs]
    last = [music.load(d / "last").model for d in run_dirs]
    mixed = mixture_nll(best, batches) if len(run_dirs) > 1 else None
    return mixed, mixture_nll(best + last, batches)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="jsb", choices=sorted(music.PRESETS))
    parser.add_argument("--runs", type=int, default=1, help="seeds trained at once (default 1)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the runs in DIR/run-0, ... (default: a temporary folder)",
    )
    add_config_arguments(
        parser,
        music.PRESETS["jsb"],
        hidden=frozenset({"vocab_size", "embedding_dim", "num_features", "out_dir"}),
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = apply_overrides(music.PRESETS[args.preset], vars(args))
    if config.data.source == "jsb":  # resolve the folder once, before the workers start
        config = replace(config, data=replace(config.data, path=str(music.jsb_folder(config.data))))
    threads = config.train.num_threads or (1 if args.runs > 1 else torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        dirs = [root / f"run-{i}" for i in range(args.runs)]
        configs = [
            replace(
                config,
                train=replace(
                    config.train,
                    out_dir=str(d),
                    seed=config.train.seed + i,
                    num_threads=threads,
                    progress=False,
                ),
            )
            for i, d in enumerate(dirs)
        ]
        start = time.perf_counter()
        if args.runs == 1:
            rows = [train_one(configs[0])]
        else:
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(args.runs, mp_context=spawn) as pool:
                rows = list(pool.map(train_one, configs))
        seconds = round(time.perf_counter() - start, 1)
        # each run's last checkpoint too: a few epochs past its best, a different model
        mixed, snapshots = ensemble_nlls(config, dirs)
    print_table(config, rows, mixed, seconds, threads)
    print(f"| best and last checkpoints of {len(rows)} run(s) | **{snapshots:.3f}** | | | | |")
    best = min(snapshots, mixed or snapshots)
    ok = best is not None and best <= TARGET_NLL and seconds <= TARGET_SECONDS
    print(
        f"target: valid NLL <= {TARGET_NLL} in <= {TARGET_SECONDS} s: " + ("PASS" if ok else "FAIL")
    )
    if args.json:
        figures = {"ensemble_nll_per_step": mixed, "best_and_last_nll_per_step": snapshots}
        print(json.dumps({"runs": rows, **figures, "wall_seconds": seconds}))
    return 0


def print_table(
    config: music.MusicConfig,
    rows: list[dict[str, Any]],
    mixed: float | None,
    seconds: float,
    threads: int,
) -> None:
    model = config.model
    name = f"{model.encoder.cell} {model.encoder.num_layers}x{model.encoder.hidden_size}"
    if model.within_frame:
        name += (
            f", within-frame {'NADE ' + str(model.nade_hidden) if model.nade_hidden else 'linear'}"
        )
        name += f", keys {model.key_order}"
    print("| run | valid NLL/step | best epoch | epochs | seconds | model |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| seed {row['seed']} | {row['valid_nll_per_step']:.3f} | {row['best_epoch']} "
            f"| {row['epochs_run']} | {row['train_seconds']} ({threads} thread"
            f"{'s' * (threads > 1)}) | {name} |"
        )
    if mixed is not None:
        print(f"| ensemble of {len(rows)} | **{mixed:.3f}** | | | {seconds} wall | {name} |")


if __name__ == "__main__":
    sys.exit(main())
