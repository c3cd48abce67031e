"""Forward + backward time of rnnkit's recurrent layers against torch.nn, side by side.

For each shape and cell, three variants run the same weights on the same batch:

  torch.nn   torch.nn.RNN / GRU / LSTM (batch_first)
  fused      rnnkit.layers.RNN(execution='fused'): the same PyTorch kernel on rnnkit's parameters
  reference  rnnkit.layers.RNN(execution='reference'): rnnkit's own time loop over the cell

One timed call is: forward on x (B, T, D) with x.requires_grad, loss = sum of the outputs,
backward. The variants are timed round-robin after a warm-up and the median is reported
(see benchmarks/_timing.py). Targets, checked at the fastrnns shape on the CPU:
fused/torch <= 1.05 and reference/fused <= 3.0.

The varied-length section (`--section varied`) times one training step over a batch whose
lengths are uniform in [T/2, T], bucketed as the trainers batch (rnnkit.data.BucketBatcher over
50 batches' worth of lengths; the batch with the most padding is taken), uni- and
bidirectional, in four ways:

  ceiling    the same batch cut to its longest length, without lengths: one padded kernel call
  fused      rnnkit's fused execution with lengths (padded calls on the CPU, packing on CUDA)
  packed     torch.nn over pack_padded_sequence (packing and unpacking included)
  reference  rnnkit's readable loop, what execution='auto' ran there before the padded calls

Targets (CPU): fused/ceiling <= 1.1, packed/fused >= 2 and reference/fused >= 2.

    python benchmarks/layers.py                 # both sections, all shapes and cells, CPU
    python benchmarks/layers.py --quick         # a smoke run
    python benchmarks/layers.py --section varied --threads 1
    python benchmarks/layers.py --device cuda --shapes fastrnns --cells lstm
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import markdown_table, time_interleaved

from rnnkit.data.batching import BucketBatcher
from rnnkit.layers import RNN


@dataclass(frozen=True)
class Shape:
    name: str
    T: int  # time steps
    B: int  # batch size
    D: int  # input features
    H: int  # hidden units


SHAPES = {
    s.name: s
    for s in [
        Shape("sentiment", T=500, B=32, D=100, H=10),  # the lecture's sentiment classifier
        Shape("fastrnns", T=100, B=64, D=512, H=512),  # PyTorch's benchmarks/fastrnns default
        Shape("small", T=100, B=16, D=64, H=64),
    ]
}
CELLS = ["rnn", "gru", "lstm"]
TARGET_SHAPE = "fastrnns"
FUSED_OVER_TORCH = 1.05
REFERENCE_OVER_FUSED = 3.0
VARIED_OVER_CEILING = 1.1  # varied-length section: fused with lengths / the padded ceiling
VARIED_SPEEDUP = 2.0  # ... and packed / fused, reference / fused at least this


class Setting(NamedTuple):
    device: torch.device
    repeats: int  # timed rounds
    warmup: int  # untimed calls of each variant first


def torch_twin(ours: RNN) -> nn.Module:
    """torch.nn.RNN / GRU / LSTM holding a copy of `ours`'s single-layer weights (both
    directions when `ours` is bidirectional)."""
    cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[ours.cell_type]
    twin = cls(
        ours.input_size, ours.hidden_size, batch_first=True, bidirectional=ours.bidirectional
    )
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"][: ours.num_directions]):
            weights = ours.cells[d].fused_weights()  # type: ignore[operator]
            for name, w in zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], weights):
                getattr(twin, f"{name}_l0{suffix}").copy_(w)
    return twin


def train_step(module: nn.Module, x: Tensor, **kwargs: object) -> Callable[[], None]:
    """One forward + backward of `module` on x, gradients cleared first."""
    params = list(module.parameters())

    def run() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        out, _ = module(x, **kwargs)
        out.sum().backward()

    return run


def bench_one(
    shape: Shape, cell: str, device: torch.device, repeats: int, warmup: int
) -> dict[str, float]:
    torch.manual_seed(0)
    ours = RNN(cell, shape.D, shape.H).to(device)
    twin = torch_twin(ours).to(device)
    x = torch.randn(shape.B, shape.T, shape.D, device=device, requires_grad=True)
    variants = {
        "torch": train_step(twin, x),
        "fused": train_step(ours, x, execution="fused"),
        "reference": train_step(ours, x, execution="reference"),
    }
    return time_interleaved(variants, device, repeats=repeats, warmup=warmup)


def verdict(fused_ratio: float, reference_ratio: float) -> str:
    """PASS, or FAIL naming the ratio that missed its target."""
    missed = [
        name
        for name, ratio, limit in [
            ("fused/torch", fused_ratio, FUSED_OVER_TORCH),
            ("reference/fused", reference_ratio, REFERENCE_OVER_FUSED),
        ]
        if ratio > limit
    ]
    return "FAIL: " + ", ".join(missed) if missed else "PASS"


def batch_lengths(shape: Shape, bucket: bool, seed: int = 0) -> list[int]:
    """A batch of B lengths as the trainers make it: 50 batches' worth of lengths uniform in
    [T/2, T], batched by `BucketBatcher` (bucketed by length, or plain random batches when not
    `bucket`); of its batches, the one with the most padding (the widest spread of lengths: the
    most work for the padded calls, the least for packing), in the batcher's order."""
    generator = torch.Generator().manual_seed(seed)
    pool = torch.randint(shape.T // 2, shape.T + 1, (50 * shape.B,), generator=generator)
    batches = BucketBatcher(pool, shape.B, seed=seed, bucket=bucket).batches(0)
    widest = max(batches, key=lambda b: len(b) * int(pool[b].max()) - int(pool[b].sum()))
    return [int(n) for n in pool[widest].tolist()]


def packed_step(twin: nn.Module, x: Tensor, lengths: Tensor) -> Callable[[], None]:
    """One forward + backward of torch.nn over the packed batch, packing included."""
    params = list(twin.parameters())

    def run() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(twin(packed)[0], batch_first=True, total_length=x.shape[1])
        out.sum().backward()

    return run


def bench_varied(
    shape: Shape, cell: str, bidirectional: bool, lengths_list: list[int], setting: Setting
) -> dict[str, float]:
    device, repeats, warmup = setting
    torch.manual_seed(0)
    ours = RNN(cell, shape.D, shape.H, bidirectional=bidirectional).to(device)
    twin = torch_twin(ours).to(device)
    T = max(lengths_list)
    lengths = torch.tensor(lengths_list)
    x = torch.randn(shape.B, T, shape.D, device=device, requires_grad=True)
    variants = {
        "ceiling": train_step(ours, x, execution="fused"),
        "fused": train_step(ours, x, lengths=lengths, execution="fused"),
        "packed": packed_step(twin, x, lengths),
        "reference": train_step(ours, x, lengths=lengths, execution="reference"),
    }
    return time_interleaved(variants, device, repeats=repeats, warmup=warmup)


def varied_row(
    shape_name: str,
    cell: str,
    bidirectional: bool,
    ms: dict[str, float],
    lengths: list[int],
    on_cpu: bool,
) -> list[str]:
    """One table row; the targets are the CPU's (the GPU packs, natively)."""
    over_ceiling = ms["fused"] / ms["ceiling"]
    packed = ms["packed"] / ms["fused"]
    reference = ms["reference"] / ms["fused"]
    met = (
        over_ceiling <= VARIED_OVER_CEILING
        and packed >= VARIED_SPEEDUP
        and reference >= VARIED_SPEEDUP
    )
    return [
        f"{shape_name}: {min(lengths)}-{max(lengths)}",
        cell + (" bi" if bidirectional else ""),
        *(f"{ms[k]:.1f}" for k in ["ceiling", "fused", "packed", "reference"]),
        f"{over_ceiling:.2f}",
        f"{packed:.2f}",
        f"{reference:.2f}",
        ("PASS" if met else "FAIL") if on_cpu else "-",
    ]


def run_varied(shapes: list[str], cells: list[str], setting: Setting, bucket: bool) -> None:
    header = [
        "shape: lengths",
        "cell",
        "ceiling ms",
        "fused ms",
        "packed ms",
        "reference ms",
        "fused/ceiling",
        "packed/fused",
        "reference/fused",
        "target",
    ]
    rows: list[list[str]] = []
    for s in shapes:
        lengths = batch_lengths(SHAPES[s], bucket)
        for cell in cells:
            for bidirectional in (False, True):
                ms = bench_varied(SHAPES[s], cell, bidirectional, lengths, setting)
                on_cpu = setting.device.type == "cpu"
                rows.append(varied_row(s, cell, bidirectional, ms, lengths, on_cpu))
                print(markdown_table(header, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(markdown_table(header, rows))
    print(
        f"\n{'bucketed' if bucket else 'random (not bucketed)'} batch, lengths in [T/2, T]; "
        f"target (CPU): fused/ceiling <= {VARIED_OVER_CEILING}, packed/fused and "
        f"reference/fused >= {VARIED_SPEEDUP}"
    )


def run_plain(
    shapes: list[str], cells: list[str], device: torch.device, repeats: int, warmup: int
) -> None:
    header = [
        "shape (T, B, D, H)",
        "cell",
        "torch.nn ms",
        "fused ms",
        "reference ms",
        "fused/torch",
        "reference/fused",
        "target",
    ]
    rows: list[list[str]] = []
    for s in shapes:
        shape = SHAPES[s]
        for cell in cells:
            ms = bench_one(shape, cell, device, repeats, warmup)
            fused_ratio = ms["fused"] / ms["torch"]
            ref_ratio = ms["reference"] / ms["fused"]
            if s == TARGET_SHAPE and device.type == "cpu":
                target = verdict(fused_ratio, ref_ratio)
            else:
                target = "-"
            rows.append(
                [
                    f"{s} ({shape.T}, {shape.B}, {shape.D}, {shape.H})",
                    cell,
                    f"{ms['torch']:.1f}",
                    f"{ms['fused']:.1f}",
                    f"{ms['reference']:.1f}",
                    f"{fused_ratio:.2f}",
                    f"{ref_ratio:.2f}",
                    target,
                ]
            )
            print(markdown_table(header, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(markdown_table(header, rows))
    print(
        f"\ntarget (fastrnns shape, CPU): fused/torch <= {FUSED_OVER_TORCH}, "
        f"reference/fused <= {REFERENCE_OVER_FUSED}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"comma list of {', '.join(SHAPES)}"
    )
    parser.add_argument(
        "--cells", default=",".join(CELLS), help=f"comma list of {', '.join(CELLS)}"
    )
    parser.add_argument(
        "--section",
        choices=["plain", "varied", "both"],
        default="both",
        help="plain: equal lengths against torch.nn; varied: lengths in [T/2, T] (default both)",
    )
    parser.add_argument(
        "--no-bucket",
        action="store_true",
        help="varied section: a random batch instead of a length-bucketed one",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 rounds, 1 warm-up: a smoke run")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for s in shapes:
        if s not in SHAPES:
            parser.error(f"unknown shape {s!r}: expected some of {', '.join(SHAPES)}")
    for c in cells:
        if c not in CELLS:
            parser.error(f"unknown cell {c!r}: expected some of {', '.join(CELLS)}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 5)
    warmup = 1 if args.quick or device.type == "cpu" else 2  # CUDA: allocator, cuDNN plans

    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(
        f"torch {torch.__version__}, {device}{gpu}, {len(os.sched_getaffinity(0))} cores, "
        f"{torch.get_num_threads()} threads, float32, forward + backward, median of {repeats} "
        f"interleaved rounds after {warmup} "
        "warm-up\n"
    )
    started = time.perf_counter()
    if args.section in ("plain", "both"):
        run_plain(shapes, cells, device, repeats, warmup)
    if args.section in ("varied", "both"):
        if args.section == "both":
            print()
        run_varied(shapes, cells, Setting(device, repeats, warmup), bucket=not args.no_bucket)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
