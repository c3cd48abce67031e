"""CTC against brute-force enumeration of every path: loss, gradient, decoders, alignment."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.models.ctc import (
    CTCHypothesis,
    ctc_align,
    ctc_greedy,
    ctc_loss,
    ctc_nll,
    ctc_prefix_beam,
)

DT = torch.float64
Labels = tuple[int, ...]


def collapse(path: Labels, blank: int = 0) -> Labels:
    """𝓑: merge runs, drop blanks (written independently of the module's _collapse)."""
    runs = [c for i, c in enumerate(path) if i == 0 or path[i - 1] != c]
    return tuple(c for c in runs if c != blank)


def path_log_probs(lp: torch.Tensor) -> dict[Labels, torch.Tensor]:
    """log P(π) of every one of the C^T paths of one utterance lp (T, C)."""
    T, C = lp.shape
    return {
        path: sum((lp[t, c] for t, c in enumerate(path)), torch.zeros((), dtype=lp.dtype))
        for path in itertools.product(range(C), repeat=T)
    }


def labelling_log_probs(lp: torch.Tensor, blank: int = 0) -> dict[Labels, torch.Tensor]:
    """log P(l) = log sum over the paths π with 𝓑(π) = l, for every reachable l."""
    groups: dict[Labels, list[torch.Tensor]] = {}
    for path, score in path_log_probs(lp).items():
        groups.setdefault(collapse(path, blank), []).append(score)
    return {labels: torch.logsumexp(torch.stack(s), 0) for labels, s in groups.items()}


def probs(rows: list[list[float]]) -> torch.Tensor:
    """(1, T, C) log-probabilities from per-frame probabilities (each row sums to 1)."""
    p = torch.tensor(rows, dtype=DT)
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[0], dtype=DT))
    return p.log()[None]


def lengths(*n: int) -> torch.Tensor:
    return torch.tensor(n, dtype=torch.int64)


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """4 utterances, T = 5, C = 3: a repeated label, a short utterance, an empty target."""
    torch.manual_seed(0)
    logits = torch.randn(4, 5, 3, dtype=DT)
    logits[1, 4:] = 50.0  # padded frames of the short utterance: garbage that must not count
    frame_lengths = lengths(5, 4, 5, 3)
    targets = torch.tensor([[1, 1, -100], [2, 1, -100], [1, 2, 1], [-100, -100, -100]])
    return logits, frame_lengths, targets, lengths(2, 2, 3, 0)


def test_nll_and_loss_equal_brute_force_sum_over_alignments() -> None:
    logits, frame_lengths, targets, target_lengths = padded_batch()
    log_probs = logits.log_softmax(-1)
    nll = ctc_nll(log_probs, frame_lengths, targets, target_lengths)
    brute = []
    for b in range(4):
        T_b, S_b = int(frame_lengths[b]), int(target_lengths[b])
        target = tuple(targets[b, :S_b].tolist())
        brute.append(-labelling_log_probs(log_probs[b, :T_b])[target])
    torch.testing.assert_close(nll, torch.stack(brute))
    # per target symbol: 2 + 2 + 3 + 0 = 7 symbols
    torch.testing.assert_close(
        ctc_loss(log_probs, frame_lengths, targets, target_lengths), nll.sum() / 7
    )


def test_gradient_through_log_softmax_equals_brute_force() -> None:
    logits, frame_lengths, targets, target_lengths = padded_batch()
    logits.requires_grad_(True)
    loss = ctc_loss(logits.log_softmax(-1), frame_lengths, targets, target_lengths)
    (grad,) = torch.autograd.grad(loss, logits)
    brute_logits = logits.detach().clone().requires_grad_(True)
    log_probs = brute_logits.log_softmax(-1)
    total = torch.zeros((), dtype=DT)
    for b in range(4):
        T_b, S_b = int(frame_lengths[b]), int(target_lengths[b])
        total = total - labelling_log_probs(log_probs[b, :T_b])[tuple(targets[b, :S_b].tolist())]
    (brute_grad,) = torch.autograd.grad(total / 7, brute_logits)
    torch.testing.assert_close(grad, brute_grad)
    assert grad[1, 4:].abs().max() == 0  # padded frames get no gradient


