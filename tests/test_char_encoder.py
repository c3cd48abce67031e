"""Character-level word features: references, padding invariance, zero padding words, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.layers.char_encoder import CharEncoder

DT = torch.float64
KINDS = ["lstm", "cnn"]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def encoder(kind: str, num_chars: int = 30, char_dim: int = 5, **kwargs: int) -> CharEncoder:
    enc = CharEncoder(num_chars, char_dim, 4, kind, **kwargs).to(DT)  # type: ignore[arg-type]
    with torch.no_grad():
        for p in enc.parameters():
            p.normal_(0, 0.5)
    return enc


def pack(
    words: list[list[list[int]]], W: int, filler: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences of words of char ids -> chars (B, T, W) padded with `filler`, lengths (B, T)."""
    B, T = len(words), max(len(s) for s in words)
    chars = torch.full((B, T, W), filler, dtype=torch.long)
    lengths = torch.zeros(B, T, dtype=torch.long)
    for b, sentence in enumerate(words):
        for t, word in enumerate(sentence):
            chars[b, t, : len(word)] = torch.tensor(word)
            lengths[b, t] = len(word)
    return chars, lengths


SENTENCES = [[[3, 4, 5], [6], [7, 8, 9, 10, 11]], [[12, 13], [14, 15, 16, 17]]]


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_padding_words_are_zero(kind: str) -> None:
    enc = encoder(kind)
    chars, lengths = pack(SENTENCES, W=6)
    out = enc(chars, lengths)
    assert out.shape == (2, 3, enc.output_size)
    assert enc.output_size == (8 if kind == "lstm" else 4)
    assert torch.equal(out[1, 2], torch.zeros(enc.output_size, dtype=DT))  # padding word
    assert (out[0].abs().sum(-1) > 0).all() and torch.isfinite(out).all()


@pytest.mark.parametrize("kind", KINDS)
def test_a_word_feature_depends_only_on_its_own_characters(kind: str) -> None:
    enc = encoder(kind)
    batch = enc(*pack(SENTENCES, W=6))
    # garbage ids beyond each word, a wider W, and words taken out of their sentences
    wide = enc(*pack(SENTENCES, W=9, filler=29))
    torch.testing.assert_close(wide, batch)
    for b, sentence in enumerate(SENTENCES):
        for t, word in enumerate(sentence):
            alone = enc(*pack([[word]], W=len(word)))
            torch.testing.assert_close(alone[0, 0], batch[b, t])


def test_lstm_feature_is_the_final_states_of_a_torch_bidirectional_lstm() -> None:
    enc = encoder("lstm")
    assert enc.rnn is not None
    forward_cell, backward_cell = enc.rnn.cells
    ref = nn.LSTM(5, 4, bidirectional=True, batch_first=True).to(DT)
    with torch.no_grad():
        for suffix, cell in (("", forward_cell), ("_reverse", backward_cell)):
            getattr(ref, "weight_ih_l0" + suffix).copy_(cell.W_ax)
            getattr(ref, "weight_hh_l0" + suffix).copy_(cell.W_aa)
            getattr(ref, "bias_ih_l0" + suffix).copy_(cell.b_a)
            getattr(ref, "bias_hh_l0" + suffix).zero_()
    word = [3, 4, 5, 6]
    _, (h_n, _) = ref(enc.embedding(torch.tensor([word])))  # h_n (2, 1, 4)
    got = enc(*pack([[word]], W=4))
    torch.testing.assert_close(got[0, 0], torch.cat([h_n[0, 0], h_n[1, 0]]))


def test_cnn_feature_is_tanh_of_the_max_over_positions_of_the_convolution() -> None:
    enc = encoder("cnn", kernel_size=3)
    assert enc.conv is not None
    word = [3, 4, 5, 6, 7]
    x = enc.embedding(torch.tensor(word))  # (5, E)
    padded = torch.cat([torch.zeros(1, 5, dtype=DT), x, torch.zeros(1, 5, dtype=DT)])
    W, b = enc.conv.weight, enc.conv.bias  # (H, E, 3), (H,)
    assert b is not None
    filters = torch.stack(
        [
            W[:, :, 0] @ padded[p] + W[:, :, 1] @ padded[p + 1] + W[:, :, 2] @ padded[p + 2] + b
            for p in range(len(word))
        ]
    )  # (positions, H)
    expected = torch.tanh(filters.max(0).values)
    torch.testing.assert_close(enc(*pack([[word]], W=8))[0, 0], expected)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_parameter_and_padding_stays_clean(kind: str) -> None:
    enc = encoder(kind)
    chars, lengths = pack(SENTENCES, W=6, filler=29)
    out = enc(chars, lengths)
    (out**2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    emb_grad = enc.embedding.weight.grad
    assert emb_grad is not None
    assert torch.equal(emb_grad[29], torch.zeros(5, dtype=DT))  # the filler id is never read


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_check(kind: str) -> None:
    enc = encoder(kind, num_chars=9, char_dim=3)  # small: gradcheck perturbs every weight
    chars, lengths = pack([[[3, 4], [5, 6, 7]], [[8]]], W=3)
    x_weight = enc.embedding.weight.detach().clone().requires_grad_(True)

    def features(weight: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(enc, {"embedding.weight": weight}, (chars, lengths))

    assert torch.autograd.gradcheck(features, (x_weight,))


def test_all_padding_batch_and_bad_shapes() -> None:
    enc = encoder("lstm")
    out = enc(torch.zeros(2, 3, 4, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    assert torch.equal(out, torch.zeros(2, 3, 8, dtype=DT))
    with pytest.raises(ValueError, match=r"chars \(B, T, W\) and word_lengths \(B, T\)"):
        enc(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="kind"):
        CharEncoder(10, kind="gru")  # type: ignore[arg-type]
