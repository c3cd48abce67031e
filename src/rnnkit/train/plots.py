"""The loss curve of a run: training and dev loss per epoch, as a PNG.

matplotlib is imported only when a plot is drawn, and through its object-oriented API with the
Agg canvas, so drawing never changes the global pyplot backend of the caller's session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_loss_curves(
    history: Sequence[Mapping[str, Any]], path: str | Path, title: str | None = None
) -> Path:
    """Draw "train_loss" and "dev_loss" of the epoch records against "epoch"; save to `path`.

    Records without a dev loss (epochs that were not evaluated) are skipped for that curve.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for key, label, style in (("train_loss", "train", "-o"), ("dev_loss", "dev", "-s")):
        points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, style, label=label, markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per time step")
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