def test_impossible_target_adds_zero_but_its_symbols_count() -> None:
    logits = torch.randn(2, 4, 3, dtype=DT, requires_grad=True)
    targets = torch.tensor([[1, 1, 1], [2, 1, 0]])  # 1 1 1 needs 5 frames, has 4
    target_lengths = lengths(3, 2)
    log_probs = logits.log_softmax(-1)
    nll = ctc_nll(log_probs, lengths(4, 4), targets, target_lengths).detach()
    assert math.isinf(float(nll[0])) and math.isfinite(float(nll[1]))
    loss = ctc_loss(log_probs, lengths(4, 4), targets, target_lengths)
    torch.testing.assert_close(loss.detach(), nll[1] / 5)
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.isfinite(grad).all() and grad[0].abs().max() == 0


def test_loss_accepts_bfloat16_and_a_batch_of_empty_targets() -> None:
    log_probs = torch.randn(2, 3, 4).log_softmax(-1)
    no_targets = torch.zeros(2, 0, dtype=torch.int64)
    loss = ctc_loss(log_probs, lengths(3, 2), no_targets, lengths(0, 0))
    expected = -(log_probs[0, :, 0].sum() + log_probs[1, :2, 0].sum())  # all blanks, / 1
    torch.testing.assert_close(loss, expected)
    half = ctc_loss(log_probs.bfloat16(), lengths(3, 2), no_targets, lengths(0, 0))
    assert half.dtype == torch.float32


@pytest.mark.parametrize(
    ("targets", "target_lengths", "frame_lengths", "message"),
    [
        ([[1, 0]], [2], [4], r"other than blank=0; targets\[0, 1\] = 0"),
        ([[1, 3]], [2], [4], r"label ids in \[0, 3\)"),
        ([[1, 2]], [3], [4], r"target_lengths must lie in \[0, S=2\]"),
        ([[1, 2]], [2], [5], r"frame_lengths must lie in \[0, T=4\]"),
    ],
)
def test_loss_rejects_bad_targets_and_lengths(
    targets: list[list[int]], target_lengths: list[int], frame_lengths: list[int], message: str
) -> None:
    log_probs = torch.randn(1, 4, 3).log_softmax(-1)
    with pytest.raises(ValueError, match=message):
        ctc_loss(
            log_probs,
            torch.tensor(frame_lengths),
            torch.tensor(targets),
            torch.tensor(target_lengths),
        )


def test_loss_rejects_time_major_input() -> None:
    with pytest.raises(ValueError, match=r"expected integer frame_lengths of shape \(4,\)"):
        ctc_loss(
            torch.randn(4, 2, 3), lengths(4, 4), torch.ones(2, 1, dtype=torch.long), lengths(1, 1)
        )


def test_greedy_collapses_runs_and_drops_blanks() -> None:
    # best path a a - a b b - (a=1, b=2): labels a a b, emitted at frames 0, 3, 4
    path = [1, 1, 0, 1, 2, 2, 0]
    rows = [[0.1, 0.1, 0.1] for _ in path]
    for row, c in zip(rows, path):
        row[c] = 0.8
    (hyp,) = ctc_greedy(probs(rows), lengths(7))
    assert hyp == CTCHypothesis([1, 1, 2], [0, 3, 4], pytest.approx(7 * math.log(0.8)))


def test_greedy_ignores_padded_frames_and_scores_the_best_path() -> None:
    torch.manual_seed(1)
    log_probs = torch.randn(3, 6, 4, dtype=DT).log_softmax(-1)
    hyps = ctc_greedy(log_probs, lengths(6, 2, 0))
    for b, n in enumerate([6, 2, 0]):
        path = tuple(log_probs[b, :n].argmax(-1).tolist())
        assert hyps[b].labels == list(collapse(path))
        assert hyps[b].score == pytest.approx(float(log_probs[b, :n].max(-1).values.sum()))
    assert hyps[2] == CTCHypothesis([], [], 0.0)


