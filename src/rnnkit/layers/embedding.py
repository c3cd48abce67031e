"""Word embeddings: a learned vector per vocabulary entry."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Embedding(nn.Module):
    """e<t> = E^T o<t>: the one-hot vector o<t> of word x<t> times the embedding matrix E.

    Multiplying by a one-hot vector selects one row, so the layer looks the row up instead of
    building the (B, T, V) one-hot tensor: ids (B, T) -> (B, T, E_dim). `E` is (V, E_dim), so
    Embedding(10,000, 100) holds the lecture's 1,000,000 parameters.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.E = nn.Parameter(torch.empty(num_embeddings, embedding_dim))
        nn.init.uniform_(self.E, -0.05, 0.05)  # Keras's default for embeddings

    def forward(self, ids: Tensor) -> Tensor:
        return F.embedding(ids, self.E, self.padding_idx)  # (B, T, E_dim)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
