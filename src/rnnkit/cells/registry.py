"""The one registry of cell names: what "rnn", "rnn_relu", "gru" and "lstm" mean.

Configurations, layers and command lines name a cell by a string; everything rnnkit knows
about that name (which class implements the equations, which PyTorch kernel runs the same
parameters, what its state looks like) is written here once:

    name        cell                        fused kernel   state          Keras layer
    rnn         SimpleRNNCell(g = tanh)     rnn_tanh       a<t>           SimpleRNN
    rnn_relu    SimpleRNNCell(g = ReLU)     rnn_relu       a<t>           SimpleRNN
    gru         GRUCell                     gru            a<t>           GRU
    lstm        LSTMCell                    lstm           (a<t>, c<t>)   LSTM

>>> cell_spec("gru").fused_kind
'gru'
>>> cell_spec("lstm").make(100, 10).W_ax.shape
torch.Size([40, 100])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnkit.cells.base import AnyCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import SimpleRNNCell
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class CellSpec:
    """Everything a cell's name stands for."""

    # The name configurations use: "rnn", "rnn_relu", "gru" or "lstm".
    name: str
    # The class implementing the equations, called as cell_class(D, H, **options).
    cell_class: Callable[..., AnyCell]
    # PyTorch's fused kernel that runs the same parameters: rnn_tanh, rnn_relu, gru, lstm.
    fused_kind: str
    # Whether the state is LSTMState(a, c) rather than a<t> alone.
    lstm_state: bool
    # Whether the cell has gates (GRU, LSTM).
    gated: bool
    # Keras's name of the layer, as summaries print it.
    keras_name: str
    # Extra constructor arguments, as (keyword, value) pairs, e.g. the simple RNN's g.
    options: tuple[tuple[str, Any], ...] = ()

    def make(self, input_size: int, hidden_size: int) -> AnyCell:
        """A new cell of this kind reading D = input_size features into H = hidden_size units."""
        return self.cell_class(input_size, hidden_size, **dict(self.options))


CELLS: dict[str, CellSpec] = {
    spec.name: spec
    for spec in (
        CellSpec(
            "rnn",
            SimpleRNNCell,
            fused_kind="rnn_tanh",
            lstm_state=False,
            gated=False,
            keras_name="SimpleRNN",
            options=(("nonlinearity", "tanh"),),
        ),
        CellSpec(
            "rnn_relu",
            SimpleRNNCell,
            fused_kind="rnn_relu",
            lstm_state=False,
            gated=False,
            keras_name="SimpleRNN",
            options=(("nonlinearity", "relu"),),
        ),
        CellSpec("gru", GRUCell, fused_kind="gru", lstm_state=False, gated=True, keras_name="GRU"),
        CellSpec(
            "lstm", LSTMCell, fused_kind="lstm", lstm_state=True, gated=True, keras_name="LSTM"
        ),
    )
}
"""The cells rnnkit knows, by name, in the order they are listed to users."""


def cell_spec(name: str, argument: str = "cell") -> CellSpec:
    """The registry entry of `name`; RnnkitError naming `argument` and the choices if unknown.

    >>> cell_spec("lstn")
    Traceback (most recent call last):
    ...
    rnnkit.errors.RnnkitError: cell: expected one of rnn, rnn_relu, gru, lstm, got 'lstn'
    """
    spec = CELLS.get(name)
    if spec is None:
        raise RnnkitError(f"{argument}: expected one of {', '.join(CELLS)}, got {name!r}")
    return spec
