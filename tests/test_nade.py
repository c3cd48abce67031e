"""The NADE within-frame output: the one-pass form equals the equations key by key, the model's
likelihood is the chain rule in its key order, and sampling draws from that same distribution
(with given keys clamped)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.data.batching import make_batch
from rnnkit.errors import RnnkitError
from rnnkit.layers.nade import NadeLayer
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.encoder import EncoderConfig


def nade_model(D: int, order: str, hidden: int = 3) -> LanguageModel:
    torch.manual_seed(0)
    enc = EncoderConfig(num_features=D, cell="gru", hidden_size=5)
    config = LanguageModelConfig(
        encoder=enc, within_frame=True, nade_hidden=hidden, key_order=order
    )
    model = LanguageModel(config).double()
    with torch.no_grad():  # away from the small initial values, so every term matters
        for p in (model.V, model.nade.W, model.nade.U, model.head.b_y):  # type: ignore[union-attr]
            assert p is not None
            p.normal_()
    return model


def test_one_pass_terms_equal_the_key_by_key_equations() -> None:
    torch.manual_seed(0)
    layer = NadeLayer(in_features=4, keys=6, hidden=3).double()
    with torch.no_grad():
        layer.W.normal_()
        layer.U.normal_()
    a = torch.randn(2, 5, 4, dtype=torch.float64)
    y = (torch.rand(2, 5, 6) < 0.5).double()
    fast = layer(layer.start(a), y)  # (B, T, D)
    torch.testing.assert_close(fast, layer.readable(layer.start(a), y), rtol=1e-12, atol=1e-12)
    # and by hand, without the layer's helpers: h_k = σ(W_ca a + b_c + Σ_{j<k} W_j y_j)
    b, t, k = 1, 3, 4
    c = layer.W_ca @ a[b, t] + layer.b_c
    h = torch.sigmoid(c + sum(layer.W[:, j] * y[b, t, j] for j in range(k)))
    assert fast[b, t, k].item() == pytest.approx((layer.U[k] @ h).item(), rel=1e-12)
    # gradients flow through the running sum to every W_j that key k reads
    fast[b, t, k].backward()
    assert layer.W.grad is not None
    reads = [j for j in range(k) if y[b, t, j] == 1]
    for j in range(6):
        assert bool(layer.W.grad[:, j].abs().sum() > 0) == (j in reads)


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_loss_is_the_chain_rule_over_keys_in_the_model_order(order: str) -> None:
    D = 5
    model = nade_model(D, order)
    frames = (torch.rand(2, 4, D) < 0.5).double()
    inputs = torch.cat([torch.zeros(2, 1, D, dtype=torch.float64), frames[:, :-1]], 1)
    out = model(make_batch(list(inputs), list(frames)))
    with torch.no_grad():
        logits, _ = model.run(inputs)  # (B, T, D + N_h)
        V, nade = model.within_frame_matrix(), model.nade
    assert nade is not None
    keys = list(range(D)) if order == "ascending" else list(range(D - 1, -1, -1))
    total = 0.0
    for b, t in itertools.product(range(2), range(4)):
        total += hand_nll(frames[b, t], logits[b, t], V, nade.U.detach(), nade.W.detach(), keys)
    assert out.loss is not None and out.loss.item() == pytest.approx(total / 8, rel=1e-10)
    assert sum(r.params for r in model.layer_rows()) == sum(p.numel() for p in model.parameters())


def hand_nll(
    y: torch.Tensor,
    logits: torch.Tensor,
    V: torch.Tensor,
    U: torch.Tensor,
    W: torch.Tensor,
    keys: list[int],
) -> float:
    """-log P(y) by the chain rule, one key at a time in the order `keys` (pitch indices)."""
    D = len(keys)
    pre = logits[D:].clone()  # c(a<t>)
    total = 0.0
    for i, k in enumerate(keys):  # the i-th key of the order is pitch k
        z = logits[k] + sum(V[i, j] * y[keys[j]] for j in range(i)) + U[i] @ torch.sigmoid(pre)
        pre = pre + W[:, i] * y[k]
        p = torch.sigmoid(z)
        total -= float(torch.log(p if y[k] == 1 else 1 - p))
    return total


def frame_probabilities(model: LanguageModel, D: int) -> dict[tuple[int, ...], float]:
    """P(first frame) for every one of the 2^D frames, from the model's likelihood."""
    frames = torch.tensor(list(itertools.product([0.0, 1.0], repeat=D)), dtype=torch.float64)
    inputs = torch.zeros(len(frames), 1, D, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        logits, _ = model.run(inputs)
        z = model.within_frame_logits(logits, frames[:, None])[:, 0]  # (2^D, D)
    logp = -torch.nn.functional.binary_cross_entropy_with_logits(z, frames, reduction="none")
    probs = logp.sum(-1).exp()
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-9), "a distribution over frames"
    return {tuple(int(v) for v in f): float(p) for f, p in zip(frames, probs)}


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_sampling_draws_from_the_likelihood(order: str) -> None:
    D, n = 3, 6000
    model = nade_model(D, order)
    exact = frame_probabilities(model, D)
    gen = torch.Generator().manual_seed(0)
    counts: dict[tuple[int, ...], int] = {f: 0 for f in exact}
    # generate feeds each frame back, so draw first frames only: n one-step generations
    draws = torch.stack(
        [
            model.generate(1, torch.zeros(1, D, dtype=torch.float64), generator=gen)[0]
            for _ in range(n)
        ]
    )
    for f in draws.tolist():
        counts[tuple(int(v) for v in f)] += 1
    for f, p in exact.items():  # within 4 standard errors of a binomial count
        assert abs(counts[f] / n - p) <= 4 * (p * (1 - p) / n) ** 0.5 + 1e-3, (f, counts[f], p)


