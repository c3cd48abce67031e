"""Benchmark: validation loss per character on Tiny Shakespeare, training time, and a sample.

    python benchmarks/text_shakespeare.py                  # the default preset, epochs fitted
                                                           # to 28 minutes of training
    python benchmarks/text_shakespeare.py --minutes 0      # the preset's own epochs
    python benchmarks/text_shakespeare.py --max-steps 60   # a short check of the loss curve
    python benchmarks/text_shakespeare.py --hidden-size 256 --epochs 2   # any training option
    python benchmarks/text_shakespeare.py --plot docs/text_shakespeare.png   # and draw the curve

Data: the shared tinyshakespeare/input.txt (or --data FILE); the first 90% of the characters
train, the last 10% validate (`text[:1003854]` / `text[1003854:]`), as is usual. The metric is
the exact mean -ln P(c<t+1> | c<1..t>) over every validation character, the state carried
through the whole validation text (in --eval-streams streams), in nats and in bits.

Target: <= 1.45 nats per character within 30 minutes on a 2-core CPU. For scale: a plain
PyTorch 2-layer LSTM-512 (dropout 0.2, Adam, random 128-character windows) reaches 1.50 in 12
minutes there and is already overfitting; nanoGPT's small character model reaches 1.88 on a CPU
in a few minutes.

--minutes M times a few training steps and the validation first, then sets the number of
epochs to what fits in M minutes (the cosine schedule then spans exactly those epochs).
--max-steps N runs the first N optimiser steps of the run (schedule unchanged: the preset's
epochs, or --epochs), validates and stops: a quick check that the loss falls as it should,
not the benchmark figure. Prints the loss trajectory (train loss every --log-every steps,
validation loss after every epoch, with the seconds elapsed), the result table and a sample.

On a machine shared with other jobs, torch's two intra-op threads can be far slower than one
(each kernel waits for a descheduled thread; 40 times slower was seen here), so by default the
script times a few steps both ways and keeps the faster (--threads N to fix it).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.config import to_dict
from rnnkit.data.batch import Batch
from rnnkit.models.registry import describe_model
from rnnkit.tasks import text
from rnnkit.tasks.recipe import Prepared
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import current_dist
from rnnkit.train.fit import TrainBatches, fit, make_optimizer

TARGET_NATS = 1.45
TARGET_SECONDS = 30 * 60


def time_per_step(
    prepared: Prepared[text.TextConfig], model: nn.Module, config: TrainConfig, steps: int = 4
) -> float:
    """Seconds per optimiser step of a throwaway copy of the model (after one warm-up step)."""
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, config)
    batches = list(prepared.train_batches(0))[: steps + 1]
    start = 0.0
    for i, batch in enumerate(batches):
        if i == 1:
            start = time.perf_counter()
        out = model(batch)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm or math.inf)
        optimizer.step()
    return (time.perf_counter() - start) / max(len(batches) - 1, 1)


def choose_threads(
    prepared: Prepared[text.TextConfig], model: nn.Module, config: TrainConfig
) -> str:
    """Keep torch's default thread count or 1, whichever trains faster here and now."""
    default = torch.get_num_threads()
    if default == 1:
        return "1 thread"
    timings = {}
    for threads in (default, 1):
        torch.set_num_threads(threads)
        timings[threads] = time_per_step(prepared, model, config, steps=2)
    best = min(timings, key=lambda t: timings[t])
    torch.set_num_threads(best)
    shown = ", ".join(f"{t} thread(s) {s:.2f} s/step" for t, s in timings.items())
    return f"{shown}: using {best}"


def time_evaluation(
    prepared: Prepared[text.TextConfig], model: nn.Module, windows: int = 3
) -> float:
    """Seconds for one pass over the validation batches, from timing a few of them."""
    if prepared.dev_batches is None:
        return 0.0
    batches = list(prepared.dev_batches())
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        model(batches[0])
        start = time.perf_counter()
        for batch in batches[1 : windows + 1]:
            model(batch)
        per_batch = (time.perf_counter() - start) / max(min(windows, len(batches) - 1), 1)
    return per_batch * len(batches)


