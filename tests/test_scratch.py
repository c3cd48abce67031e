"""rnnkit.scratch: NumPy forward and backward passes against numerical gradients and torch.

The NumPy code is the oracle for the torch code, so it is itself checked against two references
that share nothing with it: central differences (float64, relative error < 1e-6) and
torch.nn.RNNCell / LSTMCell / GRUCell and RNN / LSTM / GRU autograd with copied weights.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.scratch import (
    Array,
    GRUParams,
    LSTMParams,
    LSTMState,
    Params,
    RNNLMParams,
    RNNParams,
    clip_elementwise,
    gradient_check,
    gradient_errors,
    gru_backward,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward,
    lm_backward,
    lm_forward,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    numerical_gradient,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_cell_forward_stacked,
    rnn_forward,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    split_weights,
    stack_weights,
    train_char_rnn,
)
from rnnkit.scratch.char_rnn import CharRNN
from rnnkit.scratch.state import Mask

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
TOL = 1e-6  # relative error against numerical gradients, float64
B, T, D, H = 3, 5, 4, 5

# ---------------------------------------------------------------------------------------------
# One interface over the three cells, so that every test runs on each of them
# ---------------------------------------------------------------------------------------------

State = Any  # Array (simple RNN, GRU) or LSTMState


def make_params(kind: str, rng: np.random.Generator) -> Params:
    if kind.startswith("rnn"):
        return RNNParams(*(rng.normal(0, 0.5, s) for s in [(H, H), (H, D), (H,)]))
    if kind == "lstm":
        return LSTMParams(*(rng.normal(0, 0.5, s) for s in [(4 * H, H), (4 * H, D), (4 * H,)]))
    return GRUParams(*(rng.normal(0, 0.5, s) for s in [(3 * H, H), (3 * H, D), (3 * H,), (3 * H,)]))


def make_state(kind: str, rng: np.random.Generator, batch: int = B) -> State:
    a = rng.normal(0, 0.5, (batch, H))
    return LSTMState(a, rng.normal(0, 0.5, (batch, H))) if kind == "lstm" else a


def state_arrays(kind: str, state: State, prefix: str) -> dict[str, Array]:
    if kind == "lstm":
        return {f"{prefix}a": state.a, f"{prefix}c": state.c}
    return {f"{prefix}a": state}


def cell_forward(kind: str, x_t: Array, state: State, p: Params) -> tuple[State, Any]:
    if kind.startswith("rnn"):
        return rnn_cell_forward(x_t, state, p, kind[4:])  # type: ignore[arg-type]
    if kind == "lstm":
        return lstm_cell_forward(x_t, state, p)  # type: ignore[arg-type]
    return gru_cell_forward(x_t, state, p)  # type: ignore[arg-type]


def cell_backward(kind: str, d_state: State, cache: Any) -> tuple[Array, State, Params]:
    backward = {"lstm": lstm_cell_backward, "gru": gru_cell_backward}.get(kind, rnn_cell_backward)
    return backward(d_state, cache)  # type: ignore[operator]


def seq_forward(
    kind: str, x: Array, state0: State, p: Params, mask: Mask | None
) -> tuple[Array, Any]:
    if kind.startswith("rnn"):
        return rnn_forward(x, state0, p, mask, kind[4:])  # type: ignore[arg-type]
    if kind == "lstm":
        return lstm_forward(x, state0, p, mask)  # type: ignore[arg-type]
    return gru_forward(x, state0, p, mask)  # type: ignore[arg-type]


def seq_backward(
    kind: str, d_states: Array, caches: Any, d_final: State
) -> tuple[Array, State, Params]:
    backward = {"lstm": lstm_backward, "gru": gru_backward}.get(kind, rnn_backward)
    return backward(d_states, caches, d_final)  # type: ignore[operator]


def random_mask(rng: np.random.Generator, batch: int = B, steps: int = T) -> Mask:
    """Padding at the end AND holes in the middle; every row keeps at least one real step."""
    mask = rng.random((batch, steps)) < 0.6
    mask[:, 0] = True
    mask[0, -2:] = False  # trailing padding on row 0
    mask[1, 1:3] = [False, True]  # a hole on row 1
    return mask


def weighted_sum(kind: str, state: State, R: State) -> float:
    """A random scalar function of a state: Σ R * state (both parts for an LSTM)."""
    if kind == "lstm":
        return float((R.a * state.a).sum() + (R.c * state.c).sum())
    return float((R * state).sum())


# ---------------------------------------------------------------------------------------------
# Backward passes against numerical gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CELLS)
def test_cell_backward_matches_numerical_gradients(kind: str) -> None:
    rng = np.random.default_rng(1)
    p = make_params(kind, rng)
    x_t = rng.normal(size=(B, D))
    state = make_state(kind, rng)
    R = make_state(kind, rng)  # dL/d(new state)

    def loss() -> float:
        new, _ = cell_forward(kind, x_t, state, p)
        return weighted_sum(kind, new, R)

    _, cache = cell_forward(kind, x_t, state, p)
    dx_t, d_prev, grads = cell_backward(kind, R, cache)
    inputs = {"x_t": x_t, **state_arrays(kind, state, "prev_"), **p.arrays()}
    analytic = {"x_t": dx_t, **state_arrays(kind, d_prev, "prev_"), **grads.arrays()}
    errors = gradient_errors(loss, inputs, analytic)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("kind", CELLS)
def test_sequence_backward_matches_numerical_gradients(kind: str, masked: bool) -> None:
    rng = np.random.default_rng(2)
    p = make_params(kind, rng)
    x = rng.normal(size=(B, T, D))
    state0 = make_state(kind, rng)
    mask = random_mask(rng) if masked else None
    R = rng.normal(size=(B, T, H))  # dL/d(emitted states)
    R_final = make_state(kind, rng)  # dL/d(final state), as an encoder's loss would give

    def loss() -> float:
        states, caches = seq_forward(kind, x, state0, p, mask)
        return float((R * states).sum()) + weighted_sum(kind, caches.final, R_final)

    _, caches = seq_forward(kind, x, state0, p, mask)
    dx, d_state0, grads = seq_backward(kind, R, caches, R_final)
    inputs = {"x": x, **state_arrays(kind, state0, "0_"), **p.arrays()}
    analytic = {"x": dx, **state_arrays(kind, d_state0, "0_"), **grads.arrays()}
    errors = gradient_errors(loss, inputs, analytic)
    assert max(errors.values()) < TOL, errors
    if mask is not None:
        assert np.all(dx[~mask] == 0), "padded inputs get no gradient"


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_language_model_gradients_match_numerical(activation: str, masked: bool) -> None:
    rng = np.random.default_rng(3)
    V = 6
    p = RNNLMParams(*(rng.normal(0, 0.5, s) for s in [(H, H), (H, V), (H,), (V, H), (V,)]))
    inputs = rng.integers(0, V, size=(B, T))
    targets = rng.integers(0, V, size=(B, T))
    a0 = rng.normal(0, 0.5, (B, H))
    mask = random_mask(rng) if masked else None

    def loss() -> float:
        return lm_forward(inputs, targets, p, a0, mask, activation).loss  # type: ignore[arg-type]

    grads, da0 = lm_backward(lm_forward(inputs, targets, p, a0, mask, activation).cache)  # type: ignore[arg-type]
    err = gradient_check(loss, {**p.arrays(), "a0": a0}, {**grads.arrays(), "a0": da0})
    assert err < TOL


def test_gradient_check_catches_a_wrong_gradient() -> None:
    rng = np.random.default_rng(4)
    p = make_params("rnn_tanh", rng)
    assert isinstance(p, RNNParams)
    x = rng.normal(size=(B, T, D))
    R = rng.normal(size=(B, T, H))

    def loss() -> float:
        return float((R * rnn_forward(x, None, p)[0]).sum())

    _, caches = rnn_forward(x, None, p)
    _, _, grads = rnn_backward(R, caches)
    assert gradient_check(loss, p, grads) < TOL
    wrong = RNNParams(grads.W_aa.T, grads.W_ax, grads.b_a)  # a transposed matrix
    assert gradient_check(loss, p, wrong) > 1e-2


def test_numerical_gradient_of_a_known_function() -> None:
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float((w**3).sum()), w)
    np.testing.assert_allclose(grad, 3 * w**2, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# Against torch autograd, with copied weights
# ---------------------------------------------------------------------------------------------


def t64(a: Array, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def torch_cell(kind: str, p: Params) -> nn.Module:
    """torch.nn.*Cell holding the NumPy parameters, mapped as rnnkit documents."""
    cell: nn.Module
    if kind.startswith("rnn"):
        cell = nn.RNNCell(D, H, nonlinearity=kind[4:])
    else:
        cell = nn.LSTMCell(D, H) if kind == "lstm" else nn.GRUCell(D, H)
    cell = cell.double()  # before copying, so that the weights are not rounded to float32
    copy_weights(kind, p, cell, "")
    return cell


def torch_layer(kind: str, p: Params) -> nn.Module:
    layer: nn.Module
    if kind.startswith("rnn"):
        layer = nn.RNN(D, H, nonlinearity=kind[4:], batch_first=True)
    elif kind == "lstm":
        layer = nn.LSTM(D, H, batch_first=True)
    else:
        layer = nn.GRU(D, H, batch_first=True)
    layer = layer.double()
    copy_weights(kind, p, layer, "_l0")
    return layer


def copy_weights(kind: str, p: Params, module: nn.Module, suffix: str) -> None:
    arrays = p.arrays()
    if kind == "gru":
        b_ih, b_hh = arrays["b_ax"], arrays["b_aa"]
    else:  # one bias b_a: torch's second bias is zero
        b_ih, b_hh = arrays["b_a"], np.zeros_like(arrays["b_a"])
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(t64(arrays["W_ax"]))
        getattr(module, "weight_hh" + suffix).copy_(t64(arrays["W_aa"]))
        getattr(module, "bias_ih" + suffix).copy_(t64(b_ih))
        getattr(module, "bias_hh" + suffix).copy_(t64(b_hh))


def torch_grads(kind: str, module: nn.Module, suffix: str) -> dict[str, Array]:
    """The torch gradients under the NumPy names."""

    def g(name: str) -> Array:
        return getattr(module, name + suffix).grad.numpy()

    out = {"W_ax": g("weight_ih"), "W_aa": g("weight_hh")}
    if kind == "gru":
        out |= {"b_ax": g("bias_ih"), "b_aa": g("bias_hh")}
    else:
        # torch's two biases are added, so both get the gradient of the one bias b_a
        np.testing.assert_allclose(g("bias_ih"), g("bias_hh"))
        out["b_a"] = g("bias_ih")
    return out


def assert_grads_equal(ours: Params, theirs: dict[str, Array]) -> None:
    assert ours.arrays().keys() == theirs.keys()
    for name, g in ours.arrays().items():
        np.testing.assert_allclose(g, theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_equals_torch_cell_in_values_and_gradients(kind: str) -> None:
    rng = np.random.default_rng(5)
    p = make_params(kind, rng)
    x_t = rng.normal(size=(B, D))
    state = make_state(kind, rng)
    R = make_state(kind, rng)

    new, cache = cell_forward(kind, x_t, state, p)
    dx_t, d_prev, grads = cell_backward(kind, R, cache)

    cell = torch_cell(kind, p)
    tx = t64(x_t, grad=True)
    if kind == "lstm":
        ta, tc = t64(state.a, grad=True), t64(state.c, grad=True)
        h, c = cell(tx, (ta, tc))
        np.testing.assert_allclose(new.a, h.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(new.c, c.detach().numpy(), rtol=1e-12)
        ((t64(R.a) * h).sum() + (t64(R.c) * c).sum()).backward()
        np.testing.assert_allclose(d_prev.a, ta.grad.numpy(), rtol=1e-9)  # type: ignore[union-attr]
        np.testing.assert_allclose(d_prev.c, tc.grad.numpy(), rtol=1e-9)  # type: ignore[union-attr]
    else:
        ta = t64(state, grad=True)
        h = cell(tx, ta)
        np.testing.assert_allclose(new, h.detach().numpy(), rtol=1e-12)
        (t64(R) * h).sum().backward()
        np.testing.assert_allclose(d_prev, ta.grad.numpy(), rtol=1e-9)  # type: ignore[union-attr]
    np.testing.assert_allclose(dx_t, tx.grad.numpy(), rtol=1e-9)  # type: ignore[union-attr]
    assert_grads_equal(grads, torch_grads(kind, cell, ""))


@pytest.mark.parametrize("kind", CELLS)
def test_unmasked_layer_equals_torch_layer_in_values_and_gradients(kind: str) -> None:
    rng = np.random.default_rng(6)
    p = make_params(kind, rng)
    x = rng.normal(size=(B, T, D))
    state0 = make_state(kind, rng)
    R = rng.normal(size=(B, T, H))
    R_final = make_state(kind, rng)

    states, caches = seq_forward(kind, x, state0, p, None)
    dx, d_state0, grads = seq_backward(kind, R, caches, R_final)

    layer = torch_layer(kind, p)
    tx = t64(x, grad=True)
    if kind == "lstm":
        ta, tc = t64(state0.a[None], grad=True), t64(state0.c[None], grad=True)
        out, (h_n, c_n) = layer(tx, (ta, tc))
        final_loss = (t64(R_final.a) * h_n[0]).sum() + (t64(R_final.c) * c_n[0]).sum()
        np.testing.assert_allclose(caches.final.c, c_n[0].detach().numpy(), rtol=1e-12)
    else:
        ta = t64(state0[None], grad=True)
        out, h_n = layer(tx, ta)
        final_loss = (t64(R_final) * h_n[0]).sum()
    np.testing.assert_allclose(states, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        caches.final.a if kind == "lstm" else caches.final, h_n[0].detach().numpy(), rtol=1e-12
    )
    ((t64(R) * out).sum() + final_loss).backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9)  # type: ignore[union-attr]
    da0 = d_state0.a if kind == "lstm" else d_state0
    np.testing.assert_allclose(da0, ta.grad[0].numpy(), rtol=1e-9)  # type: ignore[index]
    if kind == "lstm":
        np.testing.assert_allclose(d_state0.c, tc.grad[0].numpy(), rtol=1e-9)  # type: ignore[index]
    assert_grads_equal(grads, torch_grads(kind, layer, "_l0"))


@pytest.mark.parametrize("kind", CELLS)
def test_masked_layer_equals_torch_on_the_real_steps_alone(kind: str) -> None:
    """A masked step is skipped: the result is torch run on each row with its padding removed."""
    rng = np.random.default_rng(7)
    p = make_params(kind, rng)
    x = rng.normal(size=(B, T, D))
    state0 = make_state(kind, rng)
    mask = random_mask(rng)
    R = rng.normal(size=(B, T, H))

    states, caches = seq_forward(kind, x, state0, p, mask)
    dx, d_state0, grads = seq_backward(kind, R, caches, None)

    layer = torch_layer(kind, p)
    assert np.all(states[~mask] == 0), "padded steps emit zeros"
    for b in range(B):
        real = mask[b]
        tx = t64(x[b : b + 1, real], grad=True)  # (1, T_real, D)
        if kind == "lstm":
            ta = t64(state0.a[None, b : b + 1], grad=True)
            tc = t64(state0.c[None, b : b + 1], grad=True)
            out, (h_n, c_n) = layer(tx, (ta, tc))
            np.testing.assert_allclose(caches.final.a[b], h_n[0, 0].detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(caches.final.c[b], c_n[0, 0].detach().numpy(), rtol=1e-12)
        else:
            ta = t64(state0[None, b : b + 1], grad=True)
            out, h_n = layer(tx, ta)
            np.testing.assert_allclose(caches.final[b], h_n[0, 0].detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(states[b, real], out[0].detach().numpy(), rtol=1e-12)
        (t64(R[b : b + 1, real]) * out).sum().backward()  # torch accumulates weight gradients
        np.testing.assert_allclose(dx[b, real], tx.grad[0].numpy(), rtol=1e-9)  # type: ignore[index]
        da0 = d_state0.a if kind == "lstm" else d_state0
        np.testing.assert_allclose(da0[b], ta.grad[0, 0].numpy(), rtol=1e-9, atol=1e-14)  # type: ignore[index]
    assert np.all(dx[~mask] == 0)
    assert_grads_equal(grads, torch_grads(kind, layer, "_l0"))


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_language_model_equals_torch(masked: bool) -> None:
    """one-hot -> nn.RNN -> nn.Linear -> cross-entropy summed over real steps / their number."""
    rng = np.random.default_rng(8)
    V = 7
    p = RNNLMParams(*(rng.normal(0, 0.5, s) for s in [(H, H), (H, V), (H,), (V, H), (V,)]))
    inputs = rng.integers(0, V, size=(B, T))
    targets = rng.integers(0, V, size=(B, T))
    mask = np.ones((B, T), dtype=bool)
    if masked:
        mask[0, 3:] = mask[2, 1:] = False  # trailing padding only, as torch sees it
    out = lm_forward(inputs, targets, p, None, mask if masked else None)
    grads, _ = lm_backward(out.cache)

    rnn = nn.RNN(V, H, batch_first=True).double()
    copy_weights("rnn_tanh", p.rnn, rnn, "_l0")
    head = nn.Linear(H, V).double()
    with torch.no_grad():
        head.weight.copy_(t64(p.W_ya))
        head.bias.copy_(t64(p.b_y))
    states, _ = rnn(F.one_hot(torch.from_numpy(inputs), V).double())
    logits = head(states)
    tm = torch.from_numpy(mask)
    loss = F.cross_entropy(logits[tm], torch.from_numpy(targets)[tm], reduction="sum") / tm.sum()
    loss.backward()
    assert out.loss == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(out.logits[mask], logits[tm].detach().numpy(), rtol=1e-12)
    theirs = torch_grads("rnn_tanh", rnn, "_l0")
    theirs |= {"W_ya": head.weight.grad.numpy(), "b_y": head.bias.grad.numpy()}  # type: ignore[union-attr]
    assert_grads_equal(grads, theirs)


def test_softmax_cross_entropy_equals_torch() -> None:
    rng = np.random.default_rng(9)
    logits = rng.normal(0, 3, (B, T, 6))
    targets = rng.integers(0, 6, (B, T))
    mask = random_mask(rng)
    targets[~mask] = -100  # padded targets are ignored, whatever they hold
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    tl = t64(logits, grad=True)
    ref = F.cross_entropy(tl[torch.from_numpy(mask)], torch.from_numpy(targets[mask]))
    ref.backward()  # torch's default "mean" over the real steps is the same normalisation
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-10, atol=1e-15)  # type: ignore[union-attr]


def test_sigmoid_cross_entropy_equals_torch() -> None:
    rng = np.random.default_rng(10)
    logits = rng.normal(0, 3, (B, T, 2))
    targets = (rng.random((B, T, 2)) < 0.5).astype(float)
    mask = random_mask(rng)
    loss, dlogits = sigmoid_cross_entropy(logits, targets, mask)
    tl = t64(logits, grad=True)
    tm = torch.from_numpy(mask)
    ref = F.binary_cross_entropy_with_logits(tl[tm], t64(targets)[tm], reduction="sum") / tm.sum()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-10, atol=1e-15)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Forms, masks, boundaries
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_stacked_W_a_equals_the_split_form(activation: str) -> None:
    rng = np.random.default_rng(11)
    p = make_params("rnn_" + activation, rng)
    assert isinstance(p, RNNParams)
    x_t, a_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    W_a = stack_weights(p)
    assert W_a.shape == (H, H + D)
    split, _ = rnn_cell_forward(x_t, a_prev, p, activation)  # type: ignore[arg-type]
    stacked = rnn_cell_forward_stacked(x_t, a_prev, W_a, p.b_a, activation)  # type: ignore[arg-type]
    np.testing.assert_allclose(stacked, split, rtol=1e-12, atol=1e-15)
    W_aa, W_ax = split_weights(W_a, H)
    assert np.array_equal(W_aa, p.W_aa) and np.array_equal(W_ax, p.W_ax)


@pytest.mark.parametrize("kind", CELLS)
def test_masked_steps_keep_the_state(kind: str) -> None:
    """Numpy alone: a masked run equals the run over the real steps, step by step."""
    rng = np.random.default_rng(12)
    p = make_params(kind, rng)
    x = rng.normal(size=(B, T, D))
    state0 = make_state(kind, rng)
    mask = random_mask(rng)
    states, caches = seq_forward(kind, x, state0, p, mask)
    for b in range(B):
        s0 = (
            LSTMState(state0.a[b : b + 1], state0.c[b : b + 1])
            if kind == "lstm"
            else state0[b : b + 1]
        )
        alone, alone_caches = seq_forward(kind, x[b : b + 1, mask[b]], s0, p, None)
        np.testing.assert_allclose(states[b, mask[b]], alone[0], rtol=1e-12)
        final = caches.final.a[b] if kind == "lstm" else caches.final[b]
        alone_final = alone_caches.final.a[0] if kind == "lstm" else alone_caches.final[0]
        np.testing.assert_allclose(final, alone_final, rtol=1e-12)
    assert np.all(states[~mask] == 0)
    # and the hole on row 1 (step 1 masked): step 2 starts from the state after step 0
    skip, _ = cell_forward(kind, x[1:2, 2], make_state_row(kind, states, caches, 1, 0), p)
    np.testing.assert_allclose(states[1, 2], (skip.a if kind == "lstm" else skip)[0], rtol=1e-12)


def make_state_row(kind: str, states: Array, caches: Any, b: int, t: int) -> State:
    """The full state after step t of row b, read back from the caches of step t + 1."""
    if kind == "lstm":
        step = caches.steps[t + 1]
        return LSTMState(step.a_prev[b : b + 1], step.c_prev[b : b + 1])
    return states[b : b + 1, t]


def test_forward_rejects_wrong_shapes_with_a_useful_message() -> None:
    p = make_params("rnn_tanh", np.random.default_rng(0))
    with pytest.raises(RnnkitError, match=r"expected x of shape \(B, T, 4\), got \(3, 4\)"):
        rnn_forward(np.zeros((3, 4)), None, p)  # type: ignore[arg-type]
    with pytest.raises(RnnkitError, match=r"mask of shape \(B, T\) = \(3, 5\)"):
        rnn_forward(np.zeros((3, 5, 4)), None, p, np.ones((3, 4), dtype=bool))  # type: ignore[arg-type]
    with pytest.raises(RnnkitError, match="activation"):
        rnn_forward(np.zeros((3, 5, 4)), None, p, None, "sigmoid")  # type: ignore[arg-type]


def test_clip_elementwise() -> None:
    g = RNNParams(np.array([[-9.0, 0.5]]), np.array([[7.0]]), np.array([-5.0]))
    clipped = clip_elementwise(g, 5.0)
    assert clipped.W_aa.tolist() == [[-5.0, 0.5]] and clipped.W_ax.tolist() == [[5.0]]
    assert clipped.b_a.tolist() == [-5.0]


def test_scratch_does_not_import_torch() -> None:
    scratch = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "scratch"
    sources = sorted(scratch.glob("*.py"))
    assert len(sources) > 5
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "torch" for n in names), f"{path.name} imports torch"


# ---------------------------------------------------------------------------------------------
# The min-char-rnn trainer
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> tuple[CharRNN, list[float]]:
    return train_char_rnn("hello world " * 50, steps=300, log_every=50, seed=0)


def test_char_rnn_learns_the_pattern(trained: tuple[CharRNN, list[float]]) -> None:
    model, history = trained
    assert history[0] == pytest.approx(np.log(model.V))  # starts at the uniform guess, log 8
    assert history[-1] < 0.25 * history[0], history
    assert model.sample("h", 34, temperature=0) == "ello world hello world hello world"
    words = ("h" + model.sample("h", 119, temperature=0.5, rng=0)).split()
    assert sum(w in ("hello", "world") for w in words) >= 0.9 * len(words), words


def test_char_rnn_training_and_sampling_are_reproducible() -> None:
    text = "hello world " * 10
    runs = [train_char_rnn(text, hidden=16, steps=30, log_every=10, seed=s) for s in (0, 0, 1)]
    assert runs[0][1] == runs[1][1], "same seed, same losses"
    assert runs[0][1] != runs[2][1], "another seed, another initialisation"
    assert np.array_equal(runs[0][0].params.W_aa, runs[1][0].params.W_aa)
    untrained = CharRNN(list("abcdefgh"), hidden=8, rng=0)  # near-uniform: samples vary a lot
    first = untrained.sample("a", 50, rng=np.random.default_rng(1))
    assert untrained.sample("a", 50, rng=np.random.default_rng(1)) == first
    assert untrained.sample("a", 50, rng=np.random.default_rng(2)) != first
    with pytest.raises(RnnkitError, match="not in the vocabulary"):
        untrained.sample("z", 5, rng=0)