def test_given_top_keys_are_kept_and_the_rest_drawn_from_the_conditional() -> None:
    D, n = 4, 6000
    model = nade_model(D, "descending")
    exact = frame_probabilities(model, D)
    # the top two keys given (key 3 sounds, key 2 silent): the lower two are free
    given = torch.tensor([float("nan"), float("nan"), 0.0, 1.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    draws = torch.stack(
        [
            model.generate(
                1, torch.zeros(1, D, dtype=torch.float64), generator=gen, fixed=given[None]
            )[0]
            for _ in range(n)
        ]
    )
    assert torch.all(draws[:, 3] == 1) and torch.all(draws[:, 2] == 0)
    matching = {f: p for f, p in exact.items() if f[2:] == (0, 1)}
    norm = sum(matching.values())
    for f, p in matching.items():
        q = p / norm  # P(lower keys | top keys), by Bayes from the joint
        seen = float(((draws == torch.tensor(f, dtype=torch.float64)).all(-1)).double().mean())
        assert abs(seen - q) <= 4 * (q * (1 - q) / n) ** 0.5 + 1e-3, (f, seen, q)


def test_config_refuses_nade_options_without_a_within_frame_output() -> None:
    enc = EncoderConfig(num_features=4, hidden_size=5)
    with pytest.raises(RnnkitError, match="need within_frame"):
        LanguageModelConfig(encoder=enc, nade_hidden=8)
    with pytest.raises(RnnkitError, match="key-order"):
        LanguageModelConfig(encoder=enc, within_frame=True, key_order="up")
    with pytest.raises(RnnkitError, match="nade-hidden"):
        LanguageModelConfig(encoder=enc, within_frame=True, nade_hidden=-1)


def test_an_ensemble_scores_each_step_by_the_mean_of_the_models_probabilities() -> None:
    from rnnkit.models.language_model import mixture_nll

    D = 4
    one, two = nade_model(D, "descending"), nade_model(D, "ascending")
    with torch.no_grad():
        two.head.b_y.normal_()
    frames = (torch.rand(2, 3, D) < 0.5).double()
    inputs = torch.cat([torch.zeros(2, 1, D, dtype=torch.float64), frames[:, :-1]], 1)
    batch = make_batch(list(inputs), list(frames))
    # by hand: P_m(frame<t> | past) from each model's own loss on one-step prefixes
    expected = 0.0
    for b, t in itertools.product(range(2), range(3)):
        probs = []
        for model in (one, two):
            prefix = make_batch([inputs[b, : t + 1]], [frames[b, : t + 1]])
            with torch.no_grad():
                run = model(prefix)
                whole = run.loss.item() * (t + 1)  # type: ignore[union-attr]
                before = (
                    0.0
                    if t == 0
                    else model(make_batch([inputs[b, :t]], [frames[b, :t]])).loss.item() * t
                )  # type: ignore[union-attr]
            probs.append(math.exp(before - whole))
        expected -= math.log(sum(probs) / 2)
    assert mixture_nll([one, two], [batch]) == pytest.approx(expected / 6, rel=1e-9)
    alone = mixture_nll([one], [batch])
    assert alone == pytest.approx(one(batch).loss.item(), rel=1e-12)  # type: ignore[union-attr]
    assert mixture_nll([one, one], [batch]) == pytest.approx(alone, rel=1e-12)


def test_padding_after_the_real_steps_changes_neither_the_loss_nor_its_gradients() -> None:
    """forward_batch runs the padded batch without lengths: a left-to-right model's outputs at
    real steps, and so the masked loss, must equal the run that stops at each length."""
    D = 4
    model = nade_model(D, "descending")
    lengths = [5, 2, 3]
    frames = [(torch.rand(n, D) < 0.5).double() for n in lengths]
    inputs = [torch.cat([torch.zeros(1, D, dtype=torch.float64), f[:-1]]) for f in frames]
    batch = make_batch(inputs, frames)
    fast = model(batch).loss
    assert fast is not None
    fast_grads = torch.autograd.grad(fast, list(model.parameters()))
    logits, _ = model.run(batch.inputs, batch.lengths)  # the run that honours the lengths
    exact = model.output(batch, logits).loss
    assert exact is not None
    exact_grads = torch.autograd.grad(exact, list(model.parameters()))
    assert fast.item() == pytest.approx(exact.item(), rel=1e-12)
    for a, b in zip(fast_grads, exact_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
