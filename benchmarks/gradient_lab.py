"""The vanishing/exploding-gradient lab at its full settings, summarised as a table.

    .venv/bin/python benchmarks/gradient_lab.py [--preset full|default|quick] [--out DIR]

Writes gradients.png, long_range.png, clipping.png and lab.json into --out and prints, per
cell, the gradient norm that reaches 50 steps back (relative to the last step's, which is 1)
at each W_aa gain, the held-out accuracy at each gap and the largest gap learned; then the
clipping experiment's outcome and the wall time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from rnnkit.diagnose import LabConfig, run_lab

PRESETS = {"full": LabConfig.full, "default": LabConfig, "quick": LabConfig.quick}


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:9.2e}"


def print_tables(result: dict[str, Any], config: LabConfig) -> None:
    summary = result["summary"]
    gradients = summary["gradient_norm_at_distance"]
    distance, by_gain = gradients["distance"], gradients["by_gain"]
    long_range = result["long_range"]
    gaps = config.long_range.gaps
    cells = list(dict.fromkeys(config.gradients.cells + config.long_range.cells))

    grad_heads = [f"|dL/da| d={distance} W_aa x{g}" for g in by_gain]
    gap_heads = [f"acc k={k}" for k in gaps]
    head = ["cell", *grad_heads, *gap_heads, f"largest k >= {config.long_range.threshold}"]
    widths = [max(8, len(h)) for h in head]
    print(" | ".join(h.rjust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for cell in cells:
        row = [cell]
        row += [_fmt(by_gain[g].get(cell)) for g in by_gain]
        accuracy = long_range["accuracy"].get(cell)
        row += [f"{a:.3f}" for a in accuracy] if accuracy else ["-"] * len(gaps)
        largest = long_range["largest_gap_learned"].get(cell, "-")
        row.append("none" if largest is None else str(largest))
        print(" | ".join(v.rjust(w) for v, w in zip(row, widths)))

    clip = result["clipping"]
    c = config.clipping
    print(
        f"\nclipping ({c.cell}, W_aa x{c.gain:g}, SGD lr {c.lr:g}, gap {c.gap}, "
        f"clip_norm {c.clip_norm:g}, {c.steps} steps):"
    )
    for name in ("unclipped", "clipped"):
        run = clip[name]
        fate = (
            f"not finite at step {run['diverged_at']}"
            if run["diverged_at"] is not None
            else f"final loss {run['final_loss']:.4f}"
        )
        print(
            f"  {name:9s}: max ||g|| computed {_fmt(run['max_grad_norm'])}, "
            f"max ||g|| applied {_fmt(run['max_applied_norm'])}, {fate}"
        )
    seconds = {k: result[k]["seconds"] for k in ("gradients", "long_range", "clipping")}
    print("\nseconds per experiment: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--out", type=Path, default=Path("runs/gradient_lab"))
    # The models are tiny (H <= 128): a second intra-op thread buys nothing and, on a busy
    # machine, costs many times over in synchronisation.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = PRESETS[args.preset]()
    print(f"preset {args.preset}, torch threads {torch.get_num_threads()}, out {args.out}\n")
    start = time.perf_counter()
    result = run_lab(args.out, config=config)
    print_tables(result, config)
    print(f"total wall time {time.perf_counter() - start:.1f} s; files in {args.out}")


if __name__ == "__main__":
    main()
