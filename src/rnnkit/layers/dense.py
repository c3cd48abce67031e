"""The output layer: ŷ = g(W_ya a + b_y)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Literal["softmax", "sigmoid", "linear"]


class Dense(nn.Module):
    """ŷ<t> = g(W_ya a<t> + b_y), g = softmax (one class out of C) or sigmoid (independent yes/no
    outputs: a binary label, or the notes of a piano-roll frame).

    Shapes: a (..., H) -> (..., C). W_ya (C, H), b_y (C,): Dense(1) on 10 units has 11 parameters.

    `forward` returns the scores z = W_ya a + b_y before g (the logits): the losses take logits,
    which is numerically stabler than taking log of g(z). `activate` applies g.
    """

    def __init__(self, in_features: int, out_features: int, activation: Activation = "softmax"):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.W_ya = nn.Parameter(torch.empty(out_features, in_features))
        self.b_y = nn.Parameter(torch.zeros(out_features))
        bound = math.sqrt(6.0 / (in_features + out_features))  # Glorot-uniform, as Keras
        nn.init.uniform_(self.W_ya, -bound, bound)

    def forward(self, a: Tensor) -> Tensor:
        return F.linear(a, self.W_ya, self.b_y)  # (..., C)

    def activate(self, z: Tensor) -> Tensor:
        if self.activation == "softmax":
            return torch.softmax(z, dim=-1)
        if self.activation == "sigmoid":
            return torch.sigmoid(z)
        return z

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, g={self.activation}"
