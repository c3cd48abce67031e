"""The recurrent layer: hand loop, masks, bidirectional reversal, fused == reference."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from rnnkit.cells import LSTMState
from rnnkit.layers import RNN, Recurrent, reverse_within_lengths
from rnnkit.layers.rnn import make_cell

DT = torch.float64
CELLS = ["rnn", "rnn_relu", "gru", "lstm"]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def parts(state: object) -> list[torch.Tensor]:
    return list(state) if isinstance(state, LSTMState) else [state]  # type: ignore[list-item]


def randomize_biases(module: nn.Module) -> None:
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-1].startswith("b_"):
                p.normal_(0, 0.5)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_equals_a_hand_loop_over_the_cell(cell: str) -> None:
    c = make_cell(cell, 3, 4).to(DT)
    x = torch.randn(2, 5, 3, dtype=DT)
    out, final = Recurrent(c)(x)
    state = c.initial_state(2, like=x)
    for t in range(5):
        state = c.step(x[:, t], state)
        torch.testing.assert_close(out[:, t], c.output(state))
    for got, want in zip(parts(final), parts(state)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("cell", CELLS)
def test_masked_final_state_is_the_state_at_each_length(cell: str) -> None:
    c = make_cell(cell, 3, 4).to(DT)
    x = torch.randn(3, 6, 3, dtype=DT)
    lengths = torch.tensor([6, 2, 4])
    out, final = Recurrent(c)(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone_out, alone_final = Recurrent(c)(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone_out[0])
        assert torch.all(out[b, n:] == 0), "padded steps emit zeros"
        for got, want in zip(parts(final), parts(alone_final)):
            torch.testing.assert_close(got[b], want[0])


def test_reverse_within_lengths() -> None:
    x = torch.arange(8).view(2, 4, 1)
    rev = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert rev[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    assert torch.equal(reverse_within_lengths(rev, torch.tensor([4, 2])), x)


@pytest.mark.parametrize("execution", ["reference", "fused"])
def test_backward_direction_reads_each_sequence_backwards_within_its_length(execution: str) -> None:
    rnn = RNN("gru", 3, 4, bidirectional=True, execution=execution).to(DT)  # type: ignore[arg-type]
    x = torch.randn(2, 5, 3, dtype=DT)
    lengths = torch.tensor([5, 3])
    out, final = rnn(x, lengths)
    backward_cell = rnn.cells[1]
    for b, n in enumerate(lengths.tolist()):
        # the backward cell run forwards over the reversed real steps
        rev_out, rev_final = Recurrent(backward_cell)(x[b : b + 1, :n].flip(1))
        torch.testing.assert_close(out[b, :n, 4:], rev_out[0].flip(0))
        torch.testing.assert_close(final[1, b], rev_final[0])  # type: ignore[index]
        assert torch.all(out[b, n:] == 0)


@pytest.mark.parametrize("cell", CELLS)
def test_single_layer_equals_torch_nn_with_copied_weights(cell: str) -> None:
    ours = RNN(cell, 3, 4, bidirectional=True).to(DT)
    randomize_biases(ours)
    torch_cls = {"rnn": nn.RNN, "rnn_relu": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
    kwargs = {"nonlinearity": "relu"} if cell == "rnn_relu" else {}
    ref = torch_cls(3, 4, batch_first=True, bidirectional=True, **kwargs).to(DT)
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"]):
            w_ih, w_hh, b_ih, b_hh = ours.cells[d].fused_weights()  # type: ignore[operator]
            getattr(ref, "weight_ih_l0" + suffix).copy_(w_ih)
            getattr(ref, "weight_hh_l0" + suffix).copy_(w_hh)
            getattr(ref, "bias_ih_l0" + suffix).copy_(b_ih)
            getattr(ref, "bias_hh_l0" + suffix).copy_(b_hh)
    x = torch.randn(2, 5, 3, dtype=DT)
    ref_out, ref_h = ref(x)
    for execution in ("reference", "fused"):
        out, final = ours(x, execution=execution)
        torch.testing.assert_close(out, ref_out)
        torch.testing.assert_close(parts(final)[0], ref_h[0] if cell == "lstm" else ref_h)


CASES = list(itertools.product(CELLS, [1, 2], [False, True], ["concat", "sum"]))


@pytest.mark.parametrize("cell,layers,bidirectional,merge", CASES)
def test_fused_equals_reference_values_and_gradients(
    cell: str, layers: int, bidirectional: bool, merge: str
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=layers, bidirectional=bidirectional, merge=merge).to(DT)  # type: ignore[arg-type]
    randomize_biases(rnn)
    x = torch.randn(4, 6, 3, dtype=DT)
    lengths = torch.tensor([6, 2, 5, 1])
    dirs = 2 if bidirectional else 1
    h0 = torch.randn(layers * dirs, 4, 4, dtype=DT)
    state = LSTMState(h0, torch.randn_like(h0)) if cell == "lstm" else h0
    weights = torch.randn(4, 6, rnn.output_size, dtype=DT)

    results = {}
    for execution in ("reference", "fused"):
        rnn.zero_grad()
        xi = x.clone().requires_grad_(True)
        out, final = rnn(xi, lengths, state=state, execution=execution)
        loss = (out * weights).sum() + sum(p.pow(2).sum() for p in parts(final))
        loss.backward()
        grads = [p.grad.clone() for p in rnn.parameters()]  # type: ignore[union-attr]
        results[execution] = (out, parts(final), xi.grad, grads)

    ref, fused = results["reference"], results["fused"]
    torch.testing.assert_close(fused[0], ref[0], rtol=1e-10, atol=1e-12)
    for a, b in zip(fused[1], ref[1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fused[2], ref[2], rtol=1e-10, atol=1e-12)
    for a, b in zip(fused[3], ref[3]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_dropout_between_layers_is_identical_in_both_executions() -> None:
    rnn = RNN("lstm", 3, 4, num_layers=3, dropout=0.5).to(DT).train()
    x = torch.randn(2, 5, 3, dtype=DT)
    torch.manual_seed(1)
    a, _ = rnn(x, execution="reference")
    torch.manual_seed(1)
    b, _ = rnn(x, execution="fused")
    torch.testing.assert_close(a, b)
    torch.manual_seed(2)
    c, _ = rnn(x, execution="fused")
    assert not torch.allclose(a, c), "dropout must actually drop something"


def test_layer_gradients_match_numerical_gradients() -> None:
    rnn = RNN("lstm", 2, 3, bidirectional=True, execution="reference").to(DT)
    x = torch.randn(2, 4, 2, dtype=DT, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda x: rnn(x, lengths)[0], (x,))


def test_auto_execution_picks_fused() -> None:
    assert RNN("gru", 2, 3).resolve_execution() == "fused"
    assert RNN("gru", 2, 3, execution="reference").resolve_execution() == "reference"


@pytest.fixture
def fused_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call of the fused path, counted by a spy around it."""
    import rnnkit.layers.rnn as rnn_module

    calls: list[int] = []
    real = rnn_module.fused_layer

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rnn_module, "fused_layer", spy)
    return calls


