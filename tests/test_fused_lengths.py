"""The fused path over sequences of different lengths without packing (one padded kernel call
per direction, each row run past its length; `rnnkit.layers.padded`): equal to the readable
loop in float64, on values, final states and gradients."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_layers import parts, randomize_biases

import rnnkit.layers.fused as fused_module
from rnnkit.cells import LSTMState
from rnnkit.layers import RNN
from rnnkit.layers.fused import fused_layer, varied_lengths_method
from rnnkit.layers.padded import HOLD_MARGIN, holding_weights, reverse_rows
from rnnkit.layers.recurrent import reverse_within_lengths

DT = torch.float64
CELLS = ["rnn", "rnn_relu", "gru", "lstm"]
T = 7
LENGTHS = {
    "varied": [7, 2, 5, 1, 5],  # length 1, length T, a repeated length, unsorted
    "equal_below_T": [4, 4, 4, 4, 4],  # all shorter than T
    "ascending": [1, 2, 3, 6, 7],  # as a bucketed batch comes: sorted, shortest first
    "ones": [1, 1, 1, 1, 1],
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def padded_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per layer run by padded calls past the lengths, recorded by a spy."""
    calls: list[int] = []
    real = fused_module.past_lengths_layer

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fused_module, "past_lengths_layer", spy)
    return calls


def run(rnn: RNN, x: torch.Tensor, lengths: torch.Tensor, state: Any, execution: str) -> list:
    """Outputs, final state parts, input gradient and parameter gradients of one step whose
    loss weighs every output and every final state part differently."""
    rnn.zero_grad()
    x = x.clone().requires_grad_(True)
    out, final = rnn(x, lengths, state=state, execution=execution)  # type: ignore[arg-type]
    weights = torch.linspace(-1.0, 2.0, out.numel(), dtype=DT).view_as(out)
    loss = (out * weights).sum() + sum((i + 2) * p.pow(2).sum() for i, p in enumerate(parts(final)))
    loss.backward()
    grads = [p.grad.clone() for p in rnn.parameters()]  # type: ignore[union-attr]
    return [out, *parts(final), x.grad, *grads]


def assert_all_close(got: list, want: list) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


CASES = list(itertools.product(CELLS, [1, 2], [False, True], ["concat", "sum"]))


@pytest.mark.parametrize("lengths_name", sorted(LENGTHS))
@pytest.mark.parametrize("cell,layers,bidirectional,merge", CASES)
def test_padded_calls_equal_the_readable_loop(
    padded_calls: list[int],
    cell: str,
    layers: int,
    bidirectional: bool,
    merge: str,
    lengths_name: str,
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=layers, bidirectional=bidirectional, merge=merge).to(DT)  # type: ignore[arg-type]
    randomize_biases(rnn)
    lengths = torch.tensor(LENGTHS[lengths_name])
    B = len(lengths)
    x = torch.randn(B, T, 3, dtype=DT)
    h0 = torch.randn(layers * rnn.num_directions, B, 4, dtype=DT)
    state = LSTMState(h0, torch.randn_like(h0)) if cell == "lstm" else h0

    reference = run(rnn, x, lengths, state, "reference")
    fused = run(rnn, x, lengths, state, "fused")
    assert len(padded_calls) == layers, "the CPU's fused path ran padded calls"
    assert_all_close(fused, reference)
    out = fused[0]
    padded = torch.arange(T)[None, :] >= lengths[:, None]  # (B, T)
    assert (out[padded] == 0).all(), "padded steps emit exact zeros"


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_all_equal_to_T_run_one_padded_call(padded_calls: list[int], cell: str) -> None:
    rnn = RNN(cell, 3, 4, bidirectional=True).to(DT)
    x = torch.randn(3, T, 3, dtype=DT)
    lengths = torch.full((3,), T)
    assert_all_close(run(rnn, x, lengths, None, "fused"), run(rnn, x, lengths, None, "reference"))
    assert padded_calls == [], "nothing runs past a length when every length is T"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_between_layers_draws_the_same_mask_in_both_executions(
    cell: str, bidirectional: bool
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=3, bidirectional=bidirectional, dropout=0.5).to(DT)
    rnn.train()
    x = torch.randn(5, T, 3, dtype=DT)
    lengths = torch.tensor(LENGTHS["varied"])
    torch.manual_seed(1)
    reference = run(rnn, x, lengths, None, "reference")
    torch.manual_seed(1)
    fused = run(rnn, x, lengths, None, "fused")
    assert_all_close(fused, reference)
    torch.manual_seed(2)
    other = run(rnn, x, lengths, None, "fused")
    assert not torch.allclose(other[0], fused[0]), "dropout must actually drop something"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_equals_packing(cell: str, bidirectional: bool) -> None:
    """The two ways of the fused path with varied lengths agree (packing is the GPU's)."""
    rnn = RNN(cell, 3, 4, bidirectional=bidirectional).to(DT)
    randomize_biases(rnn)
    cells = list(rnn.cells)
    x = torch.randn(5, T, 3, dtype=DT)
    lengths = torch.tensor(LENGTHS["varied"])
    h0 = torch.randn(rnn.num_directions, 5, 4, dtype=DT)
    state = LSTMState(h0, torch.randn_like(h0)) if cell == "lstm" else h0
    results = []
    for varied in ("padded", "packing"):
        rnn.zero_grad()
        xi = x.clone().requires_grad_(True)
        out, final = fused_layer(cells, xi, lengths, state, varied=varied)  # type: ignore[arg-type]
        (out.pow(2).sum() + sum(p.sum() for p in parts(final))).backward()
        grads = [p.grad.clone() for p in rnn.parameters()]  # type: ignore[union-attr]
        results.append([out, *parts(final), xi.grad, *grads])
    assert_all_close(results[0], results[1])


