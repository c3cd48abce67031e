"""Architectures: the lecture's parameter counts, embeddings, tiny-batch overfitting, sampling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.layers import Dense, Embedding
from rnnkit.models import (
    ClassifierConfig,
    EncoderConfig,
    LanguageModel,
    LanguageModelConfig,
    SequenceClassifier,
    SequenceTagger,
    TaggerConfig,
    summary,
)
from rnnkit.models.crf_tagger import CRFTagger, CRFTaggerConfig
from rnnkit.models.dropout import dropout
from rnnkit.models.encoder import SequenceEncoder


def lecture_model() -> SequenceClassifier:
    enc = EncoderConfig(vocab_size=10_000, embedding_dim=100, cell="rnn", hidden_size=10)
    return SequenceClassifier(ClassifierConfig(encoder=enc))


def test_lecture_summary_counts() -> None:
    table = summary(lecture_model())
    lines = table.splitlines()
    assert any("Embedding" in line and line.rstrip().endswith("1,000,000") for line in lines)
    assert any("SimpleRNN(10)" in line and line.rstrip().endswith("1,110") for line in lines)
    assert any("Dense" in line and line.rstrip().endswith(" 11") for line in lines)
    assert "Total params: 1,001,121" in table


def test_embedding_equals_one_hot_times_the_matrix() -> None:
    emb = Embedding(7, 3)
    ids = torch.tensor([[1, 4, 6], [0, 2, 2]])
    one_hot = torch.nn.functional.one_hot(ids, 7).float()  # (B, T, V)
    torch.testing.assert_close(emb(ids), one_hot @ emb.E)


def test_dense_sigmoid_head_has_eleven_parameters_on_ten_units() -> None:
    head = Dense(10, 1, "sigmoid")
    assert sum(p.numel() for p in head.parameters()) == 11
    a = torch.randn(4, 10)
    torch.testing.assert_close(head.activate(head(a)), torch.sigmoid(a @ head.W_ya.T + head.b_y))


def make_batch(inputs: torch.Tensor, lengths: list[int], targets: torch.Tensor) -> Batch:
    L = torch.tensor(lengths)
    return Batch(inputs, L, mask_from_lengths(L, inputs.shape[1]), targets)


def overfit(
    model: torch.nn.Module, batch: Batch, steps: int = 150, lr: float = 0.02
) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        out = model(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = first if first is not None else float(out.loss.detach())
    return first, float(model(batch).loss.detach())  # type: ignore[union-attr, return-value]


def test_classifier_overfits_a_tiny_batch_with_each_pooling() -> None:
    torch.manual_seed(0)
    ids = torch.randint(2, 30, (6, 7))
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    for pooling in ("last", "mean", "max"):
        enc = EncoderConfig(
            vocab_size=30, embedding_dim=8, cell="gru", hidden_size=16, bidirectional=True
        )
        model = SequenceClassifier(ClassifierConfig(encoder=enc, pooling=pooling))
        batch = make_batch(ids, [7, 3, 5, 7, 2, 6], labels)
        first, last = overfit(model, batch)
        assert last < 0.05 < first, (pooling, first, last)
        assert torch.equal(model.predict(model(batch).logits), labels)


def test_multiclass_classifier_and_padding_invariance() -> None:
    torch.manual_seed(0)
    enc = EncoderConfig(vocab_size=20, embedding_dim=4, cell="lstm", hidden_size=8)
    model = SequenceClassifier(ClassifierConfig(encoder=enc, num_classes=3, pooling="mean")).eval()
    ids = torch.randint(1, 20, (2, 5))
    batch = make_batch(ids, [5, 3], torch.tensor([2, 0]))
    padded_more = make_batch(
        torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], 1), [5, 3], batch.targets
    )  # type: ignore[arg-type]
    torch.testing.assert_close(model(batch).logits, model(padded_more).logits)
    assert model(batch).logits.shape == (2, 3)


def test_tagger_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    enc = EncoderConfig(
        vocab_size=25, embedding_dim=8, cell="lstm", hidden_size=16, bidirectional=True
    )
    model = SequenceTagger(TaggerConfig(encoder=enc, num_tags=4))
    ids = torch.randint(1, 25, (4, 6))
    tags = torch.randint(0, 4, (4, 6))
    batch = make_batch(ids, [6, 4, 2, 5], tags)
    first, last = overfit(model, batch)
    assert last < 0.05 < first
    pred = model(batch).logits.argmax(-1)
    assert torch.equal(pred[batch.mask], tags[batch.mask])


def test_frame_language_model_overfits_and_samples_reproducibly() -> None:
    torch.manual_seed(0)
    enc = EncoderConfig(num_features=12, cell="lstm", hidden_size=32)
    model = LanguageModel(LanguageModelConfig(encoder=enc))
    frames = (torch.rand(3, 8, 12) < 0.3).float()
    inputs = torch.cat([torch.zeros(3, 1, 12), frames[:, :-1]], 1)  # start frame, then shifted
    batch = make_batch(inputs, [8, 6, 8], frames)
    first, last = overfit(model, batch, steps=200)
    assert last < 0.2 * first
    start = torch.zeros(1, 12)
    a = model.generate(10, start, generator=torch.Generator().manual_seed(3))
    b = model.generate(10, start, generator=torch.Generator().manual_seed(3))
    assert a.shape == (10, 12) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    # primed with the start of a memorised piece, near-greedy sampling continues it
    prime = torch.cat([start, frames[0, :4]])
    greedy = model.generate(3, prime, temperature=0.05, generator=torch.Generator().manual_seed(0))
    assert torch.equal(greedy, frames[0, 4:7])


def test_token_language_model_top_k_and_temperature() -> None:
    torch.manual_seed(0)
    enc = EncoderConfig(vocab_size=10, embedding_dim=6, cell="gru", hidden_size=16)
    model = LanguageModel(LanguageModelConfig(encoder=enc))
    seq = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 2]])
    batch = make_batch(seq[:, :-1], [9], seq[:, 1:])
    overfit(model, batch, steps=150)
    out = model.generate(8, torch.tensor([1]), temperature=0.1, top_k=1)
    assert out.tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    x = model.generate(20, torch.tensor([1]), top_k=2, generator=torch.Generator().manual_seed(1))
    y = model.generate(20, torch.tensor([1]), top_k=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, y)

    def ranks(samples: torch.Tensor) -> list[int]:
        """The rank of each sample among the model's logits given the prime and the samples
        before it (0 = the most likely token)."""
        model.eval()
        with torch.no_grad():
            logits, _ = model.run(torch.cat([torch.tensor([1]), samples[:-1]])[None])  # (1, T, V)
        order = logits[0].argsort(dim=-1, descending=True)  # (T, V)
        return [int((order[t] == token).nonzero()) for t, token in enumerate(samples.tolist())]

    # A high temperature flattens the distribution, so without top_k some samples fall outside
    # the two most likely tokens; with top_k=2 every sample is one of them, and both occur.
    def hot(top_k: int | None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(2)
        return model.generate(60, torch.tensor([1]), 5.0, top_k, generator)

    assert max(ranks(hot(None))) >= 2
    assert set(ranks(hot(2))) == {0, 1}


def test_within_frame_output_is_the_chain_rule_over_keys() -> None:
    torch.manual_seed(0)
    D = 5
    enc = EncoderConfig(num_features=D, cell="gru", hidden_size=6)
    model = LanguageModel(LanguageModelConfig(encoder=enc, within_frame=True)).double()
    with torch.no_grad():
        model.V.normal_()  # type: ignore[union-attr]
    frames = (torch.rand(2, 4, D) < 0.5).double()
    inputs = torch.cat([torch.zeros(2, 1, D, dtype=torch.float64), frames[:, :-1]], 1)
    batch = make_batch(inputs, [4, 3], frames)
    out = model(batch)
    # by hand: -log P(frame) = -sum_k log P(y_k | a<t>, y_<k), one key at a time
    with torch.no_grad():
        base, _ = model.run(inputs)
        V = model.within_frame_matrix()
    assert torch.all(V.triu() == 0), "a key never reads itself or the keys above it"
    total, n = 0.0, 0
    for b, length in enumerate([4, 3]):
        for t in range(length):
            y = frames[b, t]
            for k in range(D):
                z = base[b, t, k] + sum(V[k, j] * y[j] for j in range(k))
                p = torch.sigmoid(z)
                total -= float(torch.log(p if y[k] == 1 else 1 - p))
            n += 1
    assert out.loss is not None and out.loss.item() == pytest.approx(total / n, rel=1e-10)
    assert sum(r.params for r in model.layer_rows()) == sum(p.numel() for p in model.parameters())
    a = model.generate(
        6, torch.zeros(1, D, dtype=torch.float64), generator=torch.Generator().manual_seed(1)
    )
    b = model.generate(
        6, torch.zeros(1, D, dtype=torch.float64), generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(a, b) and a.shape == (6, D)
    capped = model.generate(6, torch.zeros(1, D, dtype=torch.float64), top_k=2, temperature=0.2)
    assert int(capped.sum(-1).max()) <= 2


def test_encoder_config_names_the_cell_choices_and_summaries_use_keras_names() -> None:
    from rnnkit.cells import CELLS
    from rnnkit.errors import RnnkitError
    from rnnkit.models.summary import rnn_layer_name

    with pytest.raises(RnnkitError, match=r"EncoderConfig.cell: expected one of rnn, rnn_relu"):
        EncoderConfig(vocab_size=5, cell="lstn")
    for name, spec in CELLS.items():
        assert rnn_layer_name(name) == spec.keras_name  # until summary.py reads the registry


def test_encoder_reads_extra_features_after_the_embedding_under_the_input_dropout() -> None:
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=20,
        embedding_dim=4,
        cell="gru",
        hidden_size=5,
        bidirectional=True,
        input_dropout=0.5,
    )
    enc = SequenceEncoder(config, extra_features=3)
    assert enc.embedding is not None and enc.rnn.input_size == 4 + 3
    ids, feats, lengths = torch.randint(1, 20, (2, 6)), torch.randn(2, 6, 3), torch.tensor([6, 4])
    x = torch.cat([enc.embedding(ids), feats], dim=-1)  # [e<t>; f<t>], (B, T, 7)
    for training in (False, True):
        enc.train(training)
        torch.manual_seed(1)
        got, got_final = enc(ids, lengths, features=feats)
        torch.manual_seed(1)
        want, want_final = enc.rnn(dropout(x, 0.5, training), lengths)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(got_final, want_final)
    with pytest.raises(ValueError, match=r"features of shape \(B, T, F\) = \(2, 6, 3\), got None"):
        enc(ids, lengths)
    with pytest.raises(ValueError, match=r"got \(2, 6, 2\)"):
        enc(ids, lengths, features=feats[..., :2])
    with pytest.raises(ValueError, match="extra_features=0"):
        SequenceEncoder(config)(ids, lengths, features=feats)


def test_crf_tagger_follows_its_equations_on_the_shared_encoder() -> None:
    torch.manual_seed(0)
    V, D_w, H, n_chars, E_c, H_c = 30, 6, 5, 12, 3, 2
    tags = ("O", "B-PER", "I-PER")
    C = len(tags)
    enc = EncoderConfig(
        vocab_size=V,
        embedding_dim=D_w,
        cell="lstm",
        hidden_size=H,
        bidirectional=True,
        input_dropout=0.5,
    )
    model = CRFTagger(
        CRFTaggerConfig(
            encoder=enc,
            num_chars=n_chars,
            char_dim=E_c,
            char_hidden=H_c,
            output_dropout=0.5,
            tags=tags,
        )
    )
    lengths = torch.tensor([5, 3])
    batch = make_batch(torch.randint(1, V, (2, 5)), [5, 3], torch.randint(0, C, (2, 5)))
    word_lengths = torch.randint(1, 5, (2, 5)) * mask_from_lengths(lengths, 5)
    batch.extras.update(chars=torch.randint(1, n_chars, (2, 5, 4)), word_lengths=word_lengths)
    assert model.chars is not None and model.encoder.embedding is not None
    for training in (False, True):
        model.train(training)
        torch.manual_seed(2)
        got = model.emissions(batch)
        torch.manual_seed(2)
        w = model.encoder.embedding(batch.inputs)  # (B, T, D_w)
        c = model.chars(batch.extras["chars"], batch.extras["word_lengths"])  # (B, T, 2 H_c)
        a, _ = model.encoder.rnn(dropout(torch.cat([w, c], -1), 0.5, training), lengths)
        torch.testing.assert_close(got, model.emission(F.dropout(a, 0.5, training)))

    def bilstm(D: int, H: int) -> int:  # two directions of W_ax (4H, D), W_aa (4H, H), b_a
        return 2 * (4 * H * (D + H) + 4 * H)

    chars = n_chars * E_c + bilstm(E_c, H_c)
    expected = V * D_w + chars + bilstm(D_w + 2 * H_c, H) + (2 * H * C + C) + (C * C + 2 * C)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert [r.params for r in model.layer_rows()][1] == chars  # embedding, chars, rnn, ...
