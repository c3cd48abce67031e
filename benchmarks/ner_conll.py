"""Benchmark: entity F1 on CoNLL-2003 eng.testa, the training time, and the tagging speed.

    python benchmarks/ner_conll.py                      # the default preset (BiLSTM-CRF + chars)
    python benchmarks/ner_conll.py --minutes 5          # a short check: stop after ~5 minutes
    python benchmarks/ner_conll.py --preset softmax     # the plain softmax tagger
    python benchmarks/ner_conll.py --batch-size 16 --char-encoder cnn   # any training option

Trains on the shared conll2003/eng.train, early-stops on eng.testa (the dev split; eng.testb,
the test split, is held out and not in this repository's data), and prints the F1 after every
epoch, the seconds each epoch took, the per-type scores of the best checkpoint on eng.testa,
and how many sentences per second the trained tagger tags (batched, no gradients).

Target: dev entity F1 >= 90 without pretrained embeddings. For scale, Lample et al. (2016),
BiLSTM-CRF on the test split: 90.94 with pretrained embeddings, characters and dropout; 83.63
with random embeddings alone (dev scores run a few points above test scores on CoNLL-2003).

--minutes stops training the way Ctrl-C does (the engine finishes the current step, saves
`last` and stops); the best checkpoint so far is then evaluated. The learning-rate schedule
still runs over all --epochs, so a budgeted run shows the first epochs of the full run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.tasks import ner

HIDDEN = frozenset({"vocab_size", "num_features", "num_chars", "tags", "out_dir", "progress"})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=sorted(ner.PRESETS))
    parser.add_argument(
        "--minutes", type=float, default=None, help="stop after the epoch that ends past this"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch intra-op threads (default: 2; use 1 on a machine shared with other jobs: "
        "contended threads wait on each other and run several times slower)",
    )
    parser.add_argument("--out", default=None, help="keep the run here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    add_config_arguments(parser, ner.PRESETS["default"], hidden=HIDDEN)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the engine's epoch lines
    config = apply_overrides(ner.PRESETS[args.preset], vars(args))
    config = replace(config, train=replace(config.train, progress=False))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        config = replace(config, train=replace(config.train, out_dir=str(out)))
        cpu_start, start = time.process_time(), time.perf_counter()
        stop = None
        if args.minutes is not None:
            # The engine's own interruption: after the current step it saves `last` and
            # raises KeyboardInterrupt; `best` holds the best epoch so far.
            stop = threading.Timer(60 * args.minutes, os.kill, (os.getpid(), signal.SIGINT))
            stop.start()
        try:
            ner.train(config)  # reads and encodes the files first (a few seconds)
        except KeyboardInterrupt:
            print(f"(stopped: the {args.minutes:g}-minute budget is spent)")
        finally:
            if stop is not None:
                stop.cancel()
        train_seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        history = [
            r
            for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
            if r.get("kind") == "epoch"
        ]
        if not history:
            print("no epoch finished within the budget")
            return 1
        print(
            "| epoch | train loss | dev loss | dev P | dev R | dev F1 | lr | train s | eval s "
            "| tokens/s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in history:
            print(
                f"| {r['epoch']} | {r['train_loss']:.4f} | {r['dev_loss']:.4f} "
                f"| {100 * r['dev_precision']:.2f} | {100 * r['dev_recall']:.2f} "
                f"| {100 * r['dev_f1']:.2f} | {r['lr']:.2g} | {r['seconds']:.0f} "
                f"| {r['eval_seconds']:.0f} | {r['tokens_per_s']:.0f} |"
            )
        best_epoch = max(history, key=lambda r: r["dev_f1"])["epoch"]

        best = out / "best"
        dev_file = str(ner.load(best).data.dev_file)
        scores = ner.score_file(best, dev_file, config.data.format)
        tagger = ner.NERTagger(best)
        sentences = ner.read_sentences(dev_file, config.data.format)
        tokens = [s.tokens for s in sentences]
        tagger.tag_tokens(tokens[:256])  # warm up
        t0 = time.perf_counter()
        tagger.tag_tokens(tokens)
        tag_seconds = time.perf_counter() - t0

    f1 = 100 * scores.overall.f1
    row = {
        "preset": args.preset,
        "dev_f1": round(f1, 2),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "sentences_per_second": round(len(tokens) / tag_seconds, 1),
        "threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() and config.train.device != "cpu" else "cpu",
    }
    print()
    print(scores.format_report())
    print()
    print("| dev F1 | best epoch | epochs | train s (CPU s) | tag sentences/s | device |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {row['dev_f1']:.2f} | {row['best_epoch']} | {row['epochs_run']} "
        f"| {row['train_seconds']} ({row['train_cpu_seconds']}) | {row['sentences_per_second']} "
        f"| {row['device']} ({row['threads']} threads) |"
    )
    print(f"target: dev entity F1 >= 90: {'PASS' if f1 >= 90 else 'FAIL'}")
    if args.json:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
