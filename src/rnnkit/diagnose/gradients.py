"""Gradient through time: how much of a late loss reaches the states of early steps.

Backpropagation through time multiplies one Jacobian per step,

    ∂L/∂a<t> = (∂a<t+1>/∂a<t>)ᵀ ∂L/∂a<t+1>,      ∂a<t+1>/∂a<t> = diag(g'(z<t+1>)) W_aa

for the simple RNN, so over a distance k the gradient is scaled by a product of k such
matrices: it shrinks geometrically (vanishes) when their norms stay below 1 and grows
geometrically (explodes) when they stay above 1. The gates of the GRU and the LSTM add a
path whose Jacobian is close to a diagonal of gate values (Γ_z for the GRU, Γ_f for the LSTM's
memory cell), which is how they carry a gradient further.

`gradient_norms` measures ‖∂L/∂a<t>‖ at every step for a loss read at the last step;
`compare_cells` does it for several cell types on one random batch, at one or more scalings
("gains") of the recurrent matrices.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from rnnkit.cells import CELLS
from rnnkit.cells.base import AnyCell, LSTMState, State
from rnnkit.diagnose.jsonable import json_floats
from rnnkit.errors import RnnkitError
from rnnkit.layers import RNN, Recurrent

CELL_TYPES = tuple(CELLS)  # every registered cell: rnn, rnn_relu, gru, lstm


def check_cells(cells: Sequence[str]) -> None:
    """Reject an empty or unknown list of cell names (a boundary check for the configs)."""
    if not cells:
        raise RnnkitError("expected at least one cell type")
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise RnnkitError(f"unknown cell type(s) {unknown}: expected some of {list(CELLS)}")


def scale_recurrent_weights(rnn: RNN, gain: float) -> None:
    """Multiply every cell's recurrent matrix W_aa (all its gate blocks) by `gain`, in place.

    The cells start with orthogonal W_aa blocks (every singular value 1), so after scaling the
    simple RNN's W_aa has every singular value equal to `gain`: below 1 the gradient through
    time vanishes even faster than g' < 1 alone makes it; well above 1 it explodes (at once
    with ReLU, whose g' is 0 or 1). Biases are left alone.
    """
    with torch.no_grad():
        for cell in rnn.cells:
            cell.W_aa.mul_(gain)  # type: ignore[operator]


def unit_vector_head(hidden_size: int, seed: int = 0) -> Callable[[Tensor], Tensor]:
    """The default loss head: L_b = v · a<T>_b with a fixed random unit vector v (H,).

    Because ‖v‖ = 1, ‖∂L_b/∂a<T>_b‖ = 1 exactly, so the measured norms read directly as the
    factor by which the recurrence has scaled the gradient over each distance.
    """
    v = torch.randn(hidden_size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    v = v / v.norm()

    def head(a_last: Tensor) -> Tensor:
        return a_last @ v.to(a_last)  # (B,)

    return head


class _RecordingCell:
    """A cell that runs another cell unchanged and keeps every state its `recur` returns.

    Lets the one time loop (`Recurrent`) produce handles on a<1> .. a<T>, which autograd can
    then differentiate against; the layer's stacked outputs are copies of the states and carry
    no gradient from a later step's loss.
    """

    def __init__(self, cell: AnyCell):
        self.cell = cell
        self.input_size = cell.input_size
        self.hidden_size = cell.hidden_size
        self.fused_kind = ""  # never run fused: the states must be visible step by step
        self.states: list[State] = []

    def initial_state(self, batch_size: int, like: Tensor) -> Any:
        return self.cell.initial_state(batch_size, like)

    def project_input(self, x: Tensor) -> Tensor:
        return self.cell.project_input(x)

    def recur(self, xw_t: Tensor, state: Any) -> Any:
        new_state = self.cell.recur(xw_t, state)
        self.states.append(new_state)
        return new_state

    def step(self, x_t: Tensor, state: Any) -> Any:
        return self.recur(self.project_input(x_t), state)

    def output(self, state: Any) -> Tensor:
        return self.cell.output(state)

    def fused_weights(self) -> list[Tensor]:
        return self.cell.fused_weights()


def gradient_norms(
    rnn: RNN,
    x: Tensor,
    lengths: Tensor | None = None,
    head: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """‖∂L/∂a<t>‖ at every step t for a loss L read at each sequence's last step.

    What is measured, exactly:

        L = Σ_b L_b,   L_b = head(a<T_b>)_b   (default head: v · a<T_b>_b, ‖v‖ = 1)
        result[t] = mean over b of ‖∂L_b / ∂a<T_b - k>_b‖₂,   k = T - 1 - t

    where a<t> is the hidden state the layer outputs at step t (for the LSTM its a, i.e.
    PyTorch's h; the memory cell c is not reported, though the gradient reaching a<t> does
    flow back through c), T_b is the length of sequence b (T without `lengths`), and
    ∂/∂a<t> is the total derivative through every later step. Because the loss reads only
    the last step, the gradient at t < T_b reaches a<t> only through the recurrence
    a<t> -> a<t+1> -> ... -> a<T_b>; no other loss term contributes. Per-example gradients
    do not mix across the batch, so summing L over b and taking norms per row gives each
    example's own gradient.

    The result is aligned at each sequence's end: index t is distance k = T - 1 - t, and
    index T - 1 (distance 0) is the last step of every sequence. An entry that no sequence
    is long enough to have (k >= max length) is NaN.

    The layer is run by the readable loop (`Recurrent`) on its own parameters whatever its
    `execution`; parameter gradients are not touched. Supports one layer, one direction.

    Shapes: x (B, T, D), lengths (B,) or None -> (T,). `head` maps a<T> (B, H) to per-example
    losses (B,) (a head that averages over the batch divides every norm by B).
    """
    _check_inputs(rnn, x, lengths)
    B, T, _ = x.shape
    last = (
        torch.full((B,), T - 1, device=x.device)
        if lengths is None
        else lengths.to(x.device).long() - 1
    )  # (B,): each sequence's last step
    norms = _state_gradient_norms(rnn, x, lengths, last, head or unit_vector_head(rnn.hidden_size))
    return _mean_by_distance(norms, last)


def _check_inputs(rnn: RNN, x: Tensor, lengths: Tensor | None) -> None:
    """RnnkitError unless the layer is one unidirectional layer, x is (B, T, D) and lengths
    (B,) lie in 1..T."""
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise RnnkitError(
            "gradient_norms measures a single-layer, unidirectional RNN; got "
            f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}"
        )
    if x.dim() != 3 or x.shape[2] != rnn.input_size:
        raise RnnkitError(f"expected x of shape (B, T, {rnn.input_size}), got {tuple(x.shape)}")
    B, T, _ = x.shape
    if lengths is not None:
        if lengths.shape != (B,):
            raise RnnkitError(f"expected lengths of shape ({B},), got {tuple(lengths.shape)}")
        if bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise RnnkitError(f"lengths must lie in 1..{T}, got {lengths.tolist()}")


def _state_gradient_norms(
    rnn: RNN,
    x: Tensor,
    lengths: Tensor | None,
    last: Tensor,
    head: Callable[[Tensor], Tensor],
) -> Tensor:
    """‖∂L_b/∂a<t>_b‖ for every step t and sequence b, L_b = head(a<last_b>)_b.

    Shapes: x (B, T, D), last (B,) -> (T, B). The readable loop runs the first cell through a
    `_RecordingCell`, whose kept states are what autograd differentiates against.
    """
    B = x.shape[0]
    first: AnyCell = rnn.cells[0]  # type: ignore[assignment]
    recorder = _RecordingCell(first)
    with torch.enable_grad():
        out, _ = Recurrent(recorder)(x, lengths)  # (B, T, H)
        a_last = out[torch.arange(B, device=x.device), last]  # (B, H)
        loss = head(a_last).sum()
        states = [s.a if isinstance(s, LSTMState) else s for s in recorder.states]
        grads = torch.autograd.grad(loss, states)
    return torch.stack([g.norm(dim=-1) for g in grads])  # (T, B): by step


def _mean_by_distance(norms: Tensor, last: Tensor) -> Tensor:
    """Re-index every sequence by distance from its own last step, then average over the
    sequences long enough to have that distance.

    Shapes: norms (T, B) by step, last (B,) -> (T,), index t is distance T - 1 - t; NaN where
    no sequence reaches that far.
    """
    T = norms.shape[0]
    k = torch.arange(T, device=norms.device)[:, None]  # (T, 1)
    step = last[None, :] - k  # (T, B): the step at distance k in sequence b
    real = step >= 0
    by_distance = torch.where(real, norms.gather(0, step.clamp(min=0)), 0.0)  # (T, B)
    count = real.sum(dim=1)  # (T,)
    mean = by_distance.sum(dim=1) / count  # (T,): NaN where count is 0
    return mean.flip(0).detach()  # (T,): index t is distance T - 1 - t


@dataclass(frozen=True)
class GradientConfig:
    """The gradient-through-time comparison: which cells, how long, how scaled."""

    # Cell types to compare, each on the same random batch.
    cells: tuple[str, ...] = CELL_TYPES
    # Sequence length: distances 0 .. T-1 are measured.
    T: int = 100
    # Input features D of the random inputs x ~ N(0, 1).
    input_size: int = 8
    # Hidden units H.
    hidden_size: int = 64
    # Sequences averaged over.
    batch_size: int = 16
    # Scalings of W_aa after the Keras initialisation (orthogonal blocks), one panel each:
    # 1.0 is the initialisation as it is (gradients vanish), 2.0 makes the simple RNNs explode.
    gains: tuple[float, ...] = (1.0, 2.0)
    # Seed of the inputs and of every cell's initial parameters.
    seed: int = 0

    def __post_init__(self) -> None:
        check_cells(self.cells)
        if self.T < 1 or self.input_size < 1 or self.hidden_size < 1 or self.batch_size < 1:
            raise RnnkitError(
                "T, input_size, hidden_size and batch_size must be positive, got "
                f"T={self.T}, input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"batch_size={self.batch_size}"
            )
        if not self.gains or any(not (g > 0 and math.isfinite(g)) for g in self.gains):
            raise RnnkitError(f"gains must be positive finite numbers, got {list(self.gains)}")


@dataclass(frozen=True)
class GradientCurve:
    """‖∂L/∂a<t>‖ of one cell at one gain, indexed by distance k = T - t (k = 0 is a<T>)."""

    cell: str
    gain: float
    by_distance: list[float]

    def at(self, distance: int) -> float:
        return self.by_distance[distance]

    def ratio(self, distance: int) -> float:
        """‖∂L/∂a<T-k>‖ / ‖∂L/∂a<T>‖: the factor the recurrence applied over k steps."""
        return self.by_distance[distance] / self.by_distance[0]


@dataclass(frozen=True)
class GradientReport:
    config: GradientConfig
    curves: list[GradientCurve] = field(default_factory=list)
    seconds: float = 0.0

    def curve(self, cell: str, gain: float) -> GradientCurve:
        for c in self.curves:
            if c.cell == cell and c.gain == gain:
                return c
        raise KeyError(f"no curve for cell {cell!r} at gain {gain}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the config, and per curve the norms by distance (null where not finite)."""
        return {
            "config": asdict(self.config),
            "measure": "mean over the batch of ||dL/da<T-k>||, L = v . a<T>, ||v|| = 1",
            "curves": [
                {"cell": c.cell, "gain": c.gain, "norm_by_distance": json_floats(c.by_distance)}
                for c in self.curves
            ],
            "seconds": self.seconds,
        }


def compare_cells(config: GradientConfig | None = None) -> GradientReport:
    """Measure `gradient_norms` for every cell and gain of `config` on one random batch.

    Every cell gets the same inputs x (B, T, D) and parameters drawn from the same seed, and
    is measured in float64; the caller's global random state is left as it was.
    """
    config = config or GradientConfig()
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(config.seed)
    # float64: over hundreds of steps the norms span more decades than float32 holds.
    x = torch.randn(
        config.batch_size, config.T, config.input_size, generator=generator, dtype=torch.float64
    )  # (B, T, D)
    curves = []
    for gain in config.gains:
        for cell in config.cells:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                rnn = RNN(
                    cell, config.input_size, config.hidden_size, execution="reference"
                ).double()
            scale_recurrent_weights(rnn, gain)
            norms = gradient_norms(rnn, x)  # (T,) by step
            curves.append(GradientCurve(cell, gain, norms.flip(0).tolist()))
    return GradientReport(config, curves, time.perf_counter() - start)