def test_prefix_beam_beats_the_best_path_when_alignments_add_up() -> None:
    # Two frames, blank .6 and a .4 each: the best path is (-, -), so greedy says "";
    # but "a" has three paths (a a, a -, - a) with .16 + .24 + .24 = .64 > .36 = P("").
    log_probs = probs([[0.6, 0.4], [0.6, 0.4]])
    brute = labelling_log_probs(log_probs[0])
    assert float(brute[(1,)].exp()) == pytest.approx(0.64)
    assert float(brute[()].exp()) == pytest.approx(0.36)
    (greedy,) = ctc_greedy(log_probs, lengths(2))
    (beam,) = ctc_prefix_beam(log_probs, lengths(2), beam=2)
    assert greedy.labels == [] and greedy.score == pytest.approx(math.log(0.36))
    assert beam.labels == [1] and beam.score == pytest.approx(math.log(0.64))
    assert beam.frames == [0]


def test_prefix_beam_beats_greedy_on_three_classes() -> None:
    # Greedy's best path is a b (.5 * .4); but "a" sums a a, a -, - a, and more.
    log_probs = probs([[0.3, 0.5, 0.2], [0.35, 0.25, 0.4]])
    brute = labelling_log_probs(log_probs[0])
    (greedy,) = ctc_greedy(log_probs, lengths(2))
    (beam,) = ctc_prefix_beam(log_probs, lengths(2), beam=4)
    assert greedy.labels == [1, 2] and beam.labels == [1]
    assert float(brute[(1,)]) > float(brute[(1, 2)])
    assert beam.score == pytest.approx(float(brute[(1,)]))