def minutes_elapsed(log: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """(training minutes since the start, record) for the step and epoch records of a run's
    metrics log; validation time counts too (the engine's seconds restart every epoch)."""
    done, out = 0.0, []
    for r in log:
        if r.get("kind") == "step":
            out.append(((done + r["seconds"]) / 60, r))
        elif r.get("kind") == "epoch":
            done += r["seconds"] + r.get("eval_seconds", 0.0)
            out.append((done / 60, r))
    return out


def plot_curve(log: list[dict[str, Any]], path: Path, title: str) -> None:
    """Train loss (each log window) and validation loss (each epoch) against minutes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    timed = minutes_elapsed(log)
    fig = Figure(figsize=(6.4, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    train = [(m, r["train_loss"]) for m, r in timed if r["kind"] == "step"]
    valid = [(m, r["dev_loss"]) for m, r in timed if r["kind"] == "epoch" and "dev_loss" in r]
    for points, label, style in ((train, "train (dropout on)", "-"), (valid, "validation", "-s")):
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, style, label=label, markersize=4)
    ax.axhline(TARGET_NATS, color="gray", linestyle=":", label=f"target {TARGET_NATS}")
    ax.set_ylim(1.2, 2.6)
    ax.set_xlabel("minutes of training (validation included)")
    ax.set_ylabel("nats per character")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


class Budget(Exception):
    """Raised when --max-steps is reached, to leave `fit` after the evaluation that follows."""


class FirstSteps:
    """An epoch's batches cut after `keep` of them, reporting the full epoch's length, so the
    engine's cosine schedule is the one of the full run."""

    def __init__(self, batches: list[Batch], keep: int) -> None:
        self.batches, self.keep = batches, keep

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.batches[: self.keep])


