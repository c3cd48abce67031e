"""The simple (Elman) RNN cell of the lecture."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import init_recurrent_weights, zero_state


class SimpleRNNCell(nn.Module):
    """a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a),   g = tanh or ReLU.

    Shapes: x_t (B, D), a<t-1> (B, H) -> a<t> (B, H).
    Parameters: W_aa (H, H), W_ax (H, D), b_a (H,): H*H + H*D + H in all, so a SimpleRNN(10)
    over 100 inputs has 100 + 1,000 + 10 = 1,110, as in the lecture (one bias, as in Keras;
    PyTorch's nn.RNNCell has a second, redundant one).

    The stacked form W_a = [W_aa | W_ax], (H, H + D), acting on [a<t-1>; x<t>], is the same
    product: see `stacked_W_a`.
    """

    b_zero: Tensor  # the kernels' second bias, zero (a buffer: see __init__)

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.nonlinearity = nonlinearity
        self.fused_kind = "rnn_tanh" if nonlinearity == "tanh" else "rnn_relu"
        self.W_aa = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.W_ax = nn.Parameter(torch.empty(hidden_size, input_size))
        self.b_a = nn.Parameter(torch.zeros(hidden_size))
        # the kernels' second bias (PyTorch's b_hh), always zero; a buffer, so that on the GPU
        # it lives in the layer's flat cuDNN weight buffer with the rest (not saved)
        self.register_buffer("b_zero", torch.zeros(hidden_size), persistent=False)
        init_recurrent_weights(self.W_ax, self.W_aa, gates=1)

    def g(self, z: Tensor) -> Tensor:
        return torch.tanh(z) if self.nonlinearity == "tanh" else torch.relu(z)

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        return zero_state(batch_size, self.hidden_size, like)

    def project_input(self, x: Tensor) -> Tensor:
        """W_ax x<t> + b_a, for one step (B, D) or all steps (B, T, D) at once."""
        return F.linear(x, self.W_ax, self.b_a)  # (..., H)

    def recur(self, xw_t: Tensor, a_prev: Tensor) -> Tensor:
        return self.g(F.linear(a_prev, self.W_aa) + xw_t)  # (B, H)

    def step(self, x_t: Tensor, a_prev: Tensor) -> Tensor:
        return self.recur(self.project_input(x_t), a_prev)

    def output(self, a: Tensor) -> Tensor:
        return a

    def stacked_W_a(self) -> Tensor:
        """W_a = [W_aa | W_ax], (H, H + D): a<t> = g(W_a [a<t-1>; x<t>] + b_a)."""
        return torch.cat([self.W_aa, self.W_ax], dim=1)

    def fused_weights(self) -> list[Tensor]:
        """[weight_ih, weight_hh, bias_ih, bias_hh] as PyTorch's kernels take them."""
        return [self.W_ax, self.W_aa, self.b_a, self.b_zero]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, g={self.nonlinearity}"
