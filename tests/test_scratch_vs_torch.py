"""rnnkit.scratch against torch autograd with copied weights: torch.nn.RNNCell / LSTMCell /
GRUCell and RNN / LSTM / GRU, the language model and the losses, values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scratch_helpers import (
    CELLS,
    B,
    D,
    H,
    T,
    cell_backward,
    cell_forward,
    make_params,
    make_state,
    random_mask,
    seq_backward,
    seq_forward,
)
from torch import nn

from rnnkit.scratch import (
    Array,
    Params,
    RNNLMParams,
    lm_backward,
    lm_forward,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)

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
