"""The one time loop: unroll any cell over a padded batch of sequences.

`Recurrent` is the loop over one cell, what Keras calls `keras.layers.RNN(cell)`; the stack of
layers that PyTorch calls `nn.RNN`/`nn.LSTM` is `rnnkit.layers.RNN`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import AnyCell, LSTMState, State, map_state


def reverse_within_lengths(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a padded batch within its own length; padding stays at the end.

    x: (B, T, ...), lengths: (B,). [x1 x2 x3 pad] with length 3 becomes [x3 x2 x1 pad].
    Applying it twice gives x back.
    """
    if lengths is None:
        return x.flip(1)
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device)[None, :]  # (1, T)
    lengths = lengths.to(x.device)[:, None]  # (B, 1)
    index = torch.where(t < lengths, lengths - 1 - t, t)  # (B, T)
    index = index.view(B, T, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class Recurrent(nn.Module):
    """Unroll one cell over time, the lecture's forward pass written out as a loop.

        a<0> = 0 (or the given state)
        for t = 1 .. T:  a<t> = cell(x<t>, a<t-1>)         (only where t <= length)

    Padded steps (t > length) keep the previous state and emit zeros, so each sequence's final
    state is its state at its own length, not at the padded end. With `reverse=True` each
    sequence is read backwards within its own length (the backward half of a bidirectional
    RNN); outputs are returned in the original order.

    Shapes: x (B, T, D), lengths (B,) or None -> outputs (B, T, H), final state (B, H)
    (or LSTMState of two (B, H)).

    The input half of every step (W_ax x<t> + b) is computed for all T steps in one matrix
    product before the loop; `cell.step(x_t, a)` is exactly
    `cell.recur(cell.project_input(x_t), a)`.

    Under `torch.export` (and so `torch.onnx.export`) the same steps run inside one `scan`
    (`scan_steps`), so that the exported graph keeps T a dynamic dimension (a Python loop
    would unroll it for the T of the example inputs; ONNX then gets a `Scan` node).
    """

    def __init__(self, cell: AnyCell, reverse: bool = False):
        super().__init__()
        self.cell = cell
        self.reverse = reverse

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        B, T, _ = x.shape
        if self.reverse:
            x = reverse_within_lengths(x, lengths)
        if state is None:
            state = self.cell.initial_state(B, like=x)
        mask = (
            None
            if lengths is None
            else torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        )  # (B, T)

        xw = self.cell.project_input(x)  # (B, T, G*H): all input products at once
        # unbind, not xw[:, t]: indexing one step would make autograd build a (B, T, G*H)
        # zero gradient per step in the backward pass, O(T^2) work; unbind's backward is one stack.
        if torch.compiler.is_exporting():
            out, state = scan_steps(self.cell, xw, mask, state)
            return (reverse_within_lengths(out, lengths) if self.reverse else out), state
        xw_steps = xw.unbind(1)  # T x (B, G*H)
        outputs = []
        for t in range(T):
            new_state = self.cell.recur(xw_steps[t], state)
            if mask is None:
                state = new_state
                outputs.append(self.cell.output(state))
            else:
                real = mask[:, t, None]  # (B, 1)
                state = map_state(
                    lambda new, old, m=real: torch.where(m, new, old), new_state, state
                )
                outputs.append(torch.where(real, self.cell.output(state), 0.0))
        out = torch.stack(outputs, dim=1)  # (B, T, H)
        if self.reverse:
            out = reverse_within_lengths(out, lengths)
        return out, state


def scan_steps(
    cell: AnyCell, xw: Tensor, mask: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """The loop of `Recurrent.forward` as one `scan` over time: for export, where T must stay
    a dynamic dimension. xw: (B, T, G*H) input products, mask: (B, T) or None -> outputs
    (B, T, H), final state. Same steps, same masking: padded steps keep the state, emit 0."""
    from torch._higher_order_ops.scan import scan

    real = (
        torch.ones(xw.shape[:2], dtype=torch.bool, device=xw.device) if mask is None else mask
    )  # (B, T)

    # scan carries plain tuples of tensors (a NamedTuple state is rebuilt in each step)
    lstm = isinstance(state, LSTMState)

    def step(
        carry: tuple[Tensor, ...], inputs: tuple[Tensor, Tensor]
    ) -> tuple[tuple[Tensor, ...], Tensor]:
        xw_t, m = inputs  # (B, G*H), (B,)
        keep = m[:, None]  # (B, 1)
        old: State = LSTMState(*carry) if lstm else carry[0]
        new = map_state(lambda n, o: torch.where(keep, n, o), cell.recur(xw_t, old), old)
        output = torch.where(keep, cell.output(new), 0.0)  # (B, H)
        return (tuple(new) if isinstance(new, LSTMState) else (new,)), output

    initial = tuple(state) if isinstance(state, LSTMState) else (state,)
    carry, outputs = scan(step, initial, (xw.transpose(0, 1), real.transpose(0, 1)))
    final: State = LSTMState(*carry) if lstm else carry[0]
    return outputs.transpose(0, 1), final  # (B, T, H)
