"""Benchmark: validation NLL per time step on JSB Chorales, and the training time it takes.

    python benchmarks/music_jsb.py --num-threads 1  # the `jsb` preset, as recorded in the README
    python benchmarks/music_jsb.py --hidden-size 128 --epochs 40   # any training option

Trains on JSB train, early-stops on JSB valid (the held-out test split is not in this
repository's data), and prints one table row. Target: valid NLL <= 8.0 within 10 minutes of
training on a 2-core CPU. For scale (test split): simple RNN 8.7, LSTM 8.67, GRU 8.54
(Chung et al. 2014); RNN-RBM 7.3 (Boulanger-Lewandowski et al. 2012).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace

import torch

from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.tasks import music


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="jsb", choices=sorted(music.PRESETS))
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    add_config_arguments(
        parser,
        music.PRESETS["jsb"],
        hidden=frozenset({"vocab_size", "embedding_dim", "num_features", "out_dir"}),
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = apply_overrides(music.PRESETS[args.preset], vars(args))
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(config, train=replace(config.train, out_dir=tmp))
        start = time.perf_counter()
        result = music.train(config)
        seconds = time.perf_counter() - start
    device = "cuda" if torch.cuda.is_available() and config.train.device != "cpu" else "cpu"
    encoder = config.model.encoder
    row = {
        "valid_nll_per_step": result.best_metric,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_completed,
        "train_seconds": round(seconds, 1),
        "device": device,
        "threads": config.train.num_threads or torch.get_num_threads(),
        "model": f"{encoder.cell} {encoder.num_layers}x{encoder.hidden_size}",
    }
    print("| valid NLL/step | best epoch | epochs | seconds | device | model |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {row['valid_nll_per_step']:.3f} | {row['best_epoch']} | {row['epochs_run']} "
        f"| {row['train_seconds']} | {device} ({row['threads']} threads) | {row['model']} |"
    )
    print(
        "target: valid NLL <= 8.0 in <= 600 s: "
        + ("PASS" if (result.best_metric or 99) <= 8.0 and seconds <= 600 else "FAIL")
    )
    if args.json:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
