"""Benchmark: seconds per IMDB training epoch of rnnkit, plain PyTorch and Keras 3 (TensorFlow).

    python benchmarks/sentiment_frameworks.py                      # both presets, full epochs
    python benchmarks/sentiment_frameworks.py --limit 40           # 40 batches each: a minute
    python benchmarks/sentiment_frameworks.py --presets lecture --profile lecture-profile.txt
    python benchmarks/sentiment_frameworks.py --keras-python /path/to/python   # own TF install

The models (issue 14): the lecture's Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1) on
the last 500 words, batch 128 (the lecture's Keras batch; the preset trains on 64, --batch-size
changes it), and the bilstm preset (Embedding(30,000, 128) -> bidirectional LSTM(64) ->
max-pooling -> Dense(1), batch 64), each with its preset's dropouts, Adam, learning rate and
gradient-norm clip (a constant rate everywhere: the bilstm's cosine over 3 epochs costs
nothing to compute). All frameworks train on the same batches in the same order: the
recipe's own for epoch 0 (`sentiment.prepare(config).train_batches(0)`: the 22,500 training
reviews, bucketed by length, so each batch is padded only to its own longest review).

  rnnkit           `rnnkit.train.fit` on the preset's SequenceClassifier, as `rnnkit train
                   sentiment --preset X` trains it (no dev evaluation, no checkpoints, no
                   progress bar); the wall time of the whole `fit` call.
  torch padded     nn.Embedding + nn.RNN / nn.LSTM + nn.Linear over the padded batch, the last
                   real step gathered at length - 1 (lecture) or padding masked out of the max
                   (bilstm). Exact for one direction; for the bidirectional LSTM the backward
                   direction starts on the padding (its results differ from rnnkit's), so it is
                   a lower bound of what a correct model costs.
  torch packed     the same layers over pack_padded_sequence: exact, the usual PyTorch way.
  keras            Keras 3 on TensorFlow in a subprocess, the same layers and batches from an
                   .npz (see _keras_sentiment.py): the lecture's "pre" padding (the last word on
                   the last step, no mask), the bilstm with mask_zero=True. `model.fit` timed
                   per epoch by a callback: the first epoch includes tracing, the figure is the
                   best later one ("keras 1st" is the first).

The Keras environment is made on demand in benchmarks/.keras-venv (python -m venv, then
tensorflow-cpu and keras at the pinned versions below); without network access the Keras
rows say why and the rest still runs. Threads: --threads (default 1) for torch, and for
TensorFlow intra/inter-op threads and OMP_NUM_THREADS. Timing: each round runs every
framework once, in a rotated order; the best round counts.

--profile FILE: one rnnkit epoch (or --limit batches) under torch.profiler, its CPU time by
part, forward and backward (embedding, input dropout, recurrent layer, head, loss and
pooling, optimiser, clipping, Python between operators; `_epoch_profile.py`), plus the
batching `fit` asks for before its clock starts; the file also holds the operator table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _epoch_profile import PROFILE_HEADER, profile_epoch
from _timing import markdown_table

from rnnkit.data.batch import Batch
from rnnkit.tasks import sentiment as S
from rnnkit.train.fit import fit

HERE = Path(__file__).resolve().parent
KERAS_VENV = HERE / ".keras-venv"
KERAS_PINS = ("tensorflow-cpu==2.21.0", "keras==3.15.1")  # the versions measured, Python 3.11
ISSUE_BATCH_SIZES = {"lecture": 128}  # the issue's lecture batch; others keep their preset's
TARGET = 1.0  # rnnkit <= TARGET x the fastest


class PlainClassifier(nn.Module):
    """Embedding(V, E) -> dropout -> nn.RNN / bidirectional nn.LSTM -> pool -> dropout ->
    Linear(H', 1), written the usual PyTorch way."""

    def __init__(self, config: S.SentimentConfig, packed: bool):
        super().__init__()
        enc, model = config.model.encoder, config.model
        self.packed, self.pooling = packed, model.pooling
        self.embedding = nn.Embedding(enc.vocab_size, enc.embedding_dim, padding_idx=0)
        self.input_dropout = nn.Dropout(enc.input_dropout)
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[enc.cell]
        self.rnn = kind(
            enc.embedding_dim,
            enc.hidden_size,
            batch_first=True,
            bidirectional=enc.bidirectional,
        )
        self.output_dropout = nn.Dropout(model.output_dropout)
        self.linear = nn.Linear(enc.hidden_size * (2 if enc.bidirectional else 1), 1)

    def forward(self, ids: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        e = self.input_dropout(self.embedding(ids))  # (B, T, E)
        if self.packed:
            packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out_packed, final = self.rnn(packed)
            outputs, _ = pad_packed_sequence(out_packed, batch_first=True)  # (B, T, H')
        else:
            outputs, final = self.rnn(e)  # (B, T, H')
        if self.pooling == "max":
            pooled = outputs.masked_fill(~mask[:, : outputs.shape[1], None], float("-inf"))
            h = pooled.max(dim=1).values  # (B, H')
        elif self.packed:
            h_n = final[0] if isinstance(final, tuple) else final  # (dirs, B, H)
            h = torch.cat(list(h_n), dim=-1)  # (B, H')
        else:  # one direction: the output at each review's own last word
            h = outputs[torch.arange(len(lengths)), lengths - 1]  # (B, H)
        return self.linear(self.output_dropout(h)).squeeze(-1)  # (B,)


def plain_epoch(config: S.SentimentConfig, batches: Sequence[Batch], packed: bool) -> float:
    """One training epoch in plain PyTorch (the same optimiser and clip); its seconds."""
    model = PlainClassifier(config, packed).train()
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=config.train.lr, fused=True)  # as rnnkit's
    clip = config.train.clip_norm or float("inf")
    total = torch.zeros((), dtype=torch.float64)
    start = time.perf_counter()
    for batch in batches:
        assert batch.targets is not None
        logits = model(batch.inputs, batch.lengths, batch.mask)
        loss = F.binary_cross_entropy_with_logits(logits, batch.targets.float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        total += loss.detach()
    float(total)  # the loss sum is read once, at the end, as the engine does
    return time.perf_counter() - start


def rnnkit_epoch(config: S.SentimentConfig, batches: Sequence[Batch]) -> float:
    """One epoch through rnnkit's engine; the seconds of the whole `fit` call."""
    model = S.build_model(config)
    train = replace(config.train, epochs=1, out_dir=None, progress=False, device="cpu")
    start = time.perf_counter()
    fit(model, lambda epoch: batches, None, train)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------------- Keras


def keras_python(given: str | None) -> tuple[str | None, str]:
    """(the Python that has Keras, "") or (None, why there is none): --keras-python, else
    benchmarks/.keras-venv, made here on first use."""
    if given:
        return given, ""
    python = KERAS_VENV / "bin" / "python"
    check = [str(python), "-c", "import keras, tensorflow"]
    if python.exists() and subprocess.run(check, check=False, capture_output=True).returncode == 0:
        return str(python), ""
    print(f"making {KERAS_VENV} ({', '.join(KERAS_PINS)})", file=sys.stderr, flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(KERAS_VENV)],
        [str(python), "-m", "pip", "install", "-q", *KERAS_PINS],
    ]
    for step in steps:
        done = subprocess.run(step, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"could not make the Keras venv ({' '.join(step[2:4])}): {last[:200]}"
    return str(python), ""


def write_npz(batches: Sequence[Batch], path: Path) -> None:
    """The batches' ids (padded at the end), lengths, labels and batch starts, in order."""
    T = max(b.inputs.shape[1] for b in batches)
    ids = torch.cat([F.pad(b.inputs, (0, T - b.inputs.shape[1])) for b in batches])  # (N, T)
    sizes = [b.size for b in batches]
    np.savez(
        path,
        ids=ids.to(torch.int32).numpy(),
        lengths=torch.cat([b.lengths for b in batches]).numpy(),
        labels=torch.cat([b.targets for b in batches if b.targets is not None]).numpy(),
        starts=np.concatenate([[0], np.cumsum(sizes)]),
    )


def keras_epochs(
    python: str, config: S.SentimentConfig, data: Path, threads: int, epochs: int, jit: str
) -> dict[str, Any]:
    """Run _keras_sentiment.py for `epochs` epochs; its JSON (epoch_seconds, versions)."""
    enc = config.model.encoder
    spec = {
        "cell": enc.cell,
        "vocab_size": enc.vocab_size,
        "embedding_dim": enc.embedding_dim,
        "hidden_size": enc.hidden_size,
        "bidirectional": enc.bidirectional,
        "input_dropout": enc.input_dropout,
        "output_dropout": config.model.output_dropout,
        "lr": config.train.lr,
        "clip_norm": config.train.clip_norm,
        "epochs": epochs,
        "threads": threads,
        "jit_compile": {"auto": "auto", "on": True, "off": False}[jit],
        "padding": "post" if enc.bidirectional or config.model.pooling != "last" else "pre",
    }
    spec_path = data.with_suffix(".json")
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")})
    env["TF_NUM_INTEROP_THREADS"] = str(threads)
    command = [python, str(HERE / "_keras_sentiment.py"), str(data), str(spec_path)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"Keras run failed: {done.stderr.strip()[-600:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class KerasRuns:
    """`keras_epochs` once per round: returns the best epoch after the first (None once a run
    failed; `error` then says why) and keeps the first epochs and the run's details."""

    def __init__(self, python: str, config: S.SentimentConfig, data: Path, args: Any):
        self.python, self.config, self.data, self.args = python, config, data, args
        self.first: list[float] = []
        self.info: dict[str, Any] = {}
        self.error = ""

    def __call__(self) -> float | None:
        if self.error:
            return None
        args = self.args
        try:
            result = keras_epochs(
                self.python, self.config, self.data, args.threads, args.keras_epochs, args.keras_jit
            )
        except (RuntimeError, OSError) as e:  # the run failed, or no such Python
            self.error = str(e).replace("\n", " ")[-300:]
            return None
        seconds = result.pop("epoch_seconds")
        self.first.append(seconds[0])
        self.info = result
        return float(min(seconds[1:] or seconds))


# ------------------------------------------------------------------------------------ main


def configured(name: str, source: Path, batch_size: int | None) -> S.SentimentConfig:
    """The preset on `source`, at the issue's (or --batch-size) batch size, epochs = 1."""
    config = S.PRESETS[name]
    size = batch_size or ISSUE_BATCH_SIZES.get(name, config.train.batch_size)
    train = replace(
        config.train, batch_size=size, epochs=1, out_dir=None, progress=False, device="cpu"
    )
    return replace(config, data=replace(config.data, path=str(source)), train=train)


def time_preset(
    name: str, args: argparse.Namespace, source: Path, tmp: Path, keras: str | None
) -> dict[str, Any]:
    """Every framework's epochs on one preset, alternating, and the profile when asked."""
    prepared = S.prepare(configured(name, source, args.batch_size))
    config = prepared.config
    start = time.perf_counter()
    batches = prepared.train_batches(0)
    batching = time.perf_counter() - start
    full = len(batches)
    if args.limit:
        batches = batches[: args.limit]
    runs: dict[str, Any] = {"rnnkit": lambda: rnnkit_epoch(config, batches)}
    for variant in args.torch:
        runs[f"torch {variant}"] = lambda p=variant == "packed": plain_epoch(config, batches, p)
    keras_runs = None
    if keras is not None:
        write_npz(batches, tmp / f"{name}.npz")
        keras_runs = runs["keras"] = KerasRuns(keras, config, tmp / f"{name}.npz", args)
    warm = batches[:3]  # first calls pay one-off costs (allocator, oneDNN primitives)
    rnnkit_epoch(config, warm)
    for variant in args.torch:
        plain_epoch(config, warm, variant == "packed")
    times: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for framework in names[shift:] + names[:shift]:
            torch.manual_seed(round_)
            result = runs[framework]()
            if result is not None:
                times[framework].append(float(result))
                print(f"{name} round {round_ + 1} {framework}: {result:.2f} s", file=sys.stderr)
    if keras_runs is not None and keras_runs.first:
        times["keras 1st"] = keras_runs.first
    out: dict[str, Any] = {
        "preset": name,
        "batches": len(batches),
        "batch_size": config.train.batch_size,
        "reviews": sum(b.size for b in batches),
        "batching_seconds": batching * len(batches) / full,
        "times": {k: v for k, v in times.items() if v},
        "keras": {} if keras_runs is None else keras_runs.info,
        "keras_error": "" if keras_runs is None else keras_runs.error,
    }
    if args.profile:
        out["profile"] = profile_epoch(config, batches, out["batching_seconds"])
    return out


def speed_rows(result: dict[str, Any], keras_note: str) -> list[list[str]]:
    """Table rows of one preset: framework, best s, ratio to the fastest, verdict for rnnkit."""
    best = {k: min(v) for k, v in result["times"].items()}
    fastest = min(v for k, v in best.items() if k != "keras 1st")
    rows = []
    for framework, seconds in best.items():
        ratio = seconds / fastest
        verdict = ""
        if framework == "rnnkit":
            verdict = f"{'PASS' if ratio <= TARGET else 'FAIL'} (<= {TARGET:.1f}x the fastest)"
        elif framework == "keras 1st":
            verdict = "first epoch: tracing included"
        rows.append([result["preset"], framework, f"{seconds:.2f}", f"{ratio:.2f}", verdict])
    note = keras_note or result["keras_error"]
    if note:
        rows.append([result["preset"], "keras", "-", "-", note])
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="label<TAB>text file (default: the shared imdb file)")
    parser.add_argument("--presets", default="lecture,bilstm", help="comma-separated presets")
    parser.add_argument("--limit", type=int, help="time only the first N batches of the epoch")
    parser.add_argument("--batch-size", type=int, help="override the batch size (lecture: 128)")
    parser.add_argument("--threads", type=int, default=1, help="threads for all (default: 1)")
    parser.add_argument("--rounds", type=int, default=2, help="epochs timed per framework")
    parser.add_argument(
        "--torch",
        default="padded,packed",
        type=lambda s: [v for v in s.split(",") if v],
        help="plain PyTorch variants: padded, packed or both (default), or '' for none",
    )
    parser.add_argument("--keras-python", help="a Python with keras and tensorflow")
    parser.add_argument("--no-keras", action="store_true", help="leave Keras out")
    parser.add_argument(
        "--keras-epochs", type=int, default=2, help="Keras epochs per round (the first traces)"
    )
    parser.add_argument(
        "--keras-jit", choices=["auto", "on", "off"], default="auto", help="Keras jit_compile"
    )
    parser.add_argument("--profile", help="write the rnnkit epoch's profile to this file")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    source = Path(args.data) if args.data else S.training_source(S.SentimentDataConfig())
    keras, keras_note = (None, "left out (--no-keras)")
    if not args.no_keras:
        keras, keras_note = keras_python(args.keras_python)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets.split(","):
            results.append(time_preset(name, args, source, Path(tmp), keras))
    print(
        f"\nIMDB sentiment, seconds per epoch ({source}; CPU, {args.threads} thread(s), "
        f"torch {torch.__version__}, best of {args.rounds} rounds)"
    )
    for r in results:
        print(
            f"{r['preset']}: {r['batches']} batches of {r['batch_size']} ({r['reviews']} "
            f"reviews); batching {r['batching_seconds']:.2f} s (not in the times); keras "
            + (", ".join(f"{k} {v}" for k, v in r["keras"].items()) or "-")
        )
    rows = [row for r in results for row in speed_rows(r, keras_note)]
    header = ["preset", "framework", "s/epoch", "/ fastest", "note"]
    if args.limit:
        header[2] = f"s / {args.limit} batches"
    print(markdown_table(header, rows))
    for r in results:
        if "profile" in r:
            parts, table = r["profile"]
            print(f"\nWhere one rnnkit epoch's time goes ({r['preset']}; under the profiler)")
            print(markdown_table(PROFILE_HEADER, parts))
    if args.profile:
        with open(args.profile, "w", encoding="utf-8") as f:
            for r in results:
                parts, table = r["profile"]
                f.write(f"# {r['preset']}\n{markdown_table(PROFILE_HEADER, parts)}\n\n")
                f.write(f"{table}\n\n")
        print(f"profile written to {args.profile}")
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "profile"} for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
