"""Each cell equals PyTorch's cell with the same weights, and follows its own equations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from rnnkit.cells import CELLS, GRUCell, LSTMCell, LSTMState, SimpleRNNCell, cell_spec, fused_step
from rnnkit.errors import RnnkitError

B, D, H = 3, 5, 4


@pytest.fixture(autouse=True)
def _float64_and_seed() -> Iterator[None]:
    """Compare in float64, restoring the default afterwards for the other test modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("g", ["tanh", "relu"])
def test_simple_rnn_cell_equals_torch_rnn_cell(g: str) -> None:
    ours = SimpleRNNCell(D, H, g)
    with torch.no_grad():
        ours.b_a.normal_()
    ref = nn.RNNCell(D, H, nonlinearity=g)
    with torch.no_grad():
        ref.weight_ih.copy_(ours.W_ax)
        ref.weight_hh.copy_(ours.W_aa)
        ref.bias_ih.copy_(ours.b_a)
        ref.bias_hh.zero_()
    x, a = torch.randn(B, D), torch.randn(B, H)
    torch.testing.assert_close(ours.step(x, a), ref(x, a))


def test_simple_rnn_cell_is_the_lecture_equation_and_its_stacked_form() -> None:
    cell = SimpleRNNCell(D, H)
    x, a = torch.randn(B, D), torch.randn(B, H)
    by_hand = torch.tanh(a @ cell.W_aa.T + x @ cell.W_ax.T + cell.b_a)
    stacked = torch.tanh(torch.cat([a, x], dim=1) @ cell.stacked_W_a().T + cell.b_a)
    torch.testing.assert_close(cell.step(x, a), by_hand)
    torch.testing.assert_close(cell.step(x, a), stacked)


def test_parameter_count_matches_the_lecture() -> None:
    cell = SimpleRNNCell(100, 10)
    assert sum(p.numel() for p in cell.parameters()) == 1_110
    assert sum(p.numel() for p in LSTMCell(100, 10).parameters()) == 4 * 1_110  # one bias, as Keras
    assert sum(p.numel() for p in GRUCell(100, 10).parameters()) == 3 * (1_110 + 10)


def test_gru_cell_equals_torch_gru_cell() -> None:
    ours = GRUCell(D, H)
    with torch.no_grad():
        ours.b_ax.normal_()
        ours.b_aa.normal_()
    ref = nn.GRUCell(D, H)
    with torch.no_grad():
        ref.weight_ih.copy_(ours.W_ax)
        ref.weight_hh.copy_(ours.W_aa)
        ref.bias_ih.copy_(ours.b_ax)
        ref.bias_hh.copy_(ours.b_aa)
    x, a = torch.randn(B, D), torch.randn(B, H)
    torch.testing.assert_close(ours.step(x, a), ref(x, a))


def test_lstm_cell_equals_torch_lstm_cell() -> None:
    ours = LSTMCell(D, H)
    with torch.no_grad():
        ours.b_a.normal_()
    ref = nn.LSTMCell(D, H)
    with torch.no_grad():
        ref.weight_ih.copy_(ours.W_ax)
        ref.weight_hh.copy_(ours.W_aa)
        ref.bias_ih.copy_(ours.b_a)
        ref.bias_hh.zero_()
    x, a, c = torch.randn(B, D), torch.randn(B, H), torch.randn(B, H)
    new = ours.step(x, LSTMState(a, c))
    h_ref, c_ref = ref(x, (a, c))
    torch.testing.assert_close(new.a, h_ref)
    torch.testing.assert_close(new.c, c_ref)


def test_lstm_starts_with_forget_bias_one_and_orthogonal_recurrent_blocks() -> None:
    cell = LSTMCell(D, H)
    torch.testing.assert_close(cell.b_a[H : 2 * H], torch.ones(H))
    for block in cell.W_aa.chunk(4):
        torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-6, rtol=0)


def test_cell_gradients_match_numerical_gradients() -> None:
    for cell in (SimpleRNNCell(D, H), GRUCell(D, H), LSTMCell(D, H)):
        x = torch.randn(B, D, requires_grad=True)
        a = torch.randn(B, H, requires_grad=True)
        state = LSTMState(a, torch.randn(B, H)) if isinstance(cell, LSTMCell) else a

        def f(x: torch.Tensor, cell=cell, state=state) -> torch.Tensor:  # type: ignore[no-untyped-def]
            return cell.output(cell.step(x, state))

        assert torch.autograd.gradcheck(f, (x,))


def test_the_registry_builds_what_each_name_promises() -> None:
    # an independent statement of the four names: class, g, PyTorch kernel, state, gates
    expected = {
        "rnn": (SimpleRNNCell, "tanh", "rnn_tanh", False, False),
        "rnn_relu": (SimpleRNNCell, "relu", "rnn_relu", False, False),
        "gru": (GRUCell, None, "gru", False, True),
        "lstm": (LSTMCell, None, "lstm", True, True),
    }
    assert list(CELLS) == list(expected)
    for name, (cls, g, kind, lstm_state, gated) in expected.items():
        spec = cell_spec(name)
        cell = spec.make(D, H)
        assert type(cell) is cls and (cell.input_size, cell.hidden_size) == (D, H), name
        assert getattr(cell, "nonlinearity", None) == g, name
        assert spec.fused_kind == kind == cell.fused_kind, name
        assert isinstance(cell.initial_state(B, torch.zeros(1)), LSTMState) == lstm_state, name
        assert (spec.lstm_state, spec.gated) == (lstm_state, gated), name


def test_an_unknown_cell_name_lists_the_choices() -> None:
    with pytest.raises(RnnkitError, match=r"expected one of rnn, rnn_relu, gru, lstm, got 'lstn'"):
        cell_spec("lstn")
    with pytest.raises(RnnkitError, match=r"^EncoderConfig.cell: expected one of"):
        cell_spec("GRU", argument="EncoderConfig.cell")


@pytest.mark.parametrize("name", list(CELLS))
def test_fused_step_equals_the_readable_step_values_and_gradients(name: str) -> None:
    cell = cell_spec(name).make(D, H)
    x = torch.randn(B, D, requires_grad=True)
    start = cell.initial_state(B, x)
    if isinstance(start, LSTMState):
        start = LSTMState(torch.randn(B, H), torch.randn(B, H))
    else:
        start = torch.randn(B, H)
    results = []
    for step in (cell.step, lambda x_t, s: fused_step(cell, x_t, s)):
        cell.zero_grad()
        x.grad = None
        state = step(x, start)
        parts = list(state) if isinstance(state, LSTMState) else [state]
        sum((p * (i + 1)).sum() for i, p in enumerate(parts)).backward()  # type: ignore[union-attr]
        results.append((parts, x.grad.clone(), [p.grad.clone() for p in cell.parameters()]))
    (ref_parts, ref_dx, ref_dw), (fused_parts, fused_dx, fused_dw) = results
    for ours, theirs in zip(fused_parts, ref_parts, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused_dx, ref_dx, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(fused_dw, ref_dw, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
