"""Recurrent cells, one file per cell, each following its equations line by line; `CELLS`
(cells/registry.py) is the one place that maps a cell's name to its class and properties."""

from rnnkit.cells.base import LSTMState, RecurrentCell, State, fused_step
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.registry import CELLS, CellSpec, cell_spec
from rnnkit.cells.rnn import SimpleRNNCell

__all__ = [
    "CELLS",
    "CellSpec",
    "GRUCell",
    "LSTMCell",
    "LSTMState",
    "RecurrentCell",
    "SimpleRNNCell",
    "State",
    "cell_spec",
    "fused_step",
]
