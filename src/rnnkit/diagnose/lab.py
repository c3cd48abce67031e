"""The whole vanishing/exploding-gradient lab in one call: three experiments, three figures
and one JSON summary in a directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.diagnose.clipping import ClippingConfig, clipping_experiment
from rnnkit.diagnose.gradients import GradientConfig, compare_cells
from rnnkit.diagnose.jsonable import json_float, write_json
from rnnkit.diagnose.long_range import LongRangeConfig, LongRangeTask, long_range_experiment
from rnnkit.diagnose.plots import plot_clipping, plot_gradient_norms, plot_long_range
from rnnkit.errors import RnnkitError

GRADIENTS_PNG = "gradients.png"
LONG_RANGE_PNG = "long_range.png"
CLIPPING_PNG = "clipping.png"
SUMMARY_JSON = "lab.json"


@dataclass(frozen=True)
class LabConfig:
    """One config per experiment. `LabConfig()` runs in a couple of minutes on two CPU cores;
    `quick()` in seconds (smoke tests); `full()` is the benchmark's setting."""

    gradients: GradientConfig = field(default_factory=GradientConfig)
    long_range: LongRangeConfig = field(default_factory=LongRangeConfig)
    clipping: ClippingConfig = field(default_factory=ClippingConfig)

    @classmethod
    def quick(cls) -> LabConfig:
        """Tiny settings that only prove the pipeline runs; the numbers mean little."""
        small_task = LongRangeTask(classes=2, noise_tokens=2, lead=1)
        return cls(
            gradients=GradientConfig(T=20, hidden_size=8, batch_size=2),
            long_range=LongRangeConfig(
                cells=("rnn", "lstm"),
                gaps=(1, 3),
                budget_steps=5,
                hidden_size=8,
                batch_size=8,
                eval_size=32,
                task=small_task,
            ),
            clipping=ClippingConfig(steps=5, gap=5, hidden_size=8, batch_size=8, task=small_task),
        )

    @classmethod
    def full(cls) -> LabConfig:
        """Longer sequences, wider layers, a longer gap sweep and budget."""
        return cls(
            gradients=GradientConfig(T=200, hidden_size=128, batch_size=32),
            long_range=LongRangeConfig.full(),
            clipping=ClippingConfig(steps=400),
        )


def _distance_summary(report_curves: list[dict[str, Any]], distance: int) -> dict[str, Any]:
    """{gain: {cell: ‖∂L/∂a<T-d>‖}} at one distance (the distance-0 norm is 1 by construction)."""
    table: dict[str, dict[str, float | None]] = {}
    for curve in report_curves:
        norms = curve["norm_by_distance"]
        if distance < len(norms):
            table.setdefault(f"{curve['gain']:g}", {})[curve["cell"]] = norms[distance]
    return table


def run_lab(
    out_dir: str | Path, quick: bool = False, config: LabConfig | None = None
) -> dict[str, Any]:
    """Run the three experiments and write gradients.png, long_range.png, clipping.png and
    lab.json into `out_dir`; return what lab.json holds.

    `config` chooses the settings; without it, `quick` picks `LabConfig.quick()` and otherwise
    `LabConfig()` is used.
    """
    if config is not None and quick:
        raise RnnkitError("pass either quick=True or a config, not both")
    config = config or (LabConfig.quick() if quick else LabConfig())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    gradients = compare_cells(config.gradients)
    plot_gradient_norms(gradients, out / GRADIENTS_PNG)
    long_range = long_range_experiment(config.long_range)
    plot_long_range(long_range, out / LONG_RANGE_PNG)
    clipping = clipping_experiment(config.clipping)
    plot_clipping(clipping, out / CLIPPING_PNG)

    gradients_dict = gradients.to_dict()
    long_range_dict = long_range.to_dict()
    clipping_dict = clipping.to_dict()
    distance = min(50, config.gradients.T - 1)
    summary = {
        "gradient_norm_at_distance": {
            "distance": distance,
            "by_gain": _distance_summary(gradients_dict["curves"], distance),
        },
        "largest_gap_learned": long_range_dict["largest_gap_learned"],
        "threshold": config.long_range.threshold,
        "clipping": {
            "unclipped_diverged_at": clipping.unclipped.diverged_at,
            "unclipped_max_grad_norm": clipping_dict["unclipped"]["max_grad_norm"],
            "clipped_max_applied_norm": clipping_dict["clipped"]["max_applied_norm"],
            "clipped_final_loss": json_float(clipping.clipped.final_loss()),
        },
    }
    result = {
        "summary": summary,
        "gradients": gradients_dict,
        "long_range": long_range_dict,
        "clipping": clipping_dict,
        "files": {
            "gradients": GRADIENTS_PNG,
            "long_range": LONG_RANGE_PNG,
            "clipping": CLIPPING_PNG,
            "summary": SUMMARY_JSON,
        },
    }
    write_json(result, out / SUMMARY_JSON)
    return result
