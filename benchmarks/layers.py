"""Forward + backward time of rnnkit's recurrent layers against torch.nn, side by side.

For each shape and cell, three variants run the same weights on the same batch:

  torch.nn   torch.nn.RNN / GRU / LSTM (batch_first)
  fused      rnnkit.layers.RNN(execution='fused'): the same PyTorch kernel on rnnkit's parameters
  reference  rnnkit.layers.RNN(execution='reference'): rnnkit's own time loop over the cell

One timed call is: forward on x (B, T, D) with x.requires_grad, loss = sum of the outputs,
backward. The variants are timed round-robin after a warm-up and the median is reported
(see benchmarks/_timing.py). Targets, checked at the fastrnns shape on the CPU:
fused/torch <= 1.05 and reference/fused <= 3.0.

    python benchmarks/layers.py                 # all shapes and cells, CPU
    python benchmarks/layers.py --quick         # a smoke run
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

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import markdown_table, time_interleaved

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


def torch_twin(ours: RNN) -> nn.Module:
    """torch.nn.RNN / GRU / LSTM holding a copy of `ours`'s single-layer weights."""
    cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[ours.cell_type]
    twin = cls(ours.input_size, ours.hidden_size, batch_first=True)
    with torch.no_grad():
        w_ih, w_hh, b_ih, b_hh = ours.cells[0].fused_weights()  # type: ignore[operator]
        twin.weight_ih_l0.copy_(w_ih)
        twin.weight_hh_l0.copy_(w_hh)
        twin.bias_ih_l0.copy_(b_ih)
        twin.bias_hh_l0.copy_(b_hh)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"comma list of {', '.join(SHAPES)}"
    )
    parser.add_argument(
        "--cells", default=",".join(CELLS), help=f"comma list of {', '.join(CELLS)}"
    )
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
    repeats = args.repeats or (2 if args.quick else 5)
    warmup = 1 if args.quick or device.type == "cpu" else 2  # CUDA: allocator, cuDNN plans

    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(
        f"torch {torch.__version__}, {device}{gpu}, {len(os.sched_getaffinity(0))} cores, "
        f"{torch.get_num_threads()} threads, float32, forward + backward, median of {repeats} "
        f"interleaved rounds after {warmup} "
        "warm-up\n"
    )
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
    started = time.perf_counter()
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
        f"reference/fused <= {REFERENCE_OVER_FUSED}; total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
