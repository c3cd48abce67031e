"""The fused path over sequences of different lengths without packing (padded kernel calls:
past the lengths for the simple RNN and GRU, time segments for the LSTM): equal to the
readable loop in float64, on values, final states and gradients."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rnnkit.layers.fused as fused_module
from rnnkit.cells import LSTMState
from rnnkit.layers import RNN
from rnnkit.layers.fused import fused_layer, varied_lengths_method
from rnnkit.layers.segments import Segment, plan_segments

DT = torch.float64
CELLS = ["rnn", "rnn_relu", "gru", "lstm"]
T = 7
LENGTHS = {
    "varied": [7, 2, 5, 1, 5],  # length 1, length T, a repeated length, unsorted
    "equal_below_T": [4, 4, 4, 4, 4],  # one segment, shorter than T
    "ascending": [1, 2, 3, 6, 7],  # as a bucketed batch comes: sorted, shortest first
    "ones": [1, 1, 1, 1, 1],
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def padded_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the padded way each layer ran by, recorded by spies around them."""
    calls: list[str] = []
    for name in ("segmented_layer", "past_lengths_layer"):
        real = getattr(fused_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(fused_module, name, spy)
    return calls


def padded_way(cell: str) -> str:
    return "segmented_layer" if cell == "lstm" else "past_lengths_layer"


def parts(state: object) -> list[torch.Tensor]:
    return list(state) if isinstance(state, LSTMState) else [state]  # type: ignore[list-item]


def randomize_biases(module: nn.Module) -> None:
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-1].startswith("b_"):
                p.normal_(0, 0.5)


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
    padded_calls: list[str],
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
    assert padded_calls == [padded_way(cell)] * layers, "the CPU's fused path ran padded calls"
    assert_all_close(fused, reference)
    out = fused[0]
    padded = torch.arange(T)[None, :] >= lengths[:, None]  # (B, T)
    assert (out[padded] == 0).all(), "padded steps emit exact zeros"


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_all_equal_to_T_run_one_padded_call(padded_calls: list[str], cell: str) -> None:
    rnn = RNN(cell, 3, 4, bidirectional=True).to(DT)
    x = torch.randn(3, T, 3, dtype=DT)
    lengths = torch.full((3,), T)
    assert_all_close(run(rnn, x, lengths, None, "fused"), run(rnn, x, lengths, None, "reference"))
    assert padded_calls == [], "no segments, nothing past a length when every length is T"


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


def test_plan_segments_by_hand() -> None:
    assert plan_segments([6, 5, 5, 2]) == [
        Segment(start=0, end=2, rows=4, carry=3),
        Segment(start=2, end=5, rows=3, carry=1),
        Segment(start=5, end=6, rows=1, carry=0),
    ]
    assert plan_segments([3, 3]) == [Segment(0, 3, 2, 0)]
    assert plan_segments([1]) == [Segment(0, 1, 1, 0)]


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