def test_the_cpu_runs_padded_calls_and_cuda_packing() -> None:
    assert varied_lengths_method(torch.device("cpu")) == "padded"
    assert varied_lengths_method(torch.device("cuda")) == "packing"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_whatever_the_padding_holds_changes_nothing(cell: str, bidirectional: bool) -> None:
    """Huge values on padded steps (the LSTM's gates must still saturate) and a large initial
    state: the same results as the readable loop, which never reads padding."""
    rnn = RNN(cell, 3, 4, bidirectional=bidirectional).to(DT)
    with torch.no_grad():
        for p in rnn.parameters():
            p.mul_(4.0)
    lengths = torch.tensor(LENGTHS["varied"])
    x = torch.randn(5, T, 3, dtype=DT)
    x[torch.arange(T)[None, :] >= lengths[:, None]] = 1e6
    h0 = 30 * torch.randn(rnn.num_directions, 5, 4, dtype=DT)
    state = LSTMState(h0, 30 * torch.randn_like(h0)) if cell == "lstm" else h0
    fused = run(rnn, x, lengths, state, "fused")
    assert all(torch.isfinite(t).all() for t in fused)
    assert_all_close(fused, run(rnn, x, lengths, state, "reference"))


def test_float32_lstm_through_onednn_agrees_with_packing() -> None:
    """float32 runs PyTorch's oneDNN LSTM kernels, whose sigmoid must saturate exactly too."""
    rnn = RNN("lstm", 8, 16, bidirectional=True)
    cells = list(rnn.cells)
    lengths = torch.tensor([9, 3, 9, 1, 6, 6])
    x = torch.randn(6, 9, 8)
    state = LSTMState(torch.randn(2, 6, 16), torch.randn(2, 6, 16))
    results = []
    for varied in ("padded", "packing"):
        rnn.zero_grad()
        xi = x.clone().requires_grad_(True)
        out, final = fused_layer(cells, xi, lengths, state, varied=varied)  # type: ignore[arg-type]
        (out.pow(2).sum() + final.a.sum() + 2 * final.c.sum()).backward()
        grads = [p.grad.clone() for p in rnn.parameters()]  # type: ignore[union-attr]
        results.append([out, *final, xi.grad, *grads])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_holding_weights_push_the_gates_past_their_reach() -> None:
    H = 3
    w_ih, w_hh = torch.randn(4 * H, 2), torch.randn(4 * H, H)
    b_ih, b_hh = torch.randn(4 * H), torch.randn(4 * H)
    held = holding_weights([w_ih, w_hh, b_ih, b_hh], x_reach=2.5)
    assert held is not None
    assert torch.equal(held[0][:, :2], w_ih) and held[1:] == [w_hh, b_ih, b_hh]
    column = held[0][:, 2]
    reach = max(
        float(2.5 * w_ih[r].abs().sum() + w_hh[r].abs().sum() + (b_ih[r] + b_hh[r]).abs())
        for r in range(4 * H)
    )
    S = reach + HOLD_MARGIN
    torch.testing.assert_close(column[:H], torch.full((H,), -S))  # input gate shut
    torch.testing.assert_close(column[H : 2 * H], torch.full((H,), S))  # forget gate open
    assert (column[2 * H : 3 * H] == 0).all(), "g is left alone"
    torch.testing.assert_close(column[3 * H :], torch.full((H,), -S))  # output gate shut
    huge = [w.half() for w in (w_ih, torch.full_like(w_hh, 3e4), b_ih, b_hh)]  # sums > 65,504
    assert holding_weights(huge, 1.0) is None, "a column float16 cannot hold means: pack"
    assert holding_weights([w_ih, w_hh, b_ih, b_hh], float("inf")) is None, "x holds inf"
    with torch.autocast("cpu", dtype=torch.float16):  # the kernel would run in float16
        assert holding_weights([w_ih, 3e4 * w_hh.abs(), b_ih, b_hh], 1.0) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert holding_weights([w_ih, 3e4 * w_hh.abs(), b_ih, b_hh], 1.0) is not None


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.sampled_from(CELLS),
    st.booleans(),
    st.integers(1, 6).flatmap(
        lambda t: st.lists(st.integers(1, t), min_size=1, max_size=6).map(lambda ls: (t, ls))
    ),
)
def test_padded_calls_equal_the_readable_loop_for_any_lengths(
    cell: str, bidirectional: bool, t_and_lengths: tuple[int, list[int]]
) -> None:
    t, lengths = t_and_lengths
    torch.manual_seed(len(lengths) * 10 + t)
    rnn = RNN(cell, 2, 3, num_layers=2, bidirectional=bidirectional).to(DT)
    randomize_biases(rnn)
    x = torch.randn(len(lengths), t, 2, dtype=DT)
    L = torch.tensor(lengths)
    assert_all_close(run(rnn, x, L, None, "fused"), run(rnn, x, L, None, "reference"))


