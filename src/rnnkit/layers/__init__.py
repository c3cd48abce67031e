"""Layers: the time loop, the fused path, stacking and bidirectional, embedding and heads."""

from rnnkit.layers.dense import Dense
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.recurrent import Recurrent, reverse_within_lengths
from rnnkit.layers.rnn import RNN, make_cell

__all__ = ["RNN", "Dense", "Embedding", "Recurrent", "make_cell", "reverse_within_lengths"]
