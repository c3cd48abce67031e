"""The GPU's flat weight buffer, its bookkeeping checked on the CPU: a layer's weights are
flattened (cuDNN's `_cudnn_rnn_flatten_weight`, replaced here by a stand-in that makes the
same views into one buffer) once, not again while they stay where they are (calls, in-place
loads and optimiser steps), and again after they move; the Parameters keep their identity and
values. tests/test_cuda.py checks the real buffer on a GPU: cuDNN's own layout and no copy
warning. Also: the cells' kernel bias b_zero is a zero buffer outside the state_dict."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from rnnkit.cells import CELLS
from rnnkit.layers import RNN
from rnnkit.layers import fused as F


@pytest.fixture
def flattenings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int, bool]]:
    """Pretend the CPU has cuDNN: record each flattening (mode, D, H, bidirectional) and make
    the weights views into one new buffer, in order, as cuDNN does."""
    calls: list[tuple[int, int, int, bool]] = []

    def flatten(weights: list[torch.Tensor], stride: int, D: int, mode: int, H: int, *rest: Any):
        calls.append((mode, D, H, bool(rest[-1])))
        buffer = torch.cat([w.detach().reshape(-1) for w in weights])
        offset = 0
        for w in weights:
            w.set_(buffer.untyped_storage(), offset, w.shape, w.stride())
            offset += w.numel()
        return buffer

    monkeypatch.setattr(torch, "_cudnn_rnn_flatten_weight", flatten)
    monkeypatch.setattr(torch.backends.cudnn, "is_acceptable", lambda t: True)
    return calls


def flatten_all(rnn: RNN) -> None:
    """What `layer_weights` does on a CUDA device, for every layer."""
    dirs = rnn.num_directions
    for layer in range(rnn.num_layers):
        cells = list(rnn.cells[layer * dirs : (layer + 1) * dirs])
        F.flatten_for_cudnn(cells, [w for c in cells for w in c.fused_weights()])


def one_buffer(rnn: RNN, layer: int) -> bool:
    dirs = rnn.num_directions
    weights = [w for c in rnn.cells[layer * dirs : (layer + 1) * dirs] for w in c.fused_weights()]
    storages = {w.untyped_storage().data_ptr() for w in weights}
    ends = [(w.storage_offset(), w.storage_offset() + w.numel()) for w in weights]
    contiguous = all(a[1] == b[0] for a, b in itertools.pairwise(ends))
    return len(storages) == 1 and contiguous and ends[0][0] == 0


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "gru", "lstm"])
def test_each_layer_is_flattened_once_in_cudnn_terms(
    flattenings: list[tuple[int, int, int, bool]], cell: str
) -> None:
    torch.manual_seed(0)
    rnn = RNN(cell, 3, 4, num_layers=2, bidirectional=True)
    params = list(rnn.parameters())
    before = {k: v.clone() for k, v in rnn.state_dict().items()}
    flatten_all(rnn)
    mode = F.CUDNN_MODES[CELLS[cell].fused_kind]
    assert flattenings == [(mode, 3, 4, True), (mode, 8, 4, True)]  # layer 1 reads 2H
    assert all(one_buffer(rnn, layer) for layer in range(2))
    assert list(rnn.parameters()) == params and all(
        torch.equal(v, before[k]) for k, v in rnn.state_dict().items()
    )
    flatten_all(rnn)  # nothing moved: no new flattening
    assert len(flattenings) == 2


def test_in_place_writes_keep_the_buffer_and_moves_flatten_again(
    flattenings: list[tuple[int, int, int, bool]],
) -> None:
    torch.manual_seed(0)
    rnn = RNN("lstm", 3, 4, bidirectional=True)
    flatten_all(rnn)
    other = RNN("lstm", 3, 4, bidirectional=True).state_dict()
    rnn.load_state_dict(other)  # copies into the buffer
    optimizer = torch.optim.Adam(rnn.parameters(), lr=0.1)
    rnn(torch.randn(2, 5, 3))[0].sum().backward()
    optimizer.step()
    flatten_all(rnn)
    assert len(flattenings) == 1 and one_buffer(rnn, 0)
    rnn.double()  # new memory for every tensor: RNN._apply flattens on CUDA; here by hand
    flatten_all(rnn)
    assert len(flattenings) == 2 and one_buffer(rnn, 0)


def test_flatten_parameters_is_nothing_off_a_gpu(
    flattenings: list[tuple[int, int, int, bool]],
) -> None:
    rnn = RNN("gru", 3, 4, num_layers=2).to(torch.float64)  # .to runs flatten_parameters
    rnn.flatten_parameters()
    assert flattenings == [] and not one_buffer(rnn, 0)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_the_kernel_bias_is_a_zero_buffer_outside_the_state_dict(cell: str) -> None:
    c = CELLS[cell].make(3, 4)
    assert set(c.state_dict()) == {"W_ax", "W_aa", "b_a"}
    assert not c.b_zero.any() and c.fused_weights()[3] is c.b_zero
    assert c.double().fused_weights()[3].dtype == torch.float64
