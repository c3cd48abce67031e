"""Decoding the encoder-decoder: greedy and beam search, padding-invariant, beam 1 = greedy, a
beam that beats greedy, scores that are log-probabilities, and copying unknown words."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from test_seq2seq import tiny
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.models import Seq2Seq
from rnnkit.models.decoder import DecoderState, Memory, StepOutput
from rnnkit.models.decoding import beam_decode, greedy_decode, replace_unknowns
from rnnkit.models.seq2seq import collate_pairs

BOS, EOS = 2, 3
SOURCES = [[4, 5, 6, 7, 8], [9, 10], [11, 4, 5], [6], [7, 8, 9, 10]]


def model_of(eos_bias: float = 0.0, **overrides: Any) -> Seq2Seq:
    torch.manual_seed(0)
    config = tiny(**{"max_length_ratio": 1.5, "max_length_offset": 2, **overrides})
    model = Seq2Seq(config).double()
    with torch.no_grad():
        model.decoder.head.b_y[EOS] += eos_bias  # so that some hypotheses end before the limit
    return model


def batch_of(sources: list[list[int]]) -> Any:
    return collate_pairs([(torch.tensor(s), None) for s in sources])


@pytest.mark.parametrize("overrides", [{}, {"cell": "lstm", "attention": "general"}])
def test_batched_greedy_equals_one_by_one(overrides: dict[str, Any]) -> None:
    model = model_of(eos_bias=1.0, **overrides)
    batched = model.greedy(batch_of(SOURCES))
    alone = [model.greedy(torch.tensor([s]))[0] for s in SOURCES]
    assert batched == alone
    assert any(len(out) < int(1.5 * len(s)) + 2 for out, s in zip(batched, SOURCES))


def test_batched_beam_search_equals_one_by_one() -> None:
    model = model_of(eos_bias=1.0)
    batched = model.beam_search(batch_of(SOURCES), beam=3, return_attention=True)
    for b, source in enumerate(SOURCES):
        alone = model.beam_search(torch.tensor([source]), beam=3, return_attention=True)
        assert alone.tokens[0] == batched.tokens[b]
        assert alone.scores[0] == pytest.approx(batched.scores[b])
        assert alone.attention is not None and batched.attention is not None
        torch.testing.assert_close(alone.attention[0], batched.attention[b])


def test_outputs_stop_at_the_length_limit() -> None:
    model = model_of(eos_bias=-50.0)  # never ends by itself
    outputs = model.greedy(batch_of(SOURCES))
    assert [len(o) for o in outputs] == [int(1.5 * len(s)) + 2 for s in SOURCES]
    assert [len(o) for o in model.greedy(batch_of(SOURCES), max_len=3)] == [3] * len(SOURCES)
    beams = model.beam_search(batch_of(SOURCES), beam=2, max_len=4).tokens
    assert [len(o) for o in beams] == [4] * len(SOURCES)
    assert all(EOS not in o for o in outputs)


@pytest.mark.parametrize("overrides", [{}, {"cell": "lstm", "attention": "none"}])
def test_beam_of_one_is_greedy(overrides: dict[str, Any]) -> None:
    if overrides.get("attention") == "none":
        overrides = {**overrides, "input_feeding": False}
    model = model_of(eos_bias=0.5, **overrides)
    batch = batch_of(SOURCES)
    assert model.beam_search(batch, beam=1).tokens == model.greedy(batch)


def test_generate_is_greedy_or_the_best_beam() -> None:
    model = model_of(eos_bias=0.5)
    batch = batch_of(SOURCES)
    assert model.generate(batch) == model.greedy(batch)
    best = model.beam_search(batch, beam=3, length_penalty=0.5).tokens
    assert model.generate(batch, beam=3, length_penalty=0.5) == [list(t) for t in best]
    with pytest.raises(RnnkitError, match="--beam"):
        model.generate(batch, beam=0)


def test_beam_score_is_the_log_probability_of_its_tokens() -> None:
    model = model_of(eos_bias=1.5)
    result = model.beam_search(batch_of(SOURCES), beam=4, length_penalty=0.0, max_len=20)
    for source, tokens, score in zip(SOURCES, result.tokens, result.scores):
        assert len(tokens) < 20  # ended by <eos>, which the score includes
        out = model.eval()(collate_pairs([(torch.tensor(source), torch.tensor([*tokens, EOS]))]))
        assert out.loss is not None
        assert score == pytest.approx(-out.loss.item() * int(out.count))


def test_attention_of_the_best_hypothesis() -> None:
    model = model_of(eos_bias=1.0)
    result = model.beam_search(batch_of(SOURCES), beam=3, return_attention=True)
    assert result.attention is not None
    for source, tokens, alpha in zip(SOURCES, result.tokens, result.attention):
        assert alpha.shape == (len(tokens), len(source))
        torch.testing.assert_close(alpha.sum(-1), torch.ones(len(tokens), dtype=alpha.dtype))
    no_attention = model_of(attention="none", input_feeding=False)
    with pytest.raises(RnnkitError, match="attention"):
        no_attention.beam_search(batch_of(SOURCES), return_attention=True)


class BigramDecoder:
    """A decoder whose next-token distribution depends on the previous token only."""

    def __init__(self, table: dict[int, dict[int, float]], vocab: int = 7):
        probs = torch.full((vocab, vocab), 1e-9, dtype=torch.float64)
        for prev, row in table.items():
            for token, p in row.items():
                probs[prev, token] = p
        self.logp = torch.log_softmax(probs.log(), dim=-1)  # (V, V) log P(y | y_prev)

    def step(self, y_prev: Tensor, state: DecoderState, memory: Memory) -> StepOutput:
        return StepOutput(self.logp[y_prev], state, None)


def trap() -> BigramDecoder:
    """Greedy takes A (0.55) and is then stuck at 0.4; B (0.45) ends almost surely."""
    A, B, C = 4, 5, 6
    return BigramDecoder(
        {
            BOS: {A: 0.55, B: 0.45},
            A: {C: 0.4, B: 0.3, EOS: 0.3},
            B: {EOS: 0.95, C: 0.05},
            C: {EOS: 1.0},
        }
    )


def start(batch: int) -> tuple[Memory, DecoderState]:
    memory = Memory(torch.zeros(batch, 2, 1), torch.ones(batch, 2, dtype=torch.bool), None)
    state = DecoderState((torch.zeros(batch, 1),), torch.zeros(batch, 1))
    return memory, state


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_finds_what_greedy_misses(length_penalty: float) -> None:
    decoder = trap()
    memory, state = start(2)
    limits = torch.tensor([10, 10])
    assert greedy_decode(decoder, memory, state, limits, BOS, EOS) == [[4, 6], [4, 6]]
    found = beam_decode(decoder, memory, state, limits, BOS, EOS, 2, length_penalty)
    assert found.tokens == [[5], [5]]
    lp = decoder.logp
    want = float(lp[BOS, 5] + lp[5, EOS])  # log 0.45 + log 0.95
    assert found.scores == pytest.approx([want, want])
    greedy_score = float(lp[BOS, 4] + lp[4, 6] + lp[6, EOS])
    assert want > greedy_score
    one = beam_decode(decoder, memory, state, limits, BOS, EOS, 1, length_penalty)
    assert one.tokens == [[4, 6], [4, 6]]
    assert one.scores[0] == pytest.approx(greedy_score)


def test_length_penalty_decides_between_short_and_long() -> None:
    # A <eos>: 0.6 * 0.6 = 0.36 over 2 tokens;  B C D <eos>: 0.4 * 0.8**3 = 0.2048 over 4.
    # Raw log-probability prefers the short one, the mean per token (alpha = 1) the long one.
    A, B, C, D = 4, 5, 6, 1
    decoder = BigramDecoder(
        {
            BOS: {A: 0.6, B: 0.4},
            A: {EOS: 0.6, C: 0.4},
            B: {C: 0.8, A: 0.2},
            C: {D: 0.8, A: 0.2},
            D: {EOS: 0.8, A: 0.2},
        }
    )
    memory, state = start(1)
    limits = torch.tensor([10])
    raw = beam_decode(decoder, memory, state, limits, BOS, EOS, 3, length_penalty=0.0)
    assert raw.tokens == [[A]]
    assert raw.scores[0] == pytest.approx(math.log(0.36), rel=1e-5)
    mean = beam_decode(decoder, memory, state, limits, BOS, EOS, 3, length_penalty=1.0)
    assert mean.tokens == [[B, C, D]]
    assert mean.scores[0] == pytest.approx(math.log(0.4 * 0.8**3), rel=1e-5)  # not divided


def test_replace_unknowns_copies_the_attended_source_word() -> None:
    source = ["Voulez-vous", "chanter", "avec", "Édith", "?"]
    output = ["Do", "you", "want", "to", "sing", "with", "<unk>", "?"]
    alpha = torch.full((8, 5), 0.1)
    alpha[6, 3] = 0.6  # the <unk> looked at "Édith"
    alpha[7, 4] = 0.6
    assert replace_unknowns(output, source, alpha)[6] == "Édith"
    assert replace_unknowns(output, source, alpha)[:6] == output[:6]
    with pytest.raises(ValueError, match="T_y, T_x"):
        replace_unknowns(output, source, alpha[:, :4])


def test_decoding_options_are_checked() -> None:
    model = model_of()
    with pytest.raises(RnnkitError, match="--beam"):
        model.beam_search(batch_of(SOURCES), beam=0)
    with pytest.raises(RnnkitError, match="--max-len"):
        model.greedy(batch_of(SOURCES), max_len=0)
    with pytest.raises(RnnkitError, match="--length-penalty"):
        model.beam_search(batch_of(SOURCES), length_penalty=-1.0)
    assert model.training  # decoding restores the mode it found


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_the_gpu_as_on_the_cpu() -> None:
    model = model_of(eos_bias=1.0)
    batch = batch_of(SOURCES)
    greedy = model.greedy(batch)
    beams = model.beam_search(batch, beam=3, return_attention=True)
    model.to("cuda")
    assert model.greedy(batch) == greedy  # a CPU batch is moved to the model's device
    on_gpu = model.beam_search(batch.to("cuda"), beam=3, return_attention=True)
    assert on_gpu.tokens == beams.tokens
    assert on_gpu.scores == pytest.approx(beams.scores)
    assert on_gpu.attention is not None and on_gpu.attention[0].device.type == "cuda"
    pairs = [(torch.tensor(s), torch.tensor([4, 5, EOS])) for s in SOURCES]
    loss = model.train()(collate_pairs(pairs).to("cuda")).loss
    assert loss is not None and loss.device.type == "cuda"
    loss.backward()
