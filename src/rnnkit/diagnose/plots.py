"""The lab's figures, one function per experiment, each saved as a PNG.

matplotlib is imported only when a figure is drawn, through its object-oriented API on the
Agg canvas, so drawing never changes the caller's pyplot backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.diagnose.clipping import ClippingReport
from rnnkit.diagnose.gradients import GradientReport
from rnnkit.diagnose.long_range import LongRangeReport
from rnnkit.errors import RnnkitError


def _figure(columns: int, width: float = 5.0, height: float = 4.0) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * columns, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, columns, i + 1) for i in range(columns)]
    return fig, axes


def _save(fig: Any, path: str | Path) -> Path:
    """Write the figure as PNG to `path`, with ".png" added when the name lacks it (the path
    returned is the file written); a folder is refused."""
    fig.tight_layout()
    path = Path(path)
    if path.is_dir():
        raise RnnkitError(f"{path}: is a folder; give a file name for the PNG picture")
    if path.suffix.lower() != ".png":
        path = path.with_name(f"{path.name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _positive(values: Sequence[float]) -> list[float]:
    """Values a log axis can show; zeros (underflow) and infinities become gaps in the line."""
    return [v if math.isfinite(v) and v > 0 else math.nan for v in values]


def plot_gradient_norms(report: GradientReport, path: str | Path) -> Path:
    """‖∂L/∂a<T-k>‖ against the distance k on a log scale: one panel per gain, a line per cell."""
    gains = report.config.gains
    fig, axes = _figure(len(gains))
    for ax, gain in zip(axes, gains):
        for curve in report.curves:
            if curve.gain == gain:
                ys = _positive(curve.by_distance)
                ax.plot(range(len(ys)), ys, label=curve.cell)
        ax.set_yscale("log")
        ax.set_xlabel("distance T - t (steps back from the loss)")
        ax.set_ylabel("mean ||dL/da<t>||")
        ax.set_title(f"W_aa x {gain:g}" + (" (initialisation as is)" if gain == 1 else ""))
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_long_range(report: LongRangeReport, path: str | Path) -> Path:
    """Held-out accuracy against the gap k, a line per cell, with chance and the threshold."""
    config = report.config
    fig, (ax,) = _figure(1, width=6.0)
    for cell, accuracy in report.accuracy.items():
        ax.plot(config.gaps, accuracy, "-o", label=cell, markersize=4)
    if min(config.gaps) > 0:
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(list(config.gaps))
        ax.set_xticklabels([str(k) for k in config.gaps])
    ax.axhline(config.threshold, color="grey", linestyle="--", linewidth=0.8, label="threshold")
    ax.axhline(
        1.0 / config.task.classes, color="grey", linestyle=":", linewidth=0.8, label="chance"
    )
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("gap k (steps between the answer and the end)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"{config.budget_steps} steps per model, H = {config.hidden_size}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_clipping(report: ClippingReport, path: str | Path) -> Path:
    """Left: gradient norm per step (before clipping; after it for the clipped run).
    Right: training loss per step. A cross marks where the unclipped run went non-finite."""
    config = report.config
    fig, (norm_ax, loss_ax) = _figure(2)
    # The unclipped run is drawn last and with markers: it is often only a few steps long.
    runs = (
        (report.clipped, "clipped", "tab:blue", ""),
        (report.unclipped, "no clipping", "tab:red", "o"),
    )
    for run, label, color, marker in runs:
        steps = range(len(run.loss))
        norm_ax.plot(
            steps,
            _positive(run.grad_norm),
            color=color,
            marker=marker,
            markersize=4,
            label=f"{label}: ||g|| computed",
        )
        loss_ax.plot(
            steps, _positive(run.loss), color=color, marker=marker, markersize=4, label=label
        )
        if run.diverged_at is not None:
            # A non-finite value has no place on a log axis: cross the step at the largest
            # finite value of each panel instead.
            for ax, values in ((loss_ax, run.loss), (norm_ax, run.grad_norm)):
                finite = [v for v in values if math.isfinite(v)]
                ax.plot(
                    [run.diverged_at],
                    [max(finite) if finite else 1.0],
                    "x",
                    color=color,
                    markersize=10,
                    label=f"{label}: not finite at step {run.diverged_at}",
                )
    clipped = report.clipped
    norm_ax.plot(
        range(len(clipped.applied_norm)),
        _positive(clipped.applied_norm),
        color="tab:cyan",
        linestyle="--",
        label="clipped: ||g|| applied",
    )
    norm_ax.axhline(config.clip_norm, color="grey", linestyle=":", label="clip_norm")
    for ax, name in ((norm_ax, "global gradient norm"), (loss_ax, "training loss")):
        ax.set_yscale("log")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    norm_ax.set_title(f"{config.cell}, W_aa x {config.gain:g}, SGD lr {config.lr:g}")
    loss_ax.set_title(f"gap {config.gap}, clip_norm {config.clip_norm:g}")
    return _save(fig, path)


def plot_confusion_matrix(
    confusion: Any, names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """A (C, C) confusion matrix M[true, predicted] as a PNG: each cell shaded by the share of
    its true class (its row) and labelled with its count, so a rare class's mistakes show as
    plainly as a common one's; the diagonal is the correct calls."""
    import numpy as np

    counts = np.asarray(confusion, dtype=np.int64)
    if counts.shape != (len(names), len(names)):
        raise ValueError(f"expected a ({len(names)}, {len(names)}) matrix, got {counts.shape}")
    rows = counts.sum(axis=1, keepdims=True)
    shares = counts / np.maximum(rows, 1)
    size = 1.6 + 0.55 * len(names)
    fig, (ax,) = _figure(1, width=size + 1.2, height=size)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(names)):
        for j in range(len(names)):
            dark = shares[i, j] > 0.6
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if dark else "black", fontsize=9)  # fmt: skip
    ax.set_xticks(range(len(names)), labels=list(names), rotation=45, ha="right")
    ax.set_yticks(range(len(names)), labels=list(names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(counts.sum())
    correct = int(np.trace(counts))
    ax.set_title(title or f"{correct} of {total} correct ({correct / max(total, 1):.1%})")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _save(fig, path)
