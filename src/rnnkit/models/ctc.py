"""Connectionist temporal classification (CTC, Graves et al. 2006): the loss, best-path and
prefix beam search decoding, and forced alignment.

A CTC model reads T frames and gives at every frame t a distribution y<t> over C classes: the
labels and one extra *blank* (index `blank`, 0 by default). A path π = (π<1>, ..., π<T>) picks
one class per frame; the collapsing map 𝓑 merges each run of equal classes into one and then
deletes the blanks:

    𝓑(a a - a b b -) = (a, a, b)          (- is the blank)

so two equal labels in a row need a blank between them on the path. Frames are independent
given the input x, and a label sequence l sums the probability of all its paths (alignments):

    P(l | x) = sum_{π : 𝓑(π) = l} prod_t y<t>[π<t>]

A path for l with S labels, r of which equal their left neighbour, needs T >= S + r frames.

Shapes: B batch, T frames, C classes (blank included), S target symbols.

    log_probs      (B, T, C) log-softmax outputs, batch-first like everything in rnnkit
                   (`torch.nn.functional.ctc_loss` wants (T, B, C); the transpose is done here)
    frame_lengths  (B,) real frames T_b of each utterance; frames t >= T_b are ignored
    targets        (B, S) label ids padded at the end (any padding value); target_lengths (B,)

Loss normalisation: per target symbol. `ctc_loss` sums the per-utterance negative
log-likelihoods over the batch and divides by the number of target symbols N = sum_b S_b,

    loss = (1 / N) * sum_b -log P(l_b | x_b)

the CTC counterpart of the library's per-real-step convention (`rnnkit.models.losses`): a batch
of long transcripts and one of short transcripts weigh the same per symbol. An utterance whose
target cannot be aligned (T_b < S_b + r_b) has P = 0; it adds 0 to the sum instead of infinity
(PyTorch's `zero_infinity`), and its symbols still count in N. `ctc_nll` gives the
per-utterance -log P(l_b | x_b) itself.

Decoders (no language model), each returning one `CTCHypothesis` per utterance:

    ctc_greedy       best path: argmax class per frame, collapsed by 𝓑
    ctc_prefix_beam  prefix beam search: the label sequence with the highest P(l | x) among
                     those a beam of K prefixes keeps (the steps are in its docstring)
    ctc_align        Viterbi forced alignment of a given label sequence: the best single path
                     for it, and the first frame of each label on that path
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class CTCHypothesis:
    """One decoded utterance. The score is a log-probability: `ctc_greedy`'s of its best path,
    `ctc_prefix_beam`'s of its label sequence summed over the alignments the beam kept."""

    labels: list[int]  # the label sequence l (no blanks)
    frames: list[int]  # the frame where each label is emitted (first frame of its run)
    score: float  # log-probability (greedy: of the best path; beam: of the prefix)


def ctc_nll(
    log_probs: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    blank: int = 0,
    zero_infinity: bool = False,
) -> Tensor:
    """-log P(l_b | x_b) of each utterance, (B,), by `torch.nn.functional.ctc_loss`.

    log_probs: (B, T, C) log-softmax outputs;  frame_lengths: (B,);  targets: (B, S) padded;
    target_lengths: (B,). An utterance that cannot be aligned gets +inf, or 0 with
    `zero_infinity=True` (then its gradient is 0 too).

    The gradient that PyTorch's kernel returns for `log_probs` is exp(log_probs) minus the
    posterior of each class, which is the true gradient only after it flows back through the
    log_softmax that made `log_probs`: compute them inside the graph, from logits.
    """
    _check_targets("ctc_nll", log_probs, frame_lengths, targets, target_lengths, blank)
    if log_probs.dtype not in (torch.float32, torch.float64):
        log_probs = log_probs.float()  # the CPU kernel has no bfloat16/float16 version
    safe_targets = targets.masked_fill(~_real(targets, target_lengths), blank)  # (B, S) valid
    return F.ctc_loss(
        log_probs.transpose(0, 1),  # (T, B, C), PyTorch's layout
        safe_targets.long(),
        frame_lengths.long(),
        target_lengths.long(),
        blank=blank,
        reduction="none",
        zero_infinity=zero_infinity,
    )  # (B,)


