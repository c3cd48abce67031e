"""The long short-term memory (LSTM) cell."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState, init_recurrent_weights, zero_state


class LSTMCell(nn.Module):
    """The LSTM of the lecture (Hochreiter & Schmidhuber, with a forget gate).

        Γ_u = σ(W_u [a<t-1>, x<t>] + b_u)       update (input) gate
        Γ_f = σ(W_f [a<t-1>, x<t>] + b_f)       forget gate
        c̃<t> = tanh(W_c [a<t-1>, x<t>] + b_c)    candidate memory
        Γ_o = σ(W_o [a<t-1>, x<t>] + b_o)       output gate
        c<t> = Γ_u * c̃<t> + Γ_f * c<t-1>
        a<t> = Γ_o * tanh(c<t>)

    Shapes: x_t (B, D), state (a, c) each (B, H) -> (a, c) each (B, H).
    Parameters, gate blocks stacked in the order [u, f, c̃, o] (PyTorch's i, f, g, o):
    W_ax (4H, D), W_aa (4H, H) and one bias b_a (4H,), as in the lecture and Keras
    (PyTorch's nn.LSTM carries a second, redundant bias). The forget-gate bias starts at 1 so
    the cell remembers by default.
    """

    fused_kind = "lstm"

    b_zero: Tensor  # the kernels' second bias, zero (a buffer: see __init__)

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.W_ax = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.W_aa = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.b_a = nn.Parameter(torch.zeros(4 * hidden_size))
        # the kernels' second bias (PyTorch's b_hh), always zero; a buffer, so that on the GPU
        # it lives in the layer's flat cuDNN weight buffer with the rest (not saved)
        self.register_buffer("b_zero", torch.zeros(4 * hidden_size), persistent=False)
        init_recurrent_weights(self.W_ax, self.W_aa, gates=4)
        with torch.no_grad():
            self.b_a[hidden_size : 2 * hidden_size].fill_(1.0)  # b_f = 1

    def initial_state(self, batch_size: int, like: Tensor) -> LSTMState:
        zeros = zero_state(batch_size, self.hidden_size, like)
        return LSTMState(zeros, zeros)

    def project_input(self, x: Tensor) -> Tensor:
        """W_x x<t> + b for the four gates at once: (..., D) -> (..., 4H)."""
        return F.linear(x, self.W_ax, self.b_a)

    def recur(self, xw_t: Tensor, state: LSTMState) -> LSTMState:
        a_prev, c_prev = state
        z = xw_t + F.linear(a_prev, self.W_aa)  # (B, 4H)
        z_u, z_f, z_c, z_o = z.chunk(4, dim=-1)  # each (B, H)
        gamma_u = torch.sigmoid(z_u)
        gamma_f = torch.sigmoid(z_f)
        c_tilde = torch.tanh(z_c)
        gamma_o = torch.sigmoid(z_o)
        c = gamma_u * c_tilde + gamma_f * c_prev
        a = gamma_o * torch.tanh(c)
        return LSTMState(a, c)

    def step(self, x_t: Tensor, state: LSTMState) -> LSTMState:
        return self.recur(self.project_input(x_t), state)

    def output(self, state: LSTMState) -> Tensor:
        return state.a

    def fused_weights(self) -> list[Tensor]:
        return [self.W_ax, self.W_aa, self.b_a, self.b_zero]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
