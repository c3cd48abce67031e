"""Gradient x input saliency against direct autograd computed here, for frame and embedding
models, two and three classes, and in a padded batch; and its picture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.data.dna import soft_one_hot
from rnnkit.diagnose.saliency import plot_saliency, position_scores, saliency, saliency_batch
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig


def classifier(classes: int, vocab: int = 0, pooling: str = "max") -> SequenceClassifier:
    torch.manual_seed(0)
    encoder = EncoderConfig(
        num_features=0 if vocab else 4, vocab_size=vocab, embedding_dim=6, cell="gru",
        hidden_size=8, bidirectional=True, input_dropout=0.5,
    )  # fmt: skip
    return SequenceClassifier(
        ClassifierConfig(encoder=encoder, num_classes=classes, pooling=pooling, output_dropout=0.5)
    )


@pytest.mark.parametrize(("classes", "target"), [(3, 0), (3, 2), (2, 0), (2, 1)])
def test_saliency_is_gradient_times_input_of_the_class_logit(classes: int, target: int) -> None:
    model = classifier(classes).train()  # dropout on: saliency must switch it off
    x = soft_one_hot("ACGTTGCANRAC")
    values = saliency(model, x, target)
    assert model.training  # the mode is restored
    model.eval()
    leaf = x.clone().requires_grad_(True)
    logits = model(leaf[None]).logits[0]
    score = logits[target] if classes > 2 else (logits if target == 1 else -logits)
    (grad,) = torch.autograd.grad(score, leaf)
    assert values.shape == (12, 4)
    assert torch.allclose(values, grad * x, atol=1e-6)
    assert torch.equal(values == 0, x == 0)  # only the bases present carry saliency
    assert torch.allclose(position_scores(values), (grad * x).sum(-1), atol=1e-6)


def test_saliency_of_an_embedding_model_sums_over_the_embedding() -> None:
    model = classifier(3, vocab=10).eval()
    ids = torch.tensor([1, 4, 2, 9, 3, 3, 7])
    values = saliency(model, ids, 1)
    # the same model computed by hand from its embedded vectors
    e = model.encoder.embedding(ids[None]).detach().requires_grad_(True)  # (1, T, E)
    outputs, _ = model.encoder.rnn(e, torch.tensor([7]))  # (1, T, H')
    logits = model.head(outputs.max(dim=1).values)  # (1, C)
    (grad,) = torch.autograd.grad(logits[0, 1], e)
    assert values.shape == (7,)
    assert torch.allclose(values, (grad * e)[0].sum(-1), atol=1e-6)


def test_a_padded_batch_gives_each_sequence_its_own_saliency() -> None:
    model = classifier(3, pooling="mean")
    seqs = ["ACGTAGGT", "TTAGC", "GGGCCCAAAT"]
    x = torch.zeros(3, 10, 4)
    for b, s in enumerate(seqs):
        x[b, : len(s)] = soft_one_hot(s)
    lengths, targets = torch.tensor([8, 5, 10]), torch.tensor([2, 0, 1])
    batch = saliency_batch(model, x, lengths, targets)
    for b, s in enumerate(seqs):
        alone = saliency(model, soft_one_hot(s), int(targets[b]))
        assert torch.allclose(batch[b, : len(s)], alone, atol=1e-6)
        assert not batch[b, len(s) :].any()


def test_the_picture(tmp_path: Path) -> None:
    model = classifier(3)
    seq = "ACGTNACGTA"
    png = plot_saliency(saliency(model, soft_one_hot(seq), 0), seq, tmp_path / "s.png", "x", [2])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="9 letters for 10 saliency positions"):
        plot_saliency(torch.zeros(10, 4), seq[:9], tmp_path / "bad.png")
