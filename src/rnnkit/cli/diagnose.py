"""`rnnkit diagnose`: the vanishing/exploding-gradient lab, or one trained model's gradients."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import RnnkitError

HELP = "measure how gradients vanish or explode through time"


def add_command(commands: Any) -> None:
    p = commands.add_parser(
        "diagnose",
        help=HELP,
        description="The gradient lab. Without --checkpoint: ||dL/da<t>|| against the distance "
        "from the loss for simple RNN (tanh, ReLU), GRU and LSTM side by side; the largest gap k "
        "each cell learns on a remember-k-steps-back task; one unstable run with and without "
        "gradient clipping. Writes gradients.png, long_range.png, clipping.png and lab.json. "
        "With --checkpoint: the gradient norms through time of that model's recurrent stack.",
    )
    p.add_argument(
        "--out",
        default="runs/diagnose",
        metavar="DIR",
        help="where to write the PNGs and JSON (default: runs/diagnose)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny settings: seconds, a smoke run")
    size.add_argument(
        "--full",
        action="store_true",
        help="longer sequences and gap sweep (the benchmark's setting)",
    )
    p.add_argument(
        "--checkpoint", metavar="DIR", help="measure this trained model instead of fresh cells"
    )
    p.add_argument(
        "--steps", type=int, default=100, help="with --checkpoint: sequence length T (default: 100)"
    )
    p.add_argument(
        "--batch-size",
        "--batch",  # the old spelling, kept working
        dest="batch_size",
        type=int,
        default=16,
        help="with --checkpoint: sequences averaged over (default: 16)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="with --checkpoint: seed of the random inputs (default: 0)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.checkpoint:
        result = diagnose_checkpoint(args.checkpoint, out, args.steps, args.batch_size, args.seed)
        norms = result["norm_by_distance"]
        for k in (0, 1, 10, 50, len(norms) - 1):
            if k < len(norms):
                print(f"||dL/da<T-{k}>|| = {norms[k]:.3e}")
        print(f"wrote {out / 'gradients.png'} and {out / 'gradients.json'}")
        return 0
    from rnnkit.diagnose import LabConfig, run_lab

    summary = run_lab(
        out,
        config=LabConfig.quick() if args.quick else LabConfig.full() if args.full else LabConfig(),
    )
    print(json.dumps(summary.get("summary", summary), indent=2))
    print(
        f"wrote {out / 'gradients.png'}, {out / 'long_range.png'}, {out / 'clipping.png'} "
        f"and {out / 'lab.json'}"
    )
    return 0


def diagnose_checkpoint(
    checkpoint: str | Path, out: Path, steps: int, batch_size: int, seed: int
) -> dict[str, Any]:
    """||dL/da<T-k>|| of a trained model's recurrent stack on random inputs of its input size
    (random token ids through its embedding for token models), in float64."""
    from rnnkit.diagnose import (
        GradientConfig,
        GradientCurve,
        GradientReport,
        gradient_norms,
        plot_gradient_norms,
    )
    from rnnkit.train.loading import load_model

    if steps < 1 or batch_size < 1:
        raise RnnkitError("--steps and --batch-size must be at least 1")
    model, meta = load_model(checkpoint)
    encoder = getattr(model, "encoder", None)
    rnn = getattr(encoder, "rnn", None)
    if rnn is None:
        raise RnnkitError(
            f"checkpoint {checkpoint}: its model ({meta.task}) has no recurrent encoder to diagnose"
        )
    generator = torch.Generator().manual_seed(seed)
    embedding = getattr(encoder, "embedding", None)
    with torch.no_grad():
        if embedding is not None:
            ids = torch.randint(
                1, embedding.num_embeddings, (batch_size, steps), generator=generator
            )
            x = embedding(ids).double()  # (B, T, E)
        else:
            x = torch.randn(
                batch_size, steps, rnn.input_size, generator=generator, dtype=torch.float64
            )  # (B, T, D)
    rnn = rnn.double()
    norms = gradient_norms(rnn, x).flip(0).tolist()  # by distance from the loss
    out.mkdir(parents=True, exist_ok=True)
    config = GradientConfig(
        cells=(rnn.cell_type,),
        T=steps,
        input_size=x.shape[-1],
        hidden_size=rnn.hidden_size,
        batch_size=batch_size,
        gains=(1.0,),
        seed=seed,
    )
    plot_gradient_norms(
        GradientReport(config, [GradientCurve(rnn.cell_type, 1.0, norms)]), out / "gradients.png"
    )
    result = {
        "checkpoint": str(checkpoint),
        "task": meta.task,
        "cell": rnn.cell_type,
        "steps": steps,
        "norm_by_distance": norms,
    }
    (out / "gradients.json").write_text(json.dumps(result, indent=2))
    return result