def test_prefix_beam_keeps_repeated_labels_apart_only_with_a_blank() -> None:
    a_blank_a = probs([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    a_a_a = probs([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.05, 0.9, 0.05]])
    (split,) = ctc_prefix_beam(a_blank_a, lengths(3))
    (merged,) = ctc_prefix_beam(a_a_a, lengths(3))
    assert (split.labels, split.frames) == ([1, 1], [0, 2])
    assert (merged.labels, merged.frames) == ([1], [0])
    for log_probs, hyp in ((a_blank_a, split), (a_a_a, merged)):
        brute = labelling_log_probs(log_probs[0])
        assert tuple(hyp.labels) == max(brute, key=lambda labels: float(brute[labels]))
        assert hyp.score == pytest.approx(float(brute[tuple(hyp.labels)]))


def test_beam_width_one_is_not_greedy() -> None:
    # the docstring's case: after "a", blank .34, a .30, b .36. Greedy follows b; beam 1 stays on
    # "a" because staying sums blank and repeat (.64 > .36), which is the likelier answer.
    log_probs = probs([[0.1, 0.8, 0.1], [0.34, 0.30, 0.36]])
    (greedy,) = ctc_greedy(log_probs, lengths(2))
    (one,) = ctc_prefix_beam(log_probs, lengths(2), beam=1)
    assert greedy.labels == [1, 2] and one.labels == [1]
    # the score lacks the path - a: its prefix "" was pruned after frame 1 (a lower bound)
    brute = labelling_log_probs(log_probs[0])
    assert one.score == pytest.approx(math.log(0.8 * (0.34 + 0.30)))
    assert one.score < float(brute[(1,)]) == pytest.approx(math.log(0.8 * 0.64 + 0.1 * 0.30))


@pytest.mark.parametrize("seed", range(12))
def test_large_beam_finds_the_most_probable_labelling(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    T, C = 5, 3
    log_probs = (2 * torch.randn(2, T, C, generator=g, dtype=DT)).log_softmax(-1)
    frame_lengths = lengths(T, 4)
    hyps = ctc_prefix_beam(log_probs, frame_lengths, beam=64)  # >= 63 prefixes of length <= 5
    for b, hyp in enumerate(hyps):
        n = int(frame_lengths[b])
        brute = labelling_log_probs(log_probs[b, :n])
        best = max(brute, key=lambda labels: float(brute[labels]))
        assert tuple(hyp.labels) == best
        assert hyp.score == pytest.approx(float(brute[best]))
        target = torch.tensor([hyp.labels + [1] * (T - len(hyp.labels))])
        nll = ctc_nll(log_probs[b : b + 1], lengths(n), target, lengths(len(hyp.labels)))
        assert hyp.score == pytest.approx(-float(nll[0]))


@pytest.mark.parametrize("seed", range(5))
def test_narrow_beam_score_is_a_lower_bound_of_its_labelling(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(3, 14, 5, generator=g, dtype=DT).log_softmax(-1)
    frame_lengths = lengths(14, 9, 1)
    for beam in (1, 2, 3):
        for b, hyp in enumerate(ctc_prefix_beam(log_probs, frame_lengths, beam=beam)):
            S = len(hyp.labels)
            target = torch.tensor([hyp.labels + [1] * (14 - S)])
            nll = ctc_nll(log_probs[b : b + 1], frame_lengths[b : b + 1], target, lengths(S))
            assert hyp.score <= -float(nll[0]) + 1e-9
            assert hyp.frames == sorted(set(hyp.frames)) and len(hyp.frames) == S


def test_align_hand_case() -> None:
    # best path - a a - b b - a  for labels a b a: first frames 1, 4, 7
    path = [0, 1, 1, 0, 2, 2, 0, 1]
    rows = [[0.1, 0.1, 0.1] for _ in path]
    for row, c in zip(rows, path):
        row[c] = 0.8
    assert ctc_align(probs(rows)[0], [1, 2, 1]) == [1, 4, 7]
    assert ctc_align(probs(rows)[0], [1, 1]) == [1, 7]  # forced: a blank must come between


@pytest.mark.parametrize("seed", range(8))
def test_align_equals_the_brute_force_best_path(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(5, 3, generator=g, dtype=DT).log_softmax(-1)
    scores = path_log_probs(log_probs)
    for labels in [(1,), (2, 1), (1, 1), (1, 2, 1), (2, 2, 2)]:
        best = max((p for p in scores if collapse(p) == labels), key=lambda p: float(scores[p]))
        first = [t for t, c in enumerate(best) if c != 0 and (t == 0 or best[t - 1] != c)]
        frames = ctc_align(log_probs, list(labels))
        assert frames == first
        assert all(a < b for a, b in itertools.pairwise(frames))


@pytest.mark.parametrize("seed", range(4))
def test_align_of_the_greedy_labels_gives_the_greedy_frames(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(1, 30, 4, generator=g, dtype=DT).log_softmax(-1)
    (hyp,) = ctc_greedy(log_probs, lengths(30))
    assert ctc_align(log_probs[0], hyp.labels) == hyp.frames


def test_align_says_when_the_labels_do_not_fit() -> None:
    log_probs = torch.randn(4, 3).log_softmax(-1)
    assert ctc_align(log_probs, [1, 2, 1, 2]) == [0, 1, 2, 3]
    assert ctc_align(log_probs, []) == []
    with pytest.raises(
        ValueError, match=r"3 labels with 2 repeated neighbour\(s\) need at least 5 frames"
    ):
        ctc_align(log_probs, [1, 1, 1])
    with pytest.raises(ValueError, match=r"other than blank=0, got 0"):
        ctc_align(log_probs, [1, 0])
    with pytest.raises(ValueError, match=r"expected log_probs of shape \(T, C\)"):
        ctc_align(log_probs[None], [1])


def test_decoders_reject_bad_arguments() -> None:
    log_probs = torch.randn(2, 4, 3).log_softmax(-1)
    with pytest.raises(ValueError, match="beam must be at least 1"):
        ctc_prefix_beam(log_probs, lengths(4, 4), beam=0)
    with pytest.raises(ValueError, match=r"blank must be a class index in \[0, 3\)"):
        ctc_greedy(log_probs, lengths(4, 4), blank=3)
    with pytest.raises(ValueError, match=r"frame_lengths must lie in \[0, T=4\]"):
        ctc_greedy(log_probs, lengths(4, 5))


def test_blank_need_not_be_zero() -> None:
    torch.manual_seed(3)
    log_probs = torch.randn(1, 5, 3, dtype=DT).log_softmax(-1)
    moved = log_probs[..., [1, 2, 0]]  # class 0 becomes index 2 (the blank), 1 -> 0, 2 -> 1
    (hyp,) = ctc_prefix_beam(log_probs, lengths(5), beam=64)
    (moved_hyp,) = ctc_prefix_beam(moved, lengths(5), beam=64, blank=2)
    assert moved_hyp.labels == [c - 1 for c in hyp.labels]
    assert moved_hyp.score == pytest.approx(hyp.score)
    target = torch.tensor([[c - 1 for c in hyp.labels] + [0] * 5])
    nll = ctc_nll(moved, lengths(5), target, lengths(len(hyp.labels)), blank=2)
    assert moved_hyp.score == pytest.approx(-float(nll[0]))