def ctc_loss(
    log_probs: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    blank: int = 0,
) -> Tensor:
    """CTC loss normalised per target symbol: sum_b -log P(l_b | x_b) / sum_b S_b, a scalar.

    log_probs: (B, T, C) log-softmax outputs;  frame_lengths: (B,);  targets: (B, S) label ids
    padded at the end;  target_lengths: (B,) S_b. Utterances that cannot be aligned add 0
    (zero_infinity); a batch whose targets are all empty is divided by 1. The matching count
    for count-weighted averaging is `target_lengths.sum()`. See the module docstring.
    """
    nll = ctc_nll(log_probs, frame_lengths, targets, target_lengths, blank, zero_infinity=True)
    symbols = target_lengths.sum().clamp(min=1).to(nll.dtype)
    return nll.sum() / symbols


@torch.no_grad()
def ctc_greedy(log_probs: Tensor, frame_lengths: Tensor, blank: int = 0) -> list[CTCHypothesis]:
    """Best-path decoding: π*<t> = argmax_c y<t>[c] on every real frame, l = 𝓑(π*).

    log_probs: (B, T, C);  frame_lengths: (B,). The score is log P(π*) = sum_t max_c
    log y<t>[c], the probability of that one path, not of l (which sums over all of l's paths
    and is at least as large). Ties go to the lowest class index.
    """
    _check_log_probs("ctc_greedy", log_probs, frame_lengths, blank)
    path = log_probs.detach().argmax(dim=-1)  # (B, T) argmax: the first of equal maxima
    best = log_probs.detach().gather(-1, path[..., None]).squeeze(-1)  # (B, T) log y<t>[π*<t>]
    path, best = path.cpu(), best.to("cpu", torch.float64)
    hypotheses = []
    for b, n in enumerate(frame_lengths.tolist()):
        labels, frames = _collapse(path[b, :n].tolist(), blank)
        hypotheses.append(CTCHypothesis(labels, frames, float(best[b, :n].sum())))
    return hypotheses


def _collapse(path: list[int], blank: int) -> tuple[list[int], list[int]]:
    """𝓑(path), and the frame where each kept label's run starts."""
    labels, frames = [], []
    previous = blank
    for t, c in enumerate(path):
        if c != blank and c != previous:
            labels.append(c)
            frames.append(t)
        previous = c
    return labels, frames


@torch.no_grad()
def ctc_prefix_beam(
    log_probs: Tensor, frame_lengths: Tensor, beam: int = 8, blank: int = 0
) -> list[CTCHypothesis]:
    """Prefix beam search: the most probable label sequence among the prefixes a beam keeps.

    log_probs: (B, T, C);  frame_lengths: (B,);  beam: K, the prefixes kept after each frame.

    Each kept prefix ℓ carries two log-probabilities over the frames read so far: p_b(ℓ), of
    its paths that end in a blank, and p_nb(ℓ), of those that end in ℓ's last label e; its
    probability is P(ℓ) = p_b(ℓ) + p_nb(ℓ) (all sums are log-sum-exp here). Before any frame
    only the empty prefix exists, with p_b = 1. Frame t with y = y<t> gives

        stay:    p_b'(ℓ)    += P(ℓ) y[blank]
                 p_nb'(ℓ)   += p_nb(ℓ) y[e]         e again continues the same run
        extend:  p_nb'(ℓ+c) += P(ℓ) y[c]            c != blank, c != e
                 p_nb'(ℓ+e) += p_b(ℓ) y[e]          a repeated label needs a blank in between

    and an extension equal to a kept prefix adds to that prefix (ℓ+c is one prefix, however
    it was reached). The K most probable prefixes are kept (ties: kept prefixes before
    extensions, then by parent rank and label); after the last frame the best one is returned.

    The score is log of P(l) summed over the paths the beam kept: at most log P(l | x), and
    equal to it when no prefix of l was pruned, which is certain when K is at least the number
    of distinct prefixes (e.g. K >= sum_{s <= T} (C - 1)^s). The frames are those of
    `ctc_align(l)`, the best single path for l.

    With beam=1 the search keeps one prefix and at each frame moves to its best extension only
    when that beats staying, with staying summing the blank and the repeated label. This is
    not `ctc_greedy`: greedy follows the best class per frame, so with y<2> = (blank .34,
    a .30, b .36) after "a", greedy says "ab" where beam=1 stays on "a" (.64 > .36).
    """
    _check_log_probs("ctc_prefix_beam", log_probs, frame_lengths, blank)
    if beam < 1:
        raise ValueError(f"ctc_prefix_beam: beam must be at least 1, got {beam}")
    y = log_probs.detach().to("cpu", torch.float64).numpy()  # (B, T, C)
    hypotheses = []
    for b, n in enumerate(frame_lengths.tolist()):
        labels, score = _prefix_beam_one(y[b, :n], beam, blank)
        frames = _viterbi_first_frames(y[b, :n], labels, blank) if labels else []
        hypotheses.append(CTCHypothesis(labels, frames, score))
    return hypotheses


