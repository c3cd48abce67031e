"""The baseline of benchmarks/translate_tatoeba.py: a GRU encoder-decoder with additive
attention written in plain PyTorch, the way a practitioner writes one from the textbook
(Bahdanau et al. 2015; the PyTorch tutorial's attention decoder, batched).

- encoder: nn.Embedding -> bidirectional nn.GRU over packed sequences -> a<t'> (B, T_x, 2H)
- decoder: the previous state s<t-1> attends over a<t'> (v^T tanh(W s + U a), padding
  masked), [E y<t-1>; c<t>] -> nn.GRUCell -> s<t>; z<t> = W_o [s<t>; c<t>] + b_o
- first state tanh(W_b [a_fwd<T_x>; a_bwd<1>]); teacher forcing; Adam; gradient clipping
- greedy and batched beam search (length-normalised scores), batches of 64 sources

It shares nothing with rnnkit but the token ids (the same tokenisation and vocabularies, so
both systems see the same data).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

PAD, BOS, EOS = 0, 2, 3


class PlainSeq2Seq(nn.Module):
    def __init__(self, source_vocab: int, target_vocab: int, dim: int = 256, hidden: int = 256):
        super().__init__()
        self.hidden = hidden
        self.src_embed = nn.Embedding(source_vocab, dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(target_vocab, dim, padding_idx=PAD)
        self.encoder = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.W = nn.Linear(hidden, hidden, bias=False)
        self.U = nn.Linear(2 * hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.cell = nn.GRUCell(dim + 2 * hidden, hidden)
        self.out = nn.Linear(3 * hidden, target_vocab)

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        packed = pack_padded_sequence(
            self.src_embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, h = self.encoder(packed)
        a, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        s = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < lengths[:, None]
        return a, self.U(a), mask, s

    def step(self, y: Tensor, s: Tensor, a: Tensor, keys: Tensor, mask: Tensor):
        e = self.v(torch.tanh(self.W(s)[:, None, :] + keys)).squeeze(-1)
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)
        c = torch.bmm(alpha[:, None, :], a).squeeze(1)
        s = self.cell(torch.cat([self.tgt_embed(y), c], dim=-1), s)
        return self.out(torch.cat([s, c], dim=-1)), s

    def forward(self, src: Tensor, lengths: Tensor, tgt: Tensor) -> Tensor:
        """Mean cross-entropy over the real target tokens (teacher forcing)."""
        a, keys, mask, s = self.encode(src, lengths)
        y = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)
        logits = []
        for t in range(tgt.shape[1]):
            z, s = self.step(y, s, a, keys, mask)
            logits.append(z)
            y = tgt[:, t]
        z = torch.stack(logits, dim=1)
        return F.cross_entropy(z.flatten(0, 1), tgt.flatten(), ignore_index=PAD)

    @torch.no_grad()
    def greedy(self, src: Tensor, lengths: Tensor, max_len: int) -> list[list[int]]:
        a, keys, mask, s = self.encode(src, lengths)
        y = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros_like(y, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            z, s = self.step(y, s, a, keys, mask)
            y = z.argmax(-1)
            out.append(y)
            done |= y == EOS
            if done.all():
                break
        rows = torch.stack(out, dim=1).tolist()
        return [r[: r.index(EOS)] if EOS in r else r for r in rows]

    @torch.no_grad()
    def beam(self, src: Tensor, lengths: Tensor, max_len: int, k: int = 5) -> list[list[int]]:
        """Batched beam search; finished hypotheses ranked by log-probability / length."""
        B = src.shape[0]
        a, keys, mask, s = self.encode(src, lengths)
        rep = torch.arange(B).repeat_interleave(k)
        a, keys, mask, s = a[rep], keys[rep], mask[rep], s[rep]
        score = torch.full((B, k), float("-inf"))
        score[:, 0] = 0.0
        y = torch.full((B * k,), BOS, dtype=torch.long)
        history = torch.zeros(B * k, 0, dtype=torch.long)
        best: list[tuple[float, list[int]]] = [(float("-inf"), []) for _ in range(B)]
        for t in range(max_len):
            z, s = self.step(y, s, a, keys, mask)
            total = score[:, :, None] + F.log_softmax(z, -1).view(B, k, -1)
            top, index = total.view(B, -1).topk(2 * k, dim=-1)
            V = z.shape[-1]
            new_score = torch.full((B, k), float("-inf"))
            rows, tokens = [], []
            for b in range(B):
                kept = 0
                for value, i in zip(top[b].tolist(), index[b].tolist()):
                    parent, token = divmod(i, V)
                    if token == EOS:
                        norm = value / (t + 1)
                        if value > float("-inf") and norm > best[b][0]:
                            best[b] = (norm, history[b * k + parent].tolist())
                        continue
                    if kept < k:
                        new_score[b, kept] = value
                        rows.append(b * k + parent)
                        tokens.append(token)
                        kept += 1
                for pad in range(kept, k):
                    rows.append(b * k)
                    tokens.append(EOS)
            order = torch.tensor(rows)
            y = torch.tensor(tokens)
            s = s[order]
            history = torch.cat([history[order], y[:, None]], dim=1)
            score = new_score
            alive = score.max(dim=1).values / (t + 1)
            if all(best[b][0] >= alive[b].item() for b in range(B)):
                break
        for b in range(B):
            if best[b][0] == float("-inf"):
                best[b] = (0.0, history[b * k].tolist())
        return [tokens for _, tokens in best]


def batches(pairs: Sequence[tuple[Tensor, Tensor]], size: int, rng: random.Random):
    """Shuffled batches of similar source lengths (sorted within chunks of 100 batches)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunk = size * 100
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(pairs[i][0]))
        groups = [part[i : i + size] for i in range(0, len(part), size)]
        rng.shuffle(groups)
        for group in groups:
            src = [pairs[i][0] for i in group]
            tgt = [pairs[i][1] for i in group]
            lengths = torch.tensor([len(x) for x in src])
            yield (
                pad_sequence(src, batch_first=True, padding_value=PAD),
                lengths,
                pad_sequence(tgt, batch_first=True, padding_value=PAD),
            )


def train(
    model: PlainSeq2Seq,
    pairs: Sequence[tuple[Tensor, Tensor]],
    seconds: float,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """Adam with clipping until `seconds` of training have passed (checked every step)."""
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start, steps, epochs = time.perf_counter(), 0, 0.0
    model.train()
    while True:
        for n, (src, lengths, tgt) in enumerate(batches(pairs, batch_size, rng), 1):
            loss = model(src, lengths, tgt)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
            if time.perf_counter() - start >= seconds:
                epochs += n * batch_size / len(pairs)
                model.eval()
                return {"steps": steps, "epochs": epochs, "seconds": time.perf_counter() - start}
        epochs += 1
