"""Which input positions drove a classifier's call: gradient x input saliency, and its picture.

For a trained many-to-one model and one class c, the score is the class's logit z_c (the
pre-softmax score; for a two-class model with its single logit z = log-odds of class 1, the
log-odds of c: z for class 1, -z for class 0). Its saliency at position t, feature d is

    s<t>_d = x<t>_d * dz_c / dx<t>_d                    (gradient x input)

computed with dropout off (eval mode). For one-hot bases x<t> (T, 4) only the base present is
non-zero, so s<t> says how much that base at that position pushed the call towards c
(positive) or away from it (negative), to first order; summed over the whole sequence it
approximates z_c minus the score of an all-zero input. For a model that embeds ids the input
is the embedded vector e<t> (the ids have no gradient), and the saliency of a position is
sum_d e<t>_d dz_c / de<t>_d, one number per position (per k-mer for a k-mer model).

The logit, not the log-probability, is used: log p(c) saturates at 0 for a confident call, so
its gradient fades exactly where the model is surest, while the logit's does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.atomic import atomic_write
from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import SequenceClassifier

# Base colours of the picture (the usual sequence-logo ones).
BASE_COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
OTHER_COLOR = "#7f7f7f"


def class_scores(model: SequenceClassifier, logits: Tensor, targets: Tensor) -> Tensor:
    """z_c (B,) of each example's class c (module docstring): logits (B, C) or (B,) of a
    two-class model."""
    if model.binary:
        return torch.where(targets == 1, logits, -logits)  # (B,)
    return logits.gather(1, targets[:, None])[:, 0]  # (B,)


def saliency_batch(
    model: SequenceClassifier, inputs: Tensor, lengths: Tensor, targets: Tensor
) -> Tensor:
    """Gradient x input of each example's class logit (module docstring), dropout off.

    inputs: (B, T, D) frames -> (B, T, D); or (B, T) ids of an embedding model -> (B, T),
    summed over the embedding. Padded steps are 0. The examples are independent in eval mode,
    so the gradient of the summed scores is each example's own gradient.
    """
    was_training = model.training
    model.eval()
    embedded: list[Tensor] = []
    hook = None
    try:
        with torch.enable_grad():
            if inputs.is_floating_point():
                x = inputs.detach().clone().requires_grad_(True)  # (B, T, D)
            else:
                embedding = model.encoder.embedding
                if embedding is None:
                    raise RnnkitError("ids given to a model that reads frames")
                x = inputs

                def keep(module: Any, args: Any, output: Tensor) -> None:
                    output.retain_grad()
                    embedded.append(output)

                hook = embedding.register_forward_hook(keep)
            mask = mask_from_lengths(lengths, inputs.shape[1])  # (B, T)
            logits = model(Batch(x, lengths, mask)).logits
            class_scores(model, logits, targets).sum().backward()
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    if embedded:
        e = embedded[0]  # (B, T, E)
        assert e.grad is not None
        return ((e.grad * e).sum(-1) * mask).detach()  # (B, T)
    assert x.grad is not None
    return (x.grad * x).detach() * mask[:, :, None]  # (B, T, D)


def saliency(model: SequenceClassifier, inputs: Tensor, target: int) -> Tensor:
    """Gradient x input of class `target`'s logit for one sequence: inputs (T, 4) one-hot
    frames -> (T, 4); (T,) ids of an embedding model -> (T,)."""
    lengths = torch.tensor([inputs.shape[0]], device=inputs.device)
    targets = torch.tensor([target], device=inputs.device)
    return saliency_batch(model, inputs[None], lengths, targets)[0]


def position_scores(values: Tensor) -> Tensor:
    """One number per position: (T, D) saliency summed over D (the base present), or (T,)."""
    return values.sum(-1) if values.dim() == 2 else values


@dataclass(frozen=True)
class SaliencyRow:
    """One panel of a saliency picture: values (T, D) or (T,), one letter (or k-mer) per
    position, a title, and 1-based positions to outline."""

    values: Tensor
    letters: Sequence[str]
    title: str = ""
    marks: Sequence[int] = ()


def plot_saliency(
    values: Tensor,
    letters: Sequence[str],
    path: str | Path,
    title: str = "",
    marks: Sequence[int] = (),
) -> Path:
    """A PNG of one sequence's saliency: a bar per position (its score, `position_scores`),
    coloured by its base, with the bases as letters along the x axis (positions 1-based
    below). letters: one label per position (bases, or k-mers for a k-mer model); marks:
    1-based positions to outline (e.g. a consensus the call should rest on)."""
    return plot_saliency_rows([SaliencyRow(values, letters, title, marks)], path)


def plot_saliency_rows(rows: Sequence[SaliencyRow], path: str | Path) -> Path:
    """A PNG of several sequences' saliency, one panel each (see `plot_saliency`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    T = max(position_scores(r.values).shape[0] for r in rows)
    width = max(6.0, min(0.18 * T + 1.5, 24.0))
    fig = Figure(figsize=(width, 2.9 * len(rows) + 0.3), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, row in zip(axes, rows, strict=True):
        _draw(ax, row)
    fig.tight_layout()
    out = Path(path)
    with atomic_write(out) as f:
        fig.savefig(f, format="png")
    return out


def _draw(ax: Any, row: SaliencyRow) -> None:
    scores = position_scores(row.values).float().cpu()
    letters = list(row.letters)
    if len(letters) != scores.shape[0]:
        raise RnnkitError(f"{len(letters)} letters for {scores.shape[0]} saliency positions")
    T = scores.shape[0]
    colors = [BASE_COLORS.get(s, OTHER_COLOR) for s in letters]
    positions = range(1, T + 1)
    bars = ax.bar(positions, scores.tolist(), color=colors, width=0.85)
    for t in row.marks:
        if 1 <= t <= T:
            bars[t - 1].set_edgecolor("black")
            bars[t - 1].set_linewidth(1.4)
    ax.axhline(0.0, color="0.3", lw=0.6)
    ax.set_xlim(0.4, T + 0.6)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(letters, fontsize=7 if T <= 80 else 5, family="monospace")
    for label, color in zip(ax.get_xticklabels(), colors, strict=True):
        label.set_color(color)
    step = 10 if T > 30 else 5
    for t in range(step, T + 1, step):
        ax.annotate(str(t), (t, 0), xycoords=("data", "axes fraction"), xytext=(0, -18),
                    textcoords="offset points", ha="center", fontsize=7, color="0.35")  # fmt: skip
    ax.set_ylabel("gradient x input")
    ax.set_title(row.title, fontsize=10)


__all__ = [
    "SaliencyRow",
    "class_scores",
    "plot_saliency",
    "plot_saliency_rows",
    "position_scores",
    "saliency",
    "saliency_batch",
]