def _prefix_beam_one(y: np.ndarray, beam: int, blank: int) -> tuple[list[int], float]:
    """Prefix beam search on one utterance y (T, C) of float64 log-probabilities."""
    prefixes: list[tuple[int, ...]] = [()]
    p_b = np.zeros(1)  # (K,) log 1: the empty prefix before any frame
    p_nb = np.full(1, -np.inf)  # (K,)
    C = y.shape[1]
    for y_t in y:  # (C,)
        K = len(prefixes)
        total = np.logaddexp(p_b, p_nb)  # (K,) P(ℓ)
        last = np.array([p[-1] if p else -1 for p in prefixes])  # (K,) e, -1 when empty
        ended = last >= 0
        stay_b = total + y_t[blank]  # (K,)
        stay_nb = np.where(ended, p_nb + y_t[np.maximum(last, 0)], -np.inf)  # (K,)
        extend = total[:, None] + y_t[None, :]  # (K, C)
        rows = np.nonzero(ended)[0]
        extend[rows, last[rows]] = p_b[rows] + y_t[last[rows]]  # repeated label: from p_b only
        extend[:, blank] = -np.inf  # a blank extends nothing
        rank = {p: k for k, p in enumerate(prefixes)}
        for k, p in enumerate(prefixes):  # ℓ+c that is already kept: one prefix
            parent = rank.get(p[:-1]) if p else None
            if parent is not None:
                stay_nb[k] = np.logaddexp(stay_nb[k], extend[parent, p[-1]])
                extend[parent, p[-1]] = -np.inf
        scores = np.concatenate([np.logaddexp(stay_b, stay_nb), extend.ravel()])  # (K + K*C,)
        order = np.argsort(-scores, kind="stable")[:beam]
        order = order[scores[order] > -np.inf] if scores[order[0]] > -np.inf else order[:1]
        next_prefixes, next_b, next_nb = [], [], []
        for i in order.tolist():
            if i < K:
                next_prefixes.append(prefixes[i])
                next_b.append(stay_b[i])
                next_nb.append(stay_nb[i])
            else:
                k, c = divmod(i - K, C)
                next_prefixes.append(prefixes[k] + (c,))
                next_b.append(-np.inf)
                next_nb.append(extend[k, c])
        prefixes, p_b, p_nb = next_prefixes, np.array(next_b), np.array(next_nb)
    total = np.logaddexp(p_b, p_nb)
    best = int(np.argmax(total))
    return list(prefixes[best]), float(total[best])


def ctc_align(log_probs: Tensor, labels: Sequence[int], blank: int = 0) -> list[int]:
    """Viterbi forced alignment: the first frame of each label on the best path for `labels`.

    log_probs: (T, C) of one utterance (its real frames only);  labels: the S label ids.

    The path runs through the blank-interleaved sequence z = (-, l1, -, l2, ..., -, lS, -) of
    2S + 1 states: it starts in z1 or z2, at each frame stays, moves one state on, or skips a
    blank between two different labels, and ends in the last label or the final blank.

        δ<t>(s) = log y<t>[z_s] + max(δ<t-1>(s), δ<t-1>(s-1), δ<t-1>(s-2) if skip allowed)

    Returns S frame indices, strictly increasing. Raises ValueError when T < S + r (r labels
    equal to their left neighbour) or when every path for `labels` has probability 0.
    """
    if log_probs.dim() != 2:
        raise ValueError(
            f"ctc_align: expected log_probs of shape (T, C) for one utterance, "
            f"got {tuple(log_probs.shape)}"
        )
    T, C = log_probs.shape
    _check_blank("ctc_align", blank, C)
    labels = list(labels)
    bad = [c for c in labels if not 0 <= c < C or c == blank]
    if bad:
        raise ValueError(
            f"ctc_align: labels must be class ids in [0, {C}) other than blank={blank}, "
            f"got {bad[0]}"
        )
    repeats = sum(a == b for a, b in itertools.pairwise(labels))
    if T < len(labels) + repeats:
        raise ValueError(
            f"ctc_align: {len(labels)} labels with {repeats} repeated neighbour(s) need at "
            f"least {len(labels) + repeats} frames (a blank between equal labels), got T={T}"
        )
    if not labels:
        return []
    return _viterbi_first_frames(log_probs.detach().to("cpu", torch.float64).numpy(), labels, blank)