@pytest.mark.parametrize("layout", ["batch_major", "time_major", "strided"])
def test_reverse_rows_equals_reverse_within_lengths(layout: str) -> None:
    lengths = torch.tensor([3, 5, 1, 4])
    if layout == "time_major":  # as a kernel's batch_first outputs lie in memory
        x = torch.randn(5, 4, 2, dtype=DT).transpose(0, 1)
    elif layout == "strided":
        x = torch.randn(4, 5, 4, dtype=DT)[:, :, ::2]
    else:
        x = torch.randn(4, 5, 2, dtype=DT)
    x.requires_grad_(True)
    got = reverse_rows(x, lengths)
    torch.testing.assert_close(got, reverse_within_lengths(x, lengths), rtol=0, atol=0)
    assert torch.equal(got[1], x[1].flip(0)), "a full-length row is simply flipped"
    assert torch.equal(got[0, 3:], x[0, 3:]), "padding stays where it was"
    weights = torch.randn_like(got)
    (grad,) = torch.autograd.grad((got * weights).sum(), x)
    torch.testing.assert_close(grad, reverse_within_lengths(weights, lengths), rtol=0, atol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_auto_trains_over_varied_lengths_on_the_cpu_with_padded_calls(
    padded_calls: list[int], cell: str
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=2).to(DT)
    x = torch.randn(5, T, 3, dtype=DT)
    lengths = torch.tensor(LENGTHS["varied"])
    assert rnn.resolve_execution(x=x, lengths=lengths) == "fused"
    auto = run(rnn, x, lengths, None, "auto")
    assert len(padded_calls) == 2, "both layers ran padded calls past the lengths"
    assert_all_close(auto, run(rnn, x, lengths, None, "reference"))


def test_bfloat16_autocast_lstm_agrees_with_packing() -> None:
    """The trainers' bf16 precision runs the kernels under autocast; the holding column must
    still shut and open the gates in bfloat16."""
    rnn = RNN("lstm", 8, 16, bidirectional=True)
    cells = list(rnn.cells)
    lengths = torch.tensor([9, 3, 9, 1, 6, 6])
    x = 20 * torch.randn(6, 9, 8)
    state = LSTMState(torch.zeros(2, 6, 16), torch.zeros(2, 6, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        padded, held = fused_layer(cells, x, lengths, state, varied="padded")  # type: ignore[arg-type]
        packed, final = fused_layer(cells, x, lengths, state, varied="packing")  # type: ignore[arg-type]
    assert (padded[torch.arange(9)[None, :] >= lengths[:, None]] == 0).all()
    torch.testing.assert_close(padded.float(), packed.float(), rtol=0.02, atol=0.02)
    for a, b in zip(held, final):
        torch.testing.assert_close(a.float(), b.float(), rtol=0.02, atol=0.02)
