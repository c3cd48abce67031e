"""Decoding an encoder-decoder: greedy search, batched beam search, and copying unknown words
from the source by attention.

Both searches run the decoder from y<0> = <bos> one position at a time, on the decoder's
device, for every source of the batch at once. A hypothesis ends at <eos> or after its
source's `limit` tokens (`Seq2Seq` sets limit = floor(max_length_ratio * T_x) +
max_length_offset, or max_len); the returned id sequences never include <eos>.

Beam search keeps the K best hypotheses of each source by their log-probability
log P(y<1..t> | x) = sum_t log P(y<t> | y<1..t-1>, x). A finished hypothesis stays in its beam
with its score frozen (it continues only with a free <eos> that adds nothing), so the search
needs no lists of finished hypotheses and stays one tensor program. At the end the best of
the K is the one with the highest length-normalised score

    score / n ** alpha      n = its number of tokens, <eos> included; alpha = length_penalty

(alpha = 0: raw log-probability, which favours short outputs; alpha = 1: mean log-probability
per token). With K = 1 beam search is greedy search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from rnnkit.models.decoder import DecoderState, Memory, StepOutput


class StepDecoder(Protocol):
    """What the searches call: one decoder step (`AttentionDecoder.step`)."""

    def step(self, y_prev: Tensor, state: DecoderState, memory: Memory) -> StepOutput: ...


class Hypotheses(NamedTuple):
    """Beam search's result, one entry per source, in the batch's order."""

    tokens: list[list[int]]  # the best hypothesis's ids, without <eos>
    scores: list[float]  # its log-probability: sum of log P of its tokens, <eos> included
    attention: list[Tensor] | None  # alpha (T_y, T_x) of its tokens (<eos> not), when asked


def _cut(rows: list[list[int]], eos: int, limits: list[int]) -> list[list[int]]:
    """Each row up to its first <eos> (excluded) and at most its limit."""
    out = []
    for row, limit in zip(rows, limits):
        row = row[:limit]
        out.append(row[: row.index(eos)] if eos in row else row)
    return out


@torch.no_grad()
def greedy_decode(
    decoder: StepDecoder, memory: Memory, state: DecoderState, limits: Tensor, bos: int, eos: int
) -> list[list[int]]:
    """ŷ<t> = argmax_y P(y | ŷ<1..t-1>, x) at every step. limits: (B,) int64, the most tokens
    of each output (<eos> not counted)."""
    B = limits.shape[0]
    y = torch.full((B,), bos, dtype=torch.long, device=limits.device)
    finished = torch.zeros(B, dtype=torch.bool, device=limits.device)
    steps = []
    for t in range(int(limits.max())):
        logits, state, _ = decoder.step(y, state, memory)
        y = logits.argmax(-1)  # (B,)
        steps.append(y)
        finished = finished | (y == eos) | (limits <= t + 1)
        if bool(finished.all()):  # one synchronisation per step, to stop early
            break
    rows = torch.stack(steps, dim=1).tolist()  # (B, steps)
    return _cut(rows, eos, limits.tolist())


class _Beams(NamedTuple):
    """The search's record: at each step t, the token each of the K slots took and the slot
    it came from, and the attention of that origin slot. Read backwards, it spells every
    hypothesis."""

    tokens: list[Tensor]  # (B, K) per step
    origins: list[Tensor]  # (B, K) per step
    alphas: list[Tensor]  # (B, K, T_x) per step, when attention is recorded


@torch.no_grad()
def beam_decode(
    decoder: StepDecoder,
    memory: Memory,
    state: DecoderState,
    limits: Tensor,
    bos: int,
    eos: int,
    beam: int = 5,
    length_penalty: float = 1.0,
    return_attention: bool = False,
) -> Hypotheses:
    """Batched beam search (see the module docstring). limits: (B,) int64, the most tokens of
    each output (<eos> not counted). return_attention needs a decoder with attention."""
    B, K, device = limits.shape[0], beam, limits.device
    memory = memory.select(torch.arange(B, device=device).repeat_interleave(K))  # (B*K, ...)
    state = state.select(torch.arange(B, device=device).repeat_interleave(K))
    scores = torch.full((B, K), float("-inf"), dtype=memory.a.dtype, device=device)
    scores[:, 0] = 0.0  # the K copies of <bos> are one hypothesis
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    length = torch.zeros(B, K, dtype=torch.long, device=device)
    y = torch.full((B * K,), bos, dtype=torch.long, device=device)
    record = _Beams([], [], [])
    base = (torch.arange(B, device=device) * K)[:, None]  # (B, 1) first slot of each source
    for t in range(int(limits.max())):
        logits, state, alpha = decoder.step(y, state, memory)
        logp = torch.log_softmax(logits.to(scores.dtype), dim=-1).view(B, K, -1)  # (B, K, V)
        V = logp.shape[-1]
        frozen = torch.full((V,), float("-inf"), dtype=scores.dtype, device=device)
        frozen[eos] = 0.0  # a finished hypothesis continues with a free <eos>
        logp = torch.where(finished[..., None], frozen, logp)
        scores, flat = (scores[..., None] + logp).view(B, K * V).topk(K, dim=-1)  # (B, K)
        origin, token = flat // V, flat % V
        was_finished = finished.gather(1, origin)
        length = length.gather(1, origin) + (~was_finished).long()
        finished = was_finished | (token == eos) | (limits <= t + 1)[:, None]
        record.tokens.append(token)
        record.origins.append(origin)
        if return_attention:
            if alpha is None:
                raise ValueError("return_attention: this decoder has no attention")
            record.alphas.append(alpha.view(B, K, -1))
        index = (base + origin).view(-1)  # (B*K,)
        state = state.select(index)
        y = token.view(-1)
        if bool(finished.all()):  # one synchronisation per step, to stop early
            break
    normalised = scores / length.clamp(min=1).to(scores.dtype) ** length_penalty
    best = normalised.argmax(dim=-1)  # (B,)
    tokens, attention = _backtrack(record, best)
    rows = _cut(tokens.tolist(), eos, limits.tolist())
    best_scores = scores.gather(1, best[:, None]).squeeze(1).tolist()
    weights = None
    if return_attention and attention is not None:
        source_lengths = memory.mask.view(B, K, -1)[:, 0].sum(-1).tolist()
        weights = [
            attention[b, : len(row), : source_lengths[b]] for b, row in enumerate(rows)
        ]  # each (T_y, T_x)
    return Hypotheses(rows, best_scores, weights)


def _backtrack(record: _Beams, best: Tensor) -> tuple[Tensor, Tensor | None]:
    """The tokens (B, S) of slot `best` (B,) at the last step, and their attention
    (B, S, T_x) when recorded, by following the origins back from the last step."""
    k = best[:, None]  # (B, 1)
    tokens, alphas = [], []
    rows = torch.arange(best.shape[0], device=best.device)
    for t in reversed(range(len(record.tokens))):
        tokens.append(record.tokens[t].gather(1, k))  # (B, 1)
        k = record.origins[t].gather(1, k)  # the slot this token was appended to
        if record.alphas:
            alphas.append(record.alphas[t][rows, k[:, 0]])  # (B, T_x)
    token_steps = torch.cat(tokens[::-1], dim=1)  # (B, S)
    attention = torch.stack(alphas[::-1], dim=1) if alphas else None  # (B, S, T_x)
    return token_steps, attention


def replace_unknowns(
    output: Sequence[str], source: Sequence[str], attention: Tensor, unk: str = "<unk>"
) -> list[str]:
    """Copy unknown words from the source: each `unk` in `output` becomes the source token the
    attention weighted most at that step (names, numbers, rare words pass through).

    output: the T_y translated tokens; source: the T_x source tokens; attention: (T_y, T_x)
    alpha of those tokens (`Seq2Seq.beam_search(..., return_attention=True)`).
    """
    if tuple(attention.shape) != (len(output), len(source)):
        raise ValueError(
            f"expected attention of shape (T_y, T_x) = {(len(output), len(source))}, "
            f"got {tuple(attention.shape)}"
        )
    aligned = attention.argmax(dim=-1).tolist()  # (T_y,) source position per output token
    return [source[j] if token == unk else token for token, j in zip(output, aligned)]
