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
from scratch_helpers import (
    CELLS,
    TOL,
    B,
    D,
    H,
    State,
    T,
    cell_backward,
    cell_forward,
    make_params,
    make_state,
    random_mask,
    seq_backward,
    seq_forward,
    state_arrays,
    weighted_sum,
)

from rnnkit.errors import RnnkitError
from rnnkit.scratch import (
    Array,
    LSTMState,
    RNNLMParams,
    RNNParams,
    clip_elementwise,
    gradient_check,
    gradient_errors,
    lm_backward,
    lm_forward,
    numerical_gradient,
    rnn_backward,
    rnn_cell_forward,
    rnn_cell_forward_stacked,
    rnn_forward,
    split_weights,
    stack_weights,
    train_char_rnn,
)
from rnnkit.scratch.char_rnn import CharRNN

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
