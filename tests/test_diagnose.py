"""The gradient lab: measurements against hand-unrolled references, the data generator's
placement of the answer, clipping's bound, and the lab's files."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from rnnkit.diagnose import (
    ClippingConfig,
    GradientConfig,
    LabConfig,
    LongRangeConfig,
    LongRangeTask,
    clipping_experiment,
    global_grad_norm,
    gradient_norms,
    long_range_experiment,
    run_lab,
    scale_recurrent_weights,
)
from rnnkit.errors import RnnkitError
from rnnkit.layers import RNN


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    # These models are tiny: a second intra-op thread only adds synchronisation, and on a
    # busy two-core machine it makes them many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_rnn(cell: str, D: int, H: int, gain: float = 1.0, seed: int = 0) -> RNN:
    torch.manual_seed(seed)
    rnn = RNN(cell, D, H).double()
    scale_recurrent_weights(rnn, gain)
    return rnn


def hand_unrolled_norms(rnn: RNN, x: Tensor, v: Tensor) -> Tensor:
    """‖∂L/∂a<t>‖ averaged over the batch, L = Σ_b v · a<T>_b, from an independent unroll:
    the simple RNN's equation written out, or torch.nn's GRU/LSTM cells with copied weights."""
    cell = rnn.cells[0]
    B, T, _ = x.shape
    H = rnn.hidden_size
    a = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    kind = rnn.cell_type
    if kind == "gru":
        ref: nn.Module = nn.GRUCell(rnn.input_size, H).double()
        biases = (cell.b_ax, cell.b_aa)
    elif kind == "lstm":
        ref = nn.LSTMCell(rnn.input_size, H).double()
        biases = (cell.b_a, torch.zeros_like(cell.b_a))
    if kind in ("gru", "lstm"):
        with torch.no_grad():
            ref.weight_ih.copy_(cell.W_ax)
            ref.weight_hh.copy_(cell.W_aa)
            ref.bias_ih.copy_(biases[0])
            ref.bias_hh.copy_(biases[1])
    states = []
    for t in range(T):
        if kind == "rnn":
            a = torch.tanh(a @ cell.W_aa.T + x[:, t] @ cell.W_ax.T + cell.b_a)
        elif kind == "rnn_relu":
            a = torch.relu(a @ cell.W_aa.T + x[:, t] @ cell.W_ax.T + cell.b_a)
        elif kind == "gru":
            a = ref(x[:, t], a)
        else:
            a, c = ref(x[:, t], (a, c))
        a.retain_grad()
        states.append(a)
    (a @ v).sum().backward()
    return torch.stack([s.grad.norm(dim=1).mean() for s in states])  # (T,) by step


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "gru", "lstm"])
def test_gradient_norms_equal_hand_unrolled_autograd(cell: str) -> None:
    B, T, D, H = 3, 5, 4, 6
    rnn = make_rnn(cell, D, H, gain=1.3)
    x = torch.randn(B, T, D, dtype=torch.float64)
    v = torch.randn(H, dtype=torch.float64)

    def head(a: Tensor) -> Tensor:
        return a @ v

    measured = gradient_norms(rnn, x, head=head)
    expected = hand_unrolled_norms(rnn, x, v)
    assert measured.shape == (T,)
    assert torch.allclose(measured, expected, rtol=1e-10, atol=0), (measured, expected)
    # A real recurrence: the early steps receive a non-zero gradient different from the last's.
    assert measured[0] > 0 and not torch.isclose(measured[0], measured[-1])


def test_default_head_has_unit_gradient_at_the_last_step() -> None:
    rnn = make_rnn("gru", 4, 6)
    norms = gradient_norms(rnn, torch.randn(3, 7, 4, dtype=torch.float64))
    assert norms[-1].item() == pytest.approx(1.0)


def test_gradient_norms_with_lengths_align_each_sequence_at_its_end() -> None:
    rnn = make_rnn("lstm", 3, 5)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 4, 2])
    measured = gradient_norms(rnn, x, lengths)

    # Each sequence alone, cut to its length, indexed by distance from its own end.
    alone = [gradient_norms(rnn, x[b : b + 1, :n]).flip(0) for b, n in enumerate([6, 4, 2])]
    for k in range(6):
        values = [g[k] for g in alone if k < len(g)]
        expected = torch.stack(values).mean()
        assert torch.allclose(measured[6 - 1 - k], expected, rtol=1e-10, atol=0), k
    # The padded steps of the shorter sequences did not leak in: distance 5 is sequence 0's alone.
    assert torch.allclose(measured[0], alone[0][5], rtol=1e-10, atol=0)


def test_small_recurrent_gain_vanishes_large_gain_explodes() -> None:
    x = torch.randn(4, 30, 8, dtype=torch.float64)
    # tanh, W_aa = 0.5 Q: every step multiplies the gradient by at most 0.5 (|tanh'| <= 1).
    vanishing = gradient_norms(make_rnn("rnn", 8, 16, gain=0.5), x).flip(0)  # by distance
    assert bool((vanishing[1:] < vanishing[:-1]).all())
    assert vanishing[20] < 0.5**20 * vanishing[0] * 1.0001
    # ReLU, W_aa = 3 Q: about half the units pass the gradient on, each scaled by 3.
    exploding = gradient_norms(make_rnn("rnn_relu", 8, 16, gain=3.0), x).flip(0)
    assert exploding[20] > 1e3 * exploding[0]
    assert exploding[10:20].mean() > exploding[:10].mean()


def test_gradient_norms_reject_bad_input_with_the_expected_shape() -> None:
    rnn = make_rnn("rnn", 4, 6)
    with pytest.raises(RnnkitError, match=r"\(B, T, 4\)"):
        gradient_norms(rnn, torch.randn(3, 5, 7, dtype=torch.float64))
    with pytest.raises(RnnkitError, match="single-layer"):
        gradient_norms(RNN("rnn", 4, 6, num_layers=2), torch.randn(3, 5, 4))
    with pytest.raises(RnnkitError, match="unknown cell"):
        GradientConfig(cells=("rnn", "transformer"))


@pytest.mark.parametrize("gap", [0, 1, 7, 30])
def test_long_range_answer_sits_exactly_gap_steps_before_the_end(gap: int) -> None:
    task = LongRangeTask(classes=5, noise_tokens=3, lead=2)
    x, y = task.batch(64, gap, torch.Generator().manual_seed(gap))
    T = task.length(gap)
    assert x.shape == (64, 2 + 1 + gap) and y.shape == (64,)
    assert torch.equal(x[:, T - 1 - gap], y)
    assert bool((y < task.classes).all())
    # The answer is the only signal token: everything else is noise (ids >= C).
    signal = x < task.classes
    assert torch.equal(signal.sum(dim=1), torch.ones(64, dtype=torch.long))
    assert bool((x < task.vocab_size).all())
    assert len(set(y.tolist())) > 1  # the label varies


def test_long_range_training_learns_a_short_gap() -> None:
    config = LongRangeConfig(
        cells=("lstm",), gaps=(2,), budget_steps=150, hidden_size=16, batch_size=32, eval_size=200
    )
    report = long_range_experiment(config)
    assert report.accuracy["lstm"][0] >= 0.9  # chance is 0.25
    assert report.largest_gap_learned("lstm") == 2


def test_global_grad_norm_is_the_norm_of_all_gradients_together() -> None:
    layer = nn.Linear(3, 2)
    layer(torch.randn(4, 3)).pow(2).sum().backward()
    expected = torch.cat([layer.weight.grad.flatten(), layer.bias.grad]).norm().item()
    assert global_grad_norm(layer.parameters()) == pytest.approx(expected)


def test_clipping_bounds_the_applied_norm_and_prevents_the_blow_up() -> None:
    config = ClippingConfig(steps=30, gap=10, hidden_size=16, batch_size=16)
    report = clipping_experiment(config)
    clipped, unclipped = report.clipped, report.unclipped
    bound = config.clip_norm * (1 + 1e-5)
    assert all(n <= bound for n in clipped.applied_norm)
    # Clipping rescales only the gradients above the threshold, and those to the threshold.
    for before, after in zip(clipped.grad_norm, clipped.applied_norm):
        if before <= config.clip_norm:
            assert after == pytest.approx(before)
        else:
            assert after == pytest.approx(config.clip_norm, rel=1e-4)
    assert max(unclipped.grad_norm) > 100 * max(clipped.applied_norm)
    # Same start: the first step's gradient is the same before any clipping took effect.
    assert unclipped.grad_norm[0] == pytest.approx(clipped.grad_norm[0])
    assert unclipped.diverged_at is not None
    assert not math.isfinite(unclipped.loss[-1]) or not math.isfinite(unclipped.grad_norm[-1])
    assert clipped.diverged_at is None and len(clipped.loss) == config.steps
    assert all(math.isfinite(v) for v in clipped.loss)


def _strict_json(path: Path) -> object:
    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=reject)


def test_run_lab_quick_writes_pngs_and_a_valid_json(tmp_path: Path) -> None:
    result = run_lab(tmp_path / "lab", quick=True)
    out = tmp_path / "lab"
    for name in ("gradients.png", "long_range.png", "clipping.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name
    stored = _strict_json(out / "lab.json")
    assert stored == json.loads(json.dumps(result))
    assert set(result) >= {"summary", "gradients", "long_range", "clipping"}
    curves = result["gradients"]["curves"]
    assert {c["cell"] for c in curves} == {"rnn", "rnn_relu", "gru", "lstm"}
    assert all(len(c["norm_by_distance"]) == 20 for c in curves)
    assert set(result["summary"]["largest_gap_learned"]) == {"rnn", "lstm"}
    with pytest.raises(RnnkitError):
        run_lab(out, quick=True, config=LabConfig.quick())
