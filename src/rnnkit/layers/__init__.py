"""Layers: the time loop, the fused path, stacking and bidirectional, embedding, heads and
attention."""

from rnnkit.layers.attention import AdditiveAttention, Attention, GeneralAttention
from rnnkit.layers.dense import Dense
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.recurrent import Recurrent, reverse_within_lengths
from rnnkit.layers.rnn import RNN, make_cell

__all__ = [
    "RNN",
    "AdditiveAttention",
    "Attention",
    "Dense",
    "Embedding",
    "GeneralAttention",
    "Recurrent",
    "make_cell",
    "reverse_within_lengths",
]
