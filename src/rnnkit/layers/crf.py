"""A linear-chain conditional random field (CRF) as the output layer of a sequence tagger.

A tagger that applies a softmax at every step chooses each y<t> on its own, so nothing stops
it from predicting `O I-PER` (an entity that never began). A CRF scores whole tag sequences:
the recurrent network supplies emission scores e<t>[y] (its per-step logits) and the CRF adds
learned transition scores between neighbouring tags,

    s(x, y) = start[y<1>] + sum_{t=1..T} e<t>[y<t>] + sum_{t=2..T} A[y<t-1>, y<t>] + end[y<T>]
    p(y | x) = exp(s(x, y)) / Z(x),      Z(x) = sum over all C^T tag sequences y' of exp(s(x, y'))

Training maximises log p(y | x) = s(x, y) - log Z(x). log Z is computed by the forward
algorithm in log space, one step per time step, batched over the B sentences:

    alpha<1>[j] = start[j] + e<1>[j]
    alpha<t>[j] = logsumexp_i(alpha<t-1>[i] + A[i, j]) + e<t>[j]
    log Z       = logsumexp_j(alpha<T>[j] + end[j])

and the best sequence argmax_y s(x, y) by the Viterbi algorithm: the same recursion with max
in place of logsumexp, remembering the argmax i of every step and reading it back from the end.

Shapes: emissions (B, T, C), tags (B, T) int64, mask (B, T) bool. The mask must be True on a
prefix of each row (a sentence's real tokens first, then padding) and True at t = 0. Padded
steps leave alpha unchanged, so the results do not depend on how much padding there is; tags
at padded steps are ignored (the -100 that `rnnkit.data.batching` pads targets with is fine).

With zero transitions (the initial values) the CRF factorises: log p(y | x) is the sum over
t of log softmax(e<t>)[y<t>], exactly the per-step cross-entropy tagger, and Viterbi is the
per-step argmax. Training then learns what the transitions add.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CRF(nn.Module):
    """Linear-chain CRF over C tags (see the module docstring for the equations).

    Parameters: transitions A (C, C) with A[i, j] the score of tag j following tag i, start
    (C,) and end (C,); all start at zero.

    constraints: optional bool masks (allowed (C, C), start (C,), end (C,)), True where tag j
    may follow tag i, begin a sentence, end a sentence. They are plain data: the layer knows
    nothing of tag schemes, and `rnnkit.data.tags.transition_constraints(tag_names)` builds
    them from tag strings. They are applied in decoding only: Viterbi searches the allowed
    sequences, while the likelihood keeps normalising over all C^T sequences (gold sequences
    are valid, so training just learns low scores for the invalid transitions; the
    constraint guarantees them at prediction time). They are configuration, not learned
    state: they are kept out of `state_dict` and must be given again when the model is
    rebuilt.

    With zero transitions (as initialised) Viterbi is the per-step argmax:

    >>> crf = CRF(2)
    >>> crf.decode(torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.0, 0.5]]]), torch.ones(1, 3).bool())
    [[1, 0, 1]]
    """

    allowed: Tensor  # (C, C) bool buffers: the constraints' masks
    allowed_start: Tensor  # (C,)
    allowed_end: Tensor  # (C,)

    def __init__(self, num_tags: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"a CRF needs at least one tag, got num_tags={num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # A, (C, C)
        self.start = nn.Parameter(torch.zeros(num_tags))  # (C,)
        self.end = nn.Parameter(torch.zeros(num_tags))  # (C,)
        self.constrained = constraints is not None
        if constraints is None:
            constraints = (
                torch.ones(num_tags, num_tags, dtype=torch.bool),
                torch.ones(num_tags, dtype=torch.bool),
                torch.ones(num_tags, dtype=torch.bool),
            )
        allowed, start, end = constraints
        for name, value, shape in zip(
            ("allowed", "start", "end"),
            (allowed, start, end),
            [(num_tags, num_tags), (num_tags,), (num_tags,)],
        ):
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"constraints.{name} has shape {tuple(value.shape)}, expected {shape}"
                )
        self.register_buffer("allowed", allowed.bool().clone(), persistent=False)
        self.register_buffer("allowed_start", start.bool().clone(), persistent=False)
        self.register_buffer("allowed_end", end.bool().clone(), persistent=False)

    # ------------------------------------------------------------------ likelihood

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """s(x, y) of the given tag sequences: (B, T, C), (B, T), (B, T) -> (B,)."""
        self._check(emissions, mask, tags)
        tags = tags.masked_fill(~mask, 0)  # padding may hold -100 (the batches' target pad)
        m = mask.to(emissions.dtype)  # (B, T)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # e<t>[y<t>], (B, T)
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # A[y<t-1>, y<t>], (B, T-1)
        last = mask.long().sum(1) - 1  # index of each sentence's last real step, (B,)
        last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)  # (B,)
        return (
            self.start[tags[:, 0]]
            + (emitted * m).sum(1)
            + (moved * m[:, 1:]).sum(1)
            + self.end[last_tags]
        )  # (B,)

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z(x) by the forward algorithm: (B, T, C), (B, T) -> (B,)."""
        self._check(emissions, mask)
        T = emissions.shape[1]
        alpha = self.start + emissions[:, 0]  # (B, C)
        for t in range(1, T):
            # alpha[b, i] + A[i, j], summed out over the previous tag i
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1)  # (B, C)
            alpha = torch.where(mask[:, t, None], step + emissions[:, t], alpha)  # (B, C)
        return torch.logsumexp(alpha + self.end, dim=1)  # (B,)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The same as `log_likelihood`: (B, T, C), (B, T), (B, T) -> (B,)."""
        return self.log_likelihood(emissions, tags, mask)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """log p(y | x) = s(x, y) - log Z(x), one value per sentence: -> (B,)."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """-log p(y | x) per sentence, (B,): the loss. Sum it and divide by `mask.sum()` to
        normalise per real token as the rest of rnnkit does."""
        return -self.log_likelihood(emissions, tags, mask)

    # ------------------------------------------------------------------ decoding

    def viterbi(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The best tag sequences and their scores: (B, T, C), (B, T) -> (B, T) int64, (B,).

        Padded positions of the returned tags repeat the last real tag; `decode` cuts them.
        With constraints the best *allowed* sequence is returned.
        """
        self._check(emissions, mask)
        B, T, C = emissions.shape
        forbidden = float("-inf")
        transitions = self.transitions.masked_fill(~self.allowed, forbidden)  # (C, C)
        start = self.start.masked_fill(~self.allowed_start, forbidden)  # (C,)
        end = self.end.masked_fill(~self.allowed_end, forbidden)  # (C,)

        delta = start + emissions[:, 0]  # best score of a path ending in each tag, (B, C)
        keep = torch.arange(C, device=emissions.device).expand(B, C)  # identity pointers
        pointers = []
        for t in range(1, T):
            best, best_prev = (delta.unsqueeze(2) + transitions).max(dim=1)  # (B, C) each
            real = mask[:, t, None]  # (B, 1)
            delta = torch.where(real, best + emissions[:, t], delta)  # (B, C)
            pointers.append(torch.where(real, best_prev, keep))  # padded steps point to self
        score, tag = (delta + end).max(dim=1)  # (B,) each
        path = [tag]
        for back in reversed(pointers):
            tag = back.gather(1, tag.unsqueeze(1)).squeeze(1)  # (B,)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1), score  # (B, T), (B,)

    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The best tag sequence of each sentence, as lists of tag ids of its own length."""
        tags, _ = self.viterbi(emissions, mask)
        lengths = mask.long().sum(1).tolist()
        return [row[:n] for row, n in zip(tags.tolist(), lengths)]

    # ------------------------------------------------------------------ helpers

    def _check(self, emissions: Tensor, mask: Tensor, tags: Tensor | None = None) -> None:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"expected emissions of shape (B, T, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        if emissions.shape[1] == 0:
            raise ValueError("expected at least one time step (T >= 1)")
        if tuple(mask.shape) != tuple(emissions.shape[:2]):
            raise ValueError(
                f"expected mask of shape {tuple(emissions.shape[:2])} (B, T), got "
                f"{tuple(mask.shape)}"
            )
        if tags is not None and tuple(tags.shape) != tuple(emissions.shape[:2]):
            raise ValueError(
                f"expected tags of shape {tuple(emissions.shape[:2])} (B, T), got "
                f"{tuple(tags.shape)}"
            )

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}, constrained={self.constrained}"