def _viterbi_first_frames(y: np.ndarray, labels: list[int], blank: int) -> list[int]:
    """ctc_align on y (T, C) float64, labels non-empty and known to fit."""
    T, N = y.shape[0], 2 * len(labels) + 1
    z = np.full(N, blank)  # (N,) blank-interleaved states
    z[1::2] = labels
    skip = np.zeros(N, dtype=bool)  # s-2 -> s allowed: z_s a label unlike z_{s-2}
    skip[2:] = (z[2:] != blank) & (z[2:] != z[:-2])
    delta = np.full(N, -np.inf)  # (N,)
    delta[:2] = y[0, z[:2]]
    back = np.zeros((T, N), dtype=np.int64)  # how many states the path moved on at t
    for t in range(1, T):
        came = np.full((3, N), -np.inf)  # from s, s-1, s-2
        came[0] = delta
        came[1, 1:] = delta[:-1]
        came[2, 2:] = np.where(skip[2:], delta[:-2], -np.inf)
        back[t] = came.argmax(axis=0)  # ties: the smallest move
        delta = came.max(axis=0) + y[t, z]  # (N,)
    s = N - 1 if delta[N - 1] >= delta[N - 2] else N - 2
    if delta[s] == -np.inf:
        raise ValueError("ctc_align: every path for these labels has probability 0")
    frames = [0] * len(labels)
    for t in range(T - 1, -1, -1):  # backwards, so the last write is the first frame
        if s % 2 == 1:
            frames[s // 2] = t
        s -= int(back[t, s])
    return frames


def _real(targets: Tensor, target_lengths: Tensor) -> Tensor:
    """(B, S) bool: True on the S_b real symbols of each padded target row."""
    S = targets.shape[1]
    lengths = target_lengths.to(targets.device)
    return torch.arange(S, device=targets.device)[None, :] < lengths[:, None]  # (B, S)


def _check_blank(name: str, blank: int, C: int) -> None:
    if not 0 <= blank < C:
        raise ValueError(f"{name}: blank must be a class index in [0, {C}), got {blank}")


def _check_log_probs(
    name: str, log_probs: Tensor, frame_lengths: Tensor, blank: int
) -> tuple[int, int, int]:
    if log_probs.dim() != 3 or not log_probs.is_floating_point():
        raise ValueError(
            f"{name}: expected float log_probs of shape (B, T, C), got "
            f"{tuple(log_probs.shape)} {log_probs.dtype}"
        )
    B, T, C = log_probs.shape
    _check_blank(name, blank, C)
    if tuple(frame_lengths.shape) != (B,) or frame_lengths.is_floating_point():
        raise ValueError(
            f"{name}: expected integer frame_lengths of shape ({B},), got "
            f"{tuple(frame_lengths.shape)} {frame_lengths.dtype}"
        )
    if B and not bool(((frame_lengths >= 0) & (frame_lengths <= T)).all()):
        raise ValueError(
            f"{name}: frame_lengths must lie in [0, T={T}], got {frame_lengths.tolist()}"
        )
    return B, T, C


def _check_targets(
    name: str,
    log_probs: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    blank: int,
) -> None:
    B, _, C = _check_log_probs(name, log_probs, frame_lengths, blank)
    if targets.dim() != 2 or targets.shape[0] != B or targets.is_floating_point():
        raise ValueError(
            f"{name}: expected integer targets of shape ({B}, S), got "
            f"{tuple(targets.shape)} {targets.dtype}"
        )
    S = targets.shape[1]
    if tuple(target_lengths.shape) != (B,) or target_lengths.is_floating_point():
        raise ValueError(
            f"{name}: expected integer target_lengths of shape ({B},), got "
            f"{tuple(target_lengths.shape)} {target_lengths.dtype}"
        )
    if B and not bool(((target_lengths >= 0) & (target_lengths <= S)).all()):
        raise ValueError(
            f"{name}: target_lengths must lie in [0, S={S}], got {target_lengths.tolist()}"
        )
    invalid = (targets < 0) | (targets >= C) | (targets == blank)  # (B, S)
    bad = _real(targets, target_lengths) & invalid  # (B, S) padding may hold anything
    if bool(bad.any()):
        b, s = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name}: targets must be label ids in [0, {C}) other than blank={blank}; "
            f"targets[{b}, {s}] = {int(targets[b, s])}"
        )