def stop_after(batches: TrainBatches, steps: int, steps_per_epoch: int) -> TrainBatches:
    """The first `steps` optimiser steps of the run; then the engine evaluates, and the next
    epoch raises Budget."""

    def limited(epoch: int) -> FirstSteps:
        left = steps - epoch * steps_per_epoch
        if left <= 0:
            raise Budget
        return FirstSteps(list(batches(epoch)), left)

    return limited


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=sorted(text.PRESETS))
    parser.add_argument(
        "--minutes",
        type=float,
        default=28.0,
        help="fit the number of epochs to this many minutes of training (0: the preset's "
        "epochs; default: 28)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this many optimiser steps of the run (then validate); the schedule "
        "stays that of the full run",
    )
    parser.add_argument(
        "--threads",
        default="auto",
        help="torch intra-op threads, or auto: time a few steps with 1 and with torch's default "
        "and keep the faster (default: auto)",
    )
    parser.add_argument("--prime", default="ROMEO:", help="the sample's prime")
    parser.add_argument("--sample-length", type=int, default=500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--out", default=None, help="keep the run here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    parser.add_argument("--plot", default=None, help="draw the loss curve into this PNG file")
    add_config_arguments(
        parser,
        text.PRESETS["default"],
        hidden=frozenset({"vocab_size", "num_features", "bidirectional", "merge", "out_dir"}),
    )
    args = parser.parse_args()
    if args.threads != "auto":
        torch.set_num_threads(int(args.threads))
    config = apply_overrides(text.PRESETS[args.preset], vars(args))
    config = replace(config, train=replace(config.train, progress=False))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        config = replace(config, train=replace(config.train, out_dir=str(out)))
        dist = current_dist(config.train.device)
        prepared = text.prepare(config, dist)
        torch.manual_seed(config.train.seed)
        model = text.build_model(prepared.config)  # untouched by the timing, which runs copies
        vocab_size = prepared.config.model.encoder.vocab_size
        steps_per_epoch = len(list(prepared.train_batches(0)))
        train_batches = prepared.train_batches
        note = f"preset epochs ({config.train.epochs})"
        if args.threads == "auto":
            note = choose_threads(prepared, model, config.train) + "; " + note
        if args.minutes > 0 and args.max_steps is None:
            step_s = time_per_step(prepared, model, config.train)
            eval_s = time_evaluation(prepared, model)
            epoch_s = steps_per_epoch * step_s + eval_s
            epochs = max(1, int(args.minutes * 60 / epoch_s))
            config = replace(config, train=replace(config.train, epochs=epochs))
            note = (
                f"--minutes {args.minutes:g}: {step_s:.2f} s/step x {steps_per_epoch} steps "
                f"+ {eval_s:.0f} s validation = {epoch_s / 60:.1f} min/epoch -> {epochs} epochs"
            )
        if args.max_steps is not None:
            train_batches = stop_after(train_batches, args.max_steps, steps_per_epoch)
            note += f"; stopping after {args.max_steps} steps"
        print(
            f"vocabulary {vocab_size}; {steps_per_epoch} steps per epoch; {note}",
            flush=True,
        )
        start = time.perf_counter()
        try:
            fit(
                model,
                train_batches,
                prepared.dev_batches,
                config.train,
                evaluate=text.evaluate_chars,
                task=text.NAME,
                model_config=describe_model(model),
                extras={**prepared.extras, "data": to_dict(prepared.config.data)},
                dist=dist,
            )
        except Budget:
            pass
        seconds = time.perf_counter() - start
        log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        epochs_logged = [r for r in log if r.get("kind") == "epoch"]
        dev = [r for r in epochs_logged if "dev_loss" in r]
        best_record = min(dev, key=lambda r: r["dev_loss"]) if dev else None
        sample = text.generate(
            out / "best" if best_record is not None else out / "last",
            prime=args.prime,
            length=args.sample_length,
            temperature=args.temperature,
            seed=0,
        )

    print("\ntrajectory (train loss over the last log_every steps; validation after each epoch)")
    print("| step | seconds | train nats/char | valid nats/char |")
    print("|---|---|---|---|")
    for r in log:
        if r.get("kind") == "step":
            print(f"| {r['step']} | {r['seconds']:.0f} | {r['train_loss']:.3f} | |")
        elif r.get("kind") == "epoch" and "dev_loss" in r:
            print(
                f"| {r['step']} (epoch {r['epoch']}) | | {r['train_loss']:.3f} | "
                f"{r['dev_loss']:.4f} |"
            )
    enc = config.model.encoder
    best = best_record["dev_loss"] if best_record is not None else math.nan
    row = {
        "valid_nats_per_char": best,
        "valid_bits_per_char": best / math.log(2),
        "best_epoch": best_record["epoch"] if best_record is not None else None,
        "epochs": len(epochs_logged),
        "steps": epochs_logged[-1]["step"] if epochs_logged else 0,
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "device": str(dist.device),
        "model": f"{enc.cell} {enc.num_layers}x{enc.hidden_size}, B={config.train.batch_size}, "
        f"bptt={config.data.bptt}",
    }
    print(
        "\n| valid nats/char | bits/char | best epoch | epochs | steps | seconds | device | model |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {best:.4f} | {best / math.log(2):.4f} | {row['best_epoch']} | {row['epochs']} | "
        f"{row['steps']} | {row['train_seconds']} | {row['device']} ({row['threads']} threads) | "
        f"{row['model']} |"
    )
    met = best <= TARGET_NATS and seconds <= TARGET_SECONDS
    print(
        f"target: <= {TARGET_NATS} nats/char within {TARGET_SECONDS // 60} minutes: "
        f"{'PASS' if met else 'FAIL'}"
    )
    if args.plot:
        plot_curve(log, Path(args.plot), f"Tiny Shakespeare, {row['model']}")
        print(f"\nloss curve: {args.plot}")
    print(f"\nsample (temperature {args.temperature}, seed 0):\n{args.prime}{sample}")
    if args.json:
        print(json.dumps({**row, "sample": args.prime + sample}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
