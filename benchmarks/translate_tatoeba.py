"""French -> English on the Tatoeba pairs: rnnkit's translate recipe against a plain-PyTorch
encoder-decoder, side by side, the same data and the same training time.

    python benchmarks/translate_tatoeba.py                  # both, 60 minutes each, 1 thread each
    python benchmarks/translate_tatoeba.py --minutes 5      # a quick look
    python benchmarks/translate_tatoeba.py --system rnnkit --threads 2 --dev-split grouped

Data: eng-fra/train.txt.gz under RNNKIT_SHARED_DATA (or --data FILE). The dev split is carved
from it by the recipe's fixed rule: every 10th line (as the held-back test split was carved
from the original file), or `--dev-split grouped` (no English sentence on both sides). Both
systems use the recipe's tokenisation, vocabularies and truecasing table (the usual case of each
English word, which puts the lower-cased output back into case), so they see the same ids and
their output is written the same way.

rnnkit: the translate preset (`--preset`) through the recipe (`rnnkit.tasks.translate.train`),
its epochs fitted to the time budget from the measured step time (the cosine schedule then
spans exactly those epochs); the checkpoint with the best dev BLEU is evaluated.
baseline: `_plain_seq2seq.PlainSeq2Seq` (a GRU encoder-decoder with additive attention in
plain PyTorch), trained with Adam at a constant rate until the budget is spent.

Both are then scored on the whole dev split: BLEU (sacrebleu, cased, detokenised output against
the raw English; also case-insensitive) and chrF, greedy and beam 5, and the translation speed
in sentences per second (batches of 64, the CPU, the same threads). With `--system both` the two
run at once as two processes, one thread each by default, so the machine's noise falls on both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _timing import markdown_table
from torch.nn.utils.rnn import pad_sequence

from rnnkit.data.pairs import Pair, build_vocabularies, tokenize_pairs
from rnnkit.data.translation_text import tokenize_pair_text, truecase_table
from rnnkit.metrics.translation import corpus_bleu, corpus_chrf
from rnnkit.tasks import translate as T
from rnnkit.tasks.translate.inference import decode
from rnnkit.tasks.translate.pipeline import (
    TranslationPipeline,
    encode_pairs,
    read_direction,
    split_pairs,
)
from rnnkit.train.precision import autocast_dtype
from rnnkit.train.step import train_step

HERE = Path(__file__).resolve().parent
SLOWDOWN = 1.3  # a long run's step time against the one measured before it


def score(hypotheses: list[str], pairs: list[Pair]) -> dict[str, float]:
    references = [p.target for p in pairs]
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "bleu_uncased": corpus_bleu(hypotheses, references, lowercase=True),
        "chrf": corpus_chrf(hypotheses, references),
    }


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def evaluate_both_ways(translate: Any, pairs: list[Pair], beam: int) -> dict[str, Any]:
    """Greedy and beam scores with sentences/s; `translate(beam) -> list[str]`."""
    out: dict[str, Any] = {}
    for name, k in (("greedy", 1), (f"beam{beam}", beam)):
        hypotheses, seconds = timed(lambda k=k: translate(k))
        out[name] = {**score(hypotheses, pairs), "sentences_per_s": len(pairs) / seconds}
        out[name]["samples"] = hypotheses[:5]
    return out


def config_for(args: argparse.Namespace, out_dir: Path) -> T.TranslateConfig:
    config = T.PRESETS[args.preset]
    data = replace(config.data, path=args.data, dev_split=args.dev_split)
    train = replace(config.train, out_dir=str(out_dir), seed=args.seed, overwrite=True)
    return replace(config, data=data, train=train)


def fit_epochs(config: T.TranslateConfig, minutes: float) -> tuple[int, str]:
    """The number of epochs that fit in `minutes` at the step time measured now."""
    prepared = T.prepare(config)
    model = T.build_model(prepared.config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    batches = prepared.train_batches(0)
    assert isinstance(batches, list)
    dtype = autocast_dtype(config.train.precision, torch.device("cpu"))
    times = []
    for i, batch in enumerate(batches[:45]):
        start = time.perf_counter()
        train_step(model, optimizer, batch, 1e-4, config.train.clip_norm, None, dtype)
        if i >= 5:
            times.append(time.perf_counter() - start)
    step_s = sum(times) / len(times)
    dev = prepared.dev_batches()
    # evaluation: the dev loss (a forward pass, about a third of a step) and greedy BLEU of
    # dev_bleu_sentences sentences (about two forward passes per batch of 64)
    eval_s = step_s / 3 * (len(dev) + 2 * config.data.dev_bleu_sentences / 64)
    epoch_s = step_s * len(batches) + eval_s
    # Over an hour beside the baseline's process the steps ran 5-15% slower than measured
    # here (8.1 minutes an epoch foreseen, 8.4-9.2 taken), and 24% with light work beside
    # the two (0.175 s a step measured, 0.217 s taken): a margin keeps the budget.
    epochs = max(1, int(minutes * 60 / (epoch_s * SLOWDOWN)))
    note = (
        f"{step_s:.3f} s/step x {len(batches)} steps + about {eval_s:.0f} s evaluation "
        f"= {epoch_s / 60:.1f} min/epoch -> {epochs} epochs"
    )
    return epochs, note


def run_rnnkit(args: argparse.Namespace) -> dict[str, Any]:
    out_dir = Path(args.out) / "rnnkit"
    config = config_for(args, out_dir)
    epochs, note = fit_epochs(config, args.minutes)
    print(f"rnnkit: {note}", flush=True)
    config = replace(config, train=replace(config.train, epochs=epochs))
    result, seconds = timed(lambda: T.train(config))
    loaded = T.load(out_dir / "best")
    model, pipeline = loaded.model, loaded.pipeline
    path = loaded.data.path
    assert path is not None
    dev = split_pairs(read_direction(path, "fr-en"), args.dev_split, 0)[1]
    sources = [
        torch.tensor(pipeline.source.encode(t.source)) for t in tokenize_pairs(dev, lowercase=True)
    ]

    def translate(beam: int) -> list[str]:
        return [pipeline.detokenize(ids) for ids in decode(model, sources, beam)]

    return {
        "system": "rnnkit",
        "train_seconds": seconds,
        "epochs": epochs,
        "fit": note,
        "best_dev_bleu_1000": result.best_metric,
        "parameters": sum(p.numel() for p in model.parameters()),
        **evaluate_both_ways(translate, dev, args.beam),
    }


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    import _plain_seq2seq as P

    config = config_for(args, Path(args.out) / "baseline")
    path = T.data_file(config.data)
    train_pairs, dev = split_pairs(read_direction(path, "fr-en"), args.dev_split, 0)
    tokens = tokenize_pairs(train_pairs, lowercase=True)
    source, target = build_vocabularies(tokens, min_count=config.data.min_count)
    truecase = truecase_table(tokenize_pair_text(p.target, lowercase=False) for p in train_pairs)
    pipeline = TranslationPipeline(source, target, True, "fr-en", 100, truecase)
    torch.manual_seed(args.seed)
    model = P.PlainSeq2Seq(len(source), len(target))
    info = P.train(model, encode_pairs(tokens, pipeline), args.minutes * 60, seed=args.seed)
    sources = [torch.tensor(source.encode(t.source)) for t in tokenize_pairs(dev, lowercase=True)]
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))

    def translate(beam: int) -> list[str]:
        rows: dict[int, list[int]] = {}
        for start in range(0, len(order), 64):
            chunk = order[start : start + 64]
            x = [sources[i] for i in chunk]
            lengths = torch.tensor([len(s) for s in x])
            padded = pad_sequence(x, batch_first=True)
            limit = 2 * int(lengths.max()) + 10
            if beam == 1:
                found = model.greedy(padded, lengths, limit)
            else:
                found = model.beam(padded, lengths, limit, beam)
            rows.update(zip(chunk, found))
        return [pipeline.detokenize(rows[i]) for i in range(len(sources))]

    return {
        "system": "baseline (plain PyTorch)",
        "train_seconds": info["seconds"],
        "epochs": round(info["epochs"], 2),
        "steps": info["steps"],
        "parameters": sum(p.numel() for p in model.parameters()),
        **evaluate_both_ways(translate, dev, args.beam),
    }


def run_both(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each system in its own process, at the same time."""
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    children = []
    for system in ("rnnkit", "baseline"):
        result = folder / f"{system}.json"
        command = [sys.executable, __file__, *sys.argv[1:], "--system", system]
        command += ["--result", str(result)]
        children.append((subprocess.Popen(command), result))
    results = []
    for process, result in children:
        if process.wait() != 0:
            raise SystemExit(f"{result.stem} failed (exit {process.returncode})")
        results.append(json.loads(result.read_text()))
    return results


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    header = ["system", "decoding", "BLEU", "BLEU (uncased)", "chrF", "sentences/s"]
    header += ["train min", "epochs"]
    rows = []
    for r in results:
        for name in ("greedy", f"beam{args.beam}"):
            s = r[name]
            rows.append(
                [
                    r["system"],
                    name,
                    f"{s['bleu']:.2f}",
                    f"{s['bleu_uncased']:.2f}",
                    f"{s['chrf']:.2f}",
                    f"{s['sentences_per_s']:.0f}",
                    f"{r['train_seconds'] / 60:.1f}",
                    str(r["epochs"]),
                ]
            )
    print(f"\nfr -> en, dev split {args.dev_split}, {args.threads} thread(s) each\n")
    print(markdown_table(header, rows))
    if len(results) == 2:
        margin = results[0][f"beam{args.beam}"]["bleu"] - results[1][f"beam{args.beam}"]["bleu"]
        print(f"\nrnnkit beam {args.beam} - baseline beam {args.beam}: {margin:+.2f} BLEU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="training time per system")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per system")
    parser.add_argument("--system", choices=("both", "rnnkit", "baseline"), default="both")
    parser.add_argument("--dev-split", choices=("every10", "grouped"), default="every10")
    parser.add_argument("--data", default=None, help="the pair file (default: the shared one)")
    parser.add_argument("--preset", default="default", choices=sorted(T.PRESETS))
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-translate", help="runs and results")
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.system == "both":
        results = run_both(args)
    else:
        run = run_rnnkit if args.system == "rnnkit" else run_baseline
        results = [run(args)]
        if args.result:
            Path(args.result).write_text(json.dumps(results[0], indent=1))
            return 0
    report(results, args)
    summary = Path(args.out) / f"results-{args.dev_split}.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
