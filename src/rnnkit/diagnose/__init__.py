"""The vanishing/exploding-gradient lab: measurements, experiments and their figures.

gradient_norms(rnn, x)            ‖∂L/∂a<t>‖ at every step for a loss at the last step
compare_cells(GradientConfig())   the same, for several cells and W_aa gains
long_range_experiment(...)        accuracy against the gap k of a remember-k-back task
clipping_experiment(...)          one unstable run with and without gradient clipping
run_lab(out_dir, quick)           all three, written as PNGs and one JSON summary
"""

from rnnkit.diagnose.clipping import (
    ClippingConfig,
    ClippingReport,
    ClippingRun,
    clipping_experiment,
    global_grad_norm,
)
from rnnkit.diagnose.gradients import (
    CELL_TYPES,
    GradientConfig,
    GradientCurve,
    GradientReport,
    compare_cells,
    gradient_norms,
    scale_recurrent_weights,
    unit_vector_head,
)
from rnnkit.diagnose.lab import LabConfig, run_lab
from rnnkit.diagnose.long_range import (
    LastStepClassifier,
    LongRangeConfig,
    LongRangeReport,
    LongRangeTask,
    long_range_experiment,
)
from rnnkit.diagnose.plots import plot_clipping, plot_gradient_norms, plot_long_range

__all__ = [
    "CELL_TYPES",
    "ClippingConfig",
    "ClippingReport",
    "ClippingRun",
    "GradientConfig",
    "GradientCurve",
    "GradientReport",
    "LabConfig",
    "LastStepClassifier",
    "LongRangeConfig",
    "LongRangeReport",
    "LongRangeTask",
    "clipping_experiment",
    "compare_cells",
    "global_grad_norm",
    "gradient_norms",
    "long_range_experiment",
    "plot_clipping",
    "plot_gradient_norms",
    "plot_long_range",
    "run_lab",
    "scale_recurrent_weights",
    "unit_vector_head",
]
