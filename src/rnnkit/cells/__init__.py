"""Recurrent cells, one file per cell, each following its equations line by line."""

from rnnkit.cells.base import LSTMState, RecurrentCell, State
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import SimpleRNNCell

__all__ = ["GRUCell", "LSTMCell", "LSTMState", "RecurrentCell", "SimpleRNNCell", "State"]
