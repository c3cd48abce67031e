"""A complete recurrent layer: cells stacked in depth, optionally bidirectional, run either by
the readable loop or by PyTorch's fused kernels.

`RNN` is the whole stack, as PyTorch's `nn.RNN`/`nn.LSTM` are; the loop over one cell is
`rnnkit.layers.Recurrent` (what Keras calls `keras.layers.RNN(cell)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import AnyCell, LSTMState, State, map_state, stack_states
from rnnkit.cells.registry import cell_spec
from rnnkit.errors import RnnkitError
from rnnkit.layers.fused import flatten_for_cudnn, fused_layer, supports_fused
from rnnkit.layers.recurrent import Recurrent

Execution = Literal["auto", "fused", "reference"]


class LayerInputError(RnnkitError, ValueError):
    """Inputs a layer cannot run on (shape, dtype, device, lengths): raised at its entrance,
    naming the argument, what it expects and what it received. A ValueError too, as PyTorch
    users expect of bad arguments."""


def check_rnn_inputs(x: object, lengths: object, input_size: int, like: Tensor) -> None:
    """`RNN.forward`'s checks: x (B, T, D) floating, of the parameters' dtype and device, with
    B, T >= 1 and D = input_size; lengths None or an integer tensor (B,) with every value in
    [1, T]. The values need the lengths on the CPU: CPU lengths cost nothing, GPU lengths one
    synchronisation (the fused kernels copy them to the CPU anyway). Under torch.compile or
    torch.export the values are checked by an assertion inside the graph instead (a Python
    branch on them would break the graph): the same condition, raised as a RuntimeError when
    the graph runs.

    like: a parameter of the layer (its dtype and device).
    """
    if not isinstance(x, Tensor):
        raise LayerInputError(f"expected x to be a Tensor (B, T, D), got {type(x).__name__}")
    want = f"(B, T, {input_size})"
    if x.dim() != 3 or x.shape[2] != input_size:
        raise LayerInputError(f"expected x of shape {want}, got {tuple(x.shape)}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise LayerInputError(f"expected x of shape {want} with B, T >= 1, got {tuple(x.shape)}")
    if x.dtype != like.dtype or x.device != like.device:
        raise LayerInputError(
            f"expected x of dtype {like.dtype} on {like.device} (the layer's parameters), "
            f"got {x.dtype} on {x.device}"
        )
    if lengths is None:
        return
    B, T = x.shape[:2]
    if not isinstance(lengths, Tensor):
        raise LayerInputError(
            f"expected lengths to be a Tensor ({B},), got {type(lengths).__name__}"
        )
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise LayerInputError(f"expected lengths of an integer dtype, got {lengths.dtype}")
    if tuple(lengths.shape) != (B,):
        raise LayerInputError(
            f"expected lengths of shape (B,) = ({B},), got {tuple(lengths.shape)}"
        )
    if torch.compiler.is_compiling():
        inside = ((lengths >= 1) & (lengths <= T)).all()
        torch._assert_async(inside, "expected every length in [1, T]")  # (T unformatted:
        # a size in a string would fix it in the graph, compiling again for every other T)
        return
    low, high = torch.aminmax(lengths.detach().cpu())
    if low < 1 or high > T:
        raise LayerInputError(
            f"expected every length in [1, T] = [1, {T}], got values in [{int(low)}, {int(high)}]"
        )


def make_cell(cell: str, input_size: int, hidden_size: int) -> AnyCell:
    """Build a cell by its registry name (`rnnkit.cells.CELLS`): 'rnn' (tanh), 'rnn_relu',
    'gru' or 'lstm'."""
    return cell_spec(cell).make(input_size, hidden_size)


class RNN(nn.Module):
    """L layers of a recurrent cell over a padded batch, forward or bidirectional.

    Layer l reads the outputs of layer l-1 (dropout between layers, not after the last); in a
    bidirectional layer one cell reads each sequence forwards, a second cell reads it backwards
    within its own length, and their outputs are merged by concatenation (2H) or sum (H).

    Shapes: x (B, T, D), lengths (B,) or None -> outputs (B, T, H * dirs if concat else H),
    final state (L*dirs, B, H) or LSTMState of two such, ordered as PyTorch orders h_n:
    layer 0 forward, layer 0 backward, layer 1 forward, ...
    Padded steps emit zeros and the final state of each sequence is taken at its own length.

    cell: a name of the cell registry `rnnkit.cells.CELLS` ('rnn', 'rnn_relu', 'gru', 'lstm').
    execution: 'reference' runs the explicit loop over the cell (`Recurrent`); 'fused' runs
    the same parameters through PyTorch's kernels (sequences of different lengths as padded
    calls on the CPU, packed on the GPU: `rnnkit.layers.fused`); 'auto' (the default) picks
    fused whenever the cell has a fused kernel (see `resolve_execution`). Both give the same
    outputs, states and gradients; `resolve_execution(x=x, lengths=lengths)` says which one a
    call will run.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        merge: Literal["concat", "sum"] = "concat",
        dropout: float = 0.0,
        execution: Execution = "auto",
    ):
        super().__init__()
        if merge not in ("concat", "sum"):
            raise ValueError(f"merge must be 'concat' or 'sum', got {merge!r}")
        self.spec = cell_spec(cell)
        self.cell_type = cell
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.merge = merge
        self.dropout = dropout
        self.execution = execution
        self.num_directions = 2 if bidirectional else 1
        layer_out = hidden_size * (self.num_directions if merge == "concat" else 1)
        self.output_size = layer_out
        # cells[l * dirs + d]: layer l, direction d (0 forward, 1 backward), as h_n is ordered.
        cells = [
            self.spec.make(input_size if layer == 0 else layer_out, hidden_size)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        ]
        self.cells = nn.ModuleList(cells)  # type: ignore[arg-type]

    def resolve_execution(
        self,
        execution: Execution | None = None,
        *,
        x: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> Literal["fused", "reference"]:
        """The execution `forward(x, lengths, execution=execution)` runs (forward asks this).

        'fused' and 'reference' are run as asked ('fused' raises when a cell has no fused
        kernel). 'auto' runs fused whenever every cell has a kernel, training over sequences of
        different lengths on the CPU included: there the fused path runs padded kernel calls
        past the lengths (`rnnkit.layers.padded`). Measured with `benchmarks/layers.py
        --section varied --threads 1 --repeats 7` (torch 2.13, forward + backward, a bucketed
        batch with lengths in [T/2, T], uni and bi, shapes small, sentiment and fastrnns; the
        fused call over the same batch cut to its longest length without lengths (ceiling),
        then packed and loop time over fused; a 2-core machine shared with other jobs: +-15%):

            cell         fused/ceiling   packed torch.nn   readable loop
            LSTM         0.93-1.10       1.9-4.8           1.4-4.4
            GRU          0.95-1.39       1.2-2.1           1.0-1.8
            simple RNN   0.98-1.24       1.3-1.9           0.95-2.1

        Padded calls beat packing everywhere and the readable loop everywhere but at the
        fastrnns shape, where the GRU and simple RNN tie with it (1.0-1.05 and 0.95-1.0).
        Until then 'auto' ran the readable loop for the LSTM and GRU training on the CPU over
        varied lengths, to avoid PyTorch's slow packed backward.

        One exception: 'auto' runs a single time step (x of T = 1, as sampling feeds one
        token at a time) on the CPU with the readable step. oneDNN re-lays the weights out on
        every call, which a one-step call cannot amortise: an LSTM 512 x 2 step at batch 1
        took 11 ms fused (torch.nn.LSTM 14 ms) and 2.2 ms readable; GRU 512 and LSTM 64 steps
        tie (one thread, torch 2.13).
        """
        choice = execution or self.execution
        fusable = all(supports_fused(c) for c in self.cells)  # type: ignore[arg-type]
        if choice == "fused" and not fusable:
            raise ValueError("this cell has no fused kernel; use execution='reference'")
        if choice == "reference" or not fusable or torch.compiler.is_exporting():
            # exported: the readable steps inside one scan keep T dynamic (the kernels'
            # export decomposes them over the example's T steps)
            return "reference"
        one_cpu_step = x is not None and x.shape[1] == 1 and x.device.type == "cpu"
        if choice == "auto" and one_cpu_step:
            return "reference"
        return "fused"

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: State | tuple[Tensor, Tensor] | None = None,
        execution: Execution | None = None,
    ) -> tuple[Tensor, State]:
        check_rnn_inputs(x, lengths, self.input_size, next(self.parameters()))
        dirs = self.num_directions
        state = self._initial_state(x, state)
        fused = self.resolve_execution(execution, x=x, lengths=lengths) == "fused"

        finals: list[State] = []
        out = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                # contiguous: the fused kernels return a transposed view, and dropout draws its
                # mask in memory order; both executions must draw the same mask.
                out = F.dropout(out.contiguous(), self.dropout, self.training)
            layer_cells = self.cells[layer * dirs : (layer + 1) * dirs]
            cells: list[AnyCell] = list(layer_cells)  # type: ignore[arg-type]
            layer_state = map_state(
                lambda s, lo=layer * dirs: s[lo : lo + dirs], state
            )  # (dirs, B, H)
            if fused:
                out, final = fused_layer(cells, out, lengths, layer_state)
                finals.extend(map_state(lambda s, d=d: s[d], final) for d in range(dirs))
            else:
                outs = []
                for d, cell in enumerate(cells):
                    initial = map_state(lambda s, d=d: s[d], layer_state)
                    o, f = Recurrent(cell, reverse=d == 1)(out, lengths, initial)
                    outs.append(o)
                    finals.append(f)
                out = torch.cat(outs, dim=-1)  # (B, T, dirs*H)
            if dirs == 2 and self.merge == "sum":
                forward_half, backward_half = out.chunk(2, dim=-1)
                out = forward_half + backward_half  # (B, T, H)
        return out, stack_states(finals)

    def flatten_parameters(self) -> None:
        """On a CUDA device, make each layer's weights views into one cuDNN weight buffer
        (`rnnkit.layers.fused.flatten_for_cudnn`); nothing elsewhere. Done after every move
        between devices or dtypes, and checked on every fused call; torch.nn.RNN's name."""
        fusable = all(supports_fused(c) for c in self.cells)  # type: ignore[arg-type]
        dirs = self.num_directions
        for layer in range(self.num_layers if fusable else 0):
            cells: list[AnyCell] = list(self.cells[layer * dirs : (layer + 1) * dirs])  # type: ignore[arg-type]
            weights = [w for cell in cells for w in cell.fused_weights()]
            if weights[0].is_cuda:
                flatten_for_cudnn(cells, weights)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> RNN:
        super()._apply(fn, recurse)
        self.flatten_parameters()  # new memory after .to(), .cuda(), .half(), ...
        return self

    def _initial_state(self, x: Tensor, state: State | tuple[Tensor, Tensor] | None) -> State:
        """The state (L*dirs, B, H) the stack starts from: zeros when None; for an LSTM a
        plain (h0, c0) tuple as torch.nn.LSTM takes it is read as LSTMState(a=h0, c=c0)."""
        if state is None:
            first: AnyCell = self.cells[0]  # type: ignore[assignment]
            zero = first.initial_state(x.shape[0], like=x)
            return stack_states([zero] * (self.num_layers * self.num_directions))
        if isinstance(state, tuple) and not isinstance(state, LSTMState):
            if not self.spec.lstm_state or len(state) != 2:
                raise RnnkitError(
                    f"state: a {self.cell_type} stack takes "
                    + ("(h0, c0) or LSTMState(a, c)" if self.spec.lstm_state else "h0")
                    + f" of shape (L*dirs, B, H), got a tuple of {len(state)}"
                )
            return LSTMState(*state)
        return state

    def extra_repr(self) -> str:
        return (
            f"{self.cell_type}, {self.input_size}, {self.hidden_size}, layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, merge={self.merge}, execution={self.execution}"
        )