def test_auto_runs_fused_when_training_on_varied_lengths(fused_calls: list[int]) -> None:
    rnn = RNN("lstm", 3, 4)
    x = torch.randn(2, 5, 3)
    rnn(x, torch.tensor([5, 2]))  # the CPU's fused path runs padded calls, not packing
    rnn(x, torch.tensor([5, 5]))
    with torch.no_grad():
        rnn(x, torch.tensor([5, 2]))
    rnn(x, torch.tensor([5, 2]), execution="reference")
    assert len(fused_calls) == 3, "varied and equal lengths, training and inference: fused"


# (cell, lengths with T = 5, autograd recording, execution asked) -> what runs
EXECUTION_CASES = [
    ("lstm", [5, 2], True, "auto", "fused"),  # padded calls past the lengths, no packing
    ("gru", [4, 4], True, "auto", "fused"),  # all shorter than T
    ("lstm", [5, 5], True, "auto", "fused"),  # equal lengths need no packing
    ("lstm", None, True, "auto", "fused"),
    ("lstm", [5, 2], False, "auto", "fused"),  # inference
    ("rnn", [5, 2], True, "auto", "fused"),
    ("lstm", [5, 2], True, "reference", "reference"),  # asked for explicitly
    ("lstm", [5, 2], True, "fused", "fused"),  # asked for explicitly
    ("rnn_relu", None, True, "reference", "reference"),
]


