"""The gated recurrent unit (GRU)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import init_recurrent_weights, zero_state


class GRUCell(nn.Module):
    """The GRU, in the variant cuDNN and PyTorch run (reset gate after the recurrent product).

        Γ_r = σ(W_xr x<t> + b_xr + W_ar a<t-1> + b_ar)          reset gate
        Γ_z = σ(W_xz x<t> + b_xz + W_az a<t-1> + b_az)          keep gate
        c̃<t> = tanh(W_xn x<t> + b_xn + Γ_r * (W_an a<t-1> + b_an))   candidate
        a<t> = (1 - Γ_z) * c̃<t> + Γ_z * a<t-1>

    Shapes: x_t (B, D), a<t-1> (B, H) -> a<t> (B, H).
    Parameters, gate blocks stacked in the order [r, z, n] (PyTorch's order):
    W_ax (3H, D), W_aa (3H, H), b_ax (3H,), b_aa (3H,).

    Against the lecture: the lecture's update gate is Γ_u = 1 - Γ_z, so
    c<t> = Γ_u * c̃<t> + (1 - Γ_u) * c<t-1> is the same line. The lecture applies the reset gate
    before the product, c̃<t> = tanh(W_c [Γ_r * c<t-1>, x<t>] + b_c); this variant applies it
    after, Γ_r * (W_an a<t-1> + b_an), which is what lets the fused kernels compute all three
    recurrent products in one matrix multiply. Hence the second bias b_aa: inside Γ_r * (...)
    it is not redundant.
    """

    fused_kind = "gru"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.W_ax = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.W_aa = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.b_ax = nn.Parameter(torch.zeros(3 * hidden_size))
        self.b_aa = nn.Parameter(torch.zeros(3 * hidden_size))
        init_recurrent_weights(self.W_ax, self.W_aa, gates=3)

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        return zero_state(batch_size, self.hidden_size, like)

    def project_input(self, x: Tensor) -> Tensor:
        """W_x x<t> + b_x for the three gates at once: (..., D) -> (..., 3H)."""
        return F.linear(x, self.W_ax, self.b_ax)

    def recur(self, xw_t: Tensor, a_prev: Tensor) -> Tensor:
        x_r, x_z, x_n = xw_t.chunk(3, dim=-1)  # each (B, H)
        a_r, a_z, a_n = F.linear(a_prev, self.W_aa, self.b_aa).chunk(3, dim=-1)  # each (B, H)
        gamma_r = torch.sigmoid(x_r + a_r)
        gamma_z = torch.sigmoid(x_z + a_z)
        c_tilde = torch.tanh(x_n + gamma_r * a_n)
        return (1 - gamma_z) * c_tilde + gamma_z * a_prev  # (B, H)

    def step(self, x_t: Tensor, a_prev: Tensor) -> Tensor:
        return self.recur(self.project_input(x_t), a_prev)

    def output(self, a: Tensor) -> Tensor:
        return a

    def fused_weights(self) -> list[Tensor]:
        return [self.W_ax, self.W_aa, self.b_ax, self.b_aa]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
