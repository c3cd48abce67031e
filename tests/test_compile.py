"""torch.compile (TrainConfig.compile, `--compile`): the models trace into one graph, with no
data-dependent Python branch left in the forward pass (fullgraph=True fails on any), and the
compiled model computes what the eager one does, values and gradients, over sequences of
different lengths; a training run with compile follows the eager run's losses; and the
length check still stops bad lengths inside the compiled graph."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnkit.data.batch import Batch
from rnnkit.data.batching import make_batch
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.train import TrainConfig, fit

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # inductor's own notices


@pytest.fixture(autouse=True)
def _fresh_compiler() -> None:
    torch.manual_seed(0)
    torch._dynamo.reset()


def classifier(cell: str) -> SequenceClassifier:
    encoder = EncoderConfig(
        vocab_size=30, embedding_dim=6, cell=cell, hidden_size=5, num_layers=2, bidirectional=True
    )
    return SequenceClassifier(ClassifierConfig(encoder, num_classes=2))


def batch(lengths: list[int], seed: int = 1) -> Batch:
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(1, 30, (n,), generator=g) for n in lengths]
    return make_batch(seqs, torch.randint(0, 2, (len(lengths),), generator=g))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_fullgraph_compile_equals_eager_over_varied_lengths(cell: str) -> None:
    model = classifier(cell)
    # fullgraph raises on any graph break; aot_eager traces forward and backward as inductor
    # does, without generating code (the training test below runs inductor)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    b = batch([5, 3, 7, 2])
    want = model(b)
    want.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    got = compiled(b)
    got.loss.backward()
    assert torch.allclose(got.logits, want.logits, atol=1e-6)
    assert len(grads) == len(list(model.parameters()))
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.allclose(p.grad, grads[name], atol=1e-6), name


def test_compiled_graph_still_refuses_lengths_past_T() -> None:
    compiled = torch.compile(classifier("lstm"), fullgraph=True, backend="aot_eager")
    good = batch([4, 2])
    compiled(good)
    bad = replace(good, lengths=torch.tensor([5, 2]))  # T is 4
    with pytest.raises(RuntimeError, match=r"length in \[1, T\]"):
        compiled(bad)


def test_training_with_compile_follows_the_eager_run() -> None:
    # one batch shape: inductor compiles once (about a minute from a cold cache)
    train = [batch([6, 4, 5, 3], seed=s) for s in range(3)]
    config = TrainConfig(epochs=3, lr=0.05, progress=False, seed=0, num_threads=1, device="cpu")
    losses = {}
    for compile in (False, True):
        torch.manual_seed(0)
        model = classifier("lstm")
        result = fit(model, train, train[:1], replace(config, compile=compile))
        losses[compile] = [(r["train_loss"], r["dev_loss"]) for r in result.history]
    assert losses[False][-1][0] < losses[False][0][0]  # it trains
    for eager, compiled in zip(losses[False], losses[True], strict=True):
        assert compiled == pytest.approx(eager, rel=1e-4)


def test_a_language_model_over_float_frames_compiles_and_equals_eager() -> None:
    """The first layer's input (piano-roll frames) needs no gradient: the CPU LSTM kernel
    traces all the same (`rnnkit.layers.fused`)."""
    config = EncoderConfig(num_features=6, hidden_size=8, cell="lstm")
    model = LanguageModel(LanguageModelConfig(encoder=config, within_frame=True, nade_hidden=4))
    g = torch.Generator().manual_seed(2)
    frames = [(torch.rand(n, 6, generator=g) < 0.3).float() for n in (5, 8, 3)]
    b = make_batch([torch.cat([torch.zeros(1, 6), f[:-1]]) for f in frames], frames)
    want = model(b).loss
    want.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    got = torch.compile(model, fullgraph=True, backend="aot_eager")(b).loss
    got.backward()
    assert torch.allclose(got, want, atol=1e-6)
    assert len(grads) == len(list(model.parameters()))
    for p, g_want in zip(model.parameters(), grads, strict=True):
        assert p.grad is not None and torch.allclose(p.grad, g_want, atol=1e-6)