@pytest.mark.parametrize("cell,lengths,grad,execution,expected", EXECUTION_CASES)
def test_resolve_execution_says_what_forward_runs(
    fused_calls: list[int],
    cell: str,
    lengths: list[int] | None,
    grad: bool,
    execution: str,
    expected: str,
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=2, execution=execution)  # type: ignore[arg-type]
    x = torch.randn(2, 5, 3)
    L = None if lengths is None else torch.tensor(lengths)
    with torch.set_grad_enabled(grad):
        said = rnn.resolve_execution(x=x, lengths=L)
        rnn(x, L)
    assert said == expected
    assert fused_calls == ([1, 1] if expected == "fused" else []), "forward ran what it was told"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_auto_runs_one_cpu_time_step_with_the_readable_step(
    fused_calls: list[int], cell: str
) -> None:
    rnn = RNN(cell, 3, 4, num_layers=2)
    x = torch.randn(2, 1, 3)  # one step, as sampling feeds it
    assert rnn.resolve_execution(x=x) == "reference"
    assert rnn.resolve_execution(x=torch.randn(2, 2, 3)) == "fused"
    out, state = rnn(x)
    assert fused_calls == []
    want, want_state = rnn(x, execution="fused")
    assert fused_calls == [1, 1]
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(state, want_state)


def test_resolve_execution_answers_with_or_without_the_inputs() -> None:
    rnn = RNN("lstm", 3, 4)
    assert rnn.resolve_execution() == "fused"
    assert rnn.resolve_execution(lengths=torch.tensor([5, 2])) == "fused"


def test_every_registered_cell_has_a_fused_kernel() -> None:
    from rnnkit.cells import CELLS
    from rnnkit.layers.fused import KERNELS, supports_fused

    for name, spec in CELLS.items():
        assert spec.fused_kind in KERNELS, name
        assert supports_fused(spec.make(2, 3)), name


@pytest.mark.parametrize(
    ("x", "lengths", "message"),
    [
        (torch.randn(2, 5), None, r"expected x of shape \(B, T, 3\), got \(2, 5\)"),
        (torch.randn(2, 0, 3), None, r"with B, T >= 1, got \(2, 0, 3\)"),
        (torch.randn(2, 5, 4), None, r"expected x of shape \(B, T, 3\), got \(2, 5, 4\)"),
        (torch.randn(2, 5, 3).double(), None, "expected x of dtype torch.float32"),
        (torch.randn(2, 5, 3), torch.tensor([5, 6]), r"every length in \[1, T\] = \[1, 5\]"),
        (torch.randn(2, 5, 3), torch.tensor([5, 0]), r"got values in \[0, 5\]"),
        (torch.randn(2, 5, 3), torch.tensor([5.0, 2.0]), "lengths of an integer dtype"),
        (torch.randn(2, 5, 3), torch.tensor([True, True]), "lengths of an integer dtype"),
        (torch.randn(2, 5, 3), torch.tensor([5]), r"lengths of shape \(B,\) = \(2,\), got \(1,\)"),
    ],
)
@pytest.mark.parametrize("execution", ["reference", "fused"])
def test_rnn_checks_its_inputs_at_the_entrance(
    x: torch.Tensor, lengths: torch.Tensor | None, message: str, execution: str
) -> None:
    from rnnkit.layers.rnn import LayerInputError

    rnn = RNN("lstm", 3, 4, bidirectional=True)
    with pytest.raises(LayerInputError, match=message):
        rnn(x, lengths, execution=execution)  # type: ignore[arg-type]
