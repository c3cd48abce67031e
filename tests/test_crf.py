"""The CRF against brute-force enumeration of every tag sequence, masks, gradients, constraints."""

from __future__ import annotations

import doctest
import itertools
from collections.abc import Callable

import pytest
import torch

import rnnkit.layers.crf as crf_module
from rnnkit.data.tags import bio_to_spans, spans_to_bio, transition_constraints
from rnnkit.layers.crf import CRF

DT = torch.float64


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_crf(C: int) -> CRF:
    crf = CRF(C).to(DT)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_(0, 1)
    return crf


def brute_score(crf: CRF, e: torch.Tensor, y: tuple[int, ...]) -> torch.Tensor:
    """s(x, y) for one unpadded sentence e (T, C), written out term by term."""
    s = crf.start[y[0]] + e[0, y[0]]
    for t in range(1, len(y)):
        s = s + crf.transitions[y[t - 1], y[t]] + e[t, y[t]]
    return s + crf.end[y[-1]]


@torch.no_grad()
def all_scores(crf: CRF, e: torch.Tensor) -> dict[tuple[int, ...], torch.Tensor]:
    T, C = e.shape
    return {y: brute_score(crf, e, y) for y in itertools.product(range(C), repeat=T)}


def best(
    scores: dict[tuple[int, ...], torch.Tensor], keep: Callable[[tuple[int, ...]], bool] = bool
) -> tuple[int, ...]:
    """The highest-scoring sequence among those `keep` accepts."""
    return max((y for y in scores if keep(y)), key=lambda y: float(scores[y]))


def batch(C: int, lengths: list[int], T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    B = len(lengths)
    emissions = torch.randn(B, T, C, dtype=DT)
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    tags = torch.randint(0, C, (B, T)).masked_fill(~mask, -100)  # padded like real batches
    return emissions, tags, mask


def test_partition_likelihood_and_viterbi_equal_brute_force() -> None:
    C, lengths, T = 3, [4, 2], 4
    crf = random_crf(C)
    emissions, tags, mask = batch(C, lengths, T)
    log_z = crf.log_partition(emissions, mask)
    ll = crf.log_likelihood(emissions, tags, mask)
    best_tags, best_score = crf.viterbi(emissions, mask)
    decoded = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        scores = all_scores(crf, emissions[b, :n])
        brute_log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
        torch.testing.assert_close(log_z[b], brute_log_z)
        y = tuple(tags[b, :n].tolist())
        torch.testing.assert_close(ll[b], scores[y] - brute_log_z)
        argmax = best(scores)
        assert decoded[b] == list(argmax)
        assert best_tags[b, :n].tolist() == list(argmax)
        torch.testing.assert_close(best_score[b], scores[argmax])
    torch.testing.assert_close(crf.neg_log_likelihood(emissions, tags, mask), -ll)


def test_probabilities_of_all_sequences_sum_to_one() -> None:
    C, T = 3, 3
    crf = random_crf(C)
    emissions = torch.randn(1, T, C, dtype=DT)
    mask = torch.ones(1, T, dtype=torch.bool)
    every = torch.tensor(list(itertools.product(range(C), repeat=T)))  # (C^T, T)
    n = every.shape[0]
    ll = crf.log_likelihood(emissions.expand(n, T, C), every, mask.expand(n, T))
    torch.testing.assert_close(ll.exp().sum(), torch.tensor(1.0, dtype=DT))


def test_padding_changes_nothing() -> None:
    C = 4
    crf = random_crf(C)
    emissions, tags, mask = batch(C, [5, 3, 1], 5)
    padded_e = torch.cat([emissions, 50 * torch.randn(3, 4, C, dtype=DT)], dim=1)  # T 5 -> 9
    padded_m = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    padded_t = torch.cat([tags, torch.randint(0, C, (3, 4))], dim=1)
    torch.testing.assert_close(
        crf.log_likelihood(padded_e, padded_t, padded_m), crf.log_likelihood(emissions, tags, mask)
    )
    assert crf.decode(padded_e, padded_m) == crf.decode(emissions, mask)
    # and each sentence alone gives what it gives in the batch
    for b, n in enumerate([5, 3, 1]):
        alone = crf.log_likelihood(
            emissions[b : b + 1, :n], tags[b : b + 1, :n], mask[b : b + 1, :n]
        )
        torch.testing.assert_close(alone[0], crf.log_likelihood(emissions, tags, mask)[b])
        assert (
            crf.decode(emissions[b : b + 1, :n], mask[b : b + 1, :n])[0]
            == crf.decode(emissions, mask)[b]
        )


def test_zero_transitions_reduce_to_per_step_softmax() -> None:
    C = 5
    crf = CRF(C).to(DT)  # parameters start at zero
    emissions, tags, mask = batch(C, [6, 4], 6)
    log_p = emissions.log_softmax(-1).gather(2, tags.clamp(min=0).unsqueeze(2)).squeeze(2)
    torch.testing.assert_close(crf.log_likelihood(emissions, tags, mask), (log_p * mask).sum(1))
    assert crf.decode(emissions, mask) == [
        emissions[0].argmax(-1).tolist(),
        emissions[1, :4].argmax(-1).tolist(),
    ]


def test_gradients_match_finite_differences() -> None:
    crf = random_crf(3)
    emissions, tags, mask = batch(3, [4, 2], 4)
    names = [name for name, _ in crf.named_parameters()]
    assert names == ["transitions", "start", "end"]
    params = [p.detach().clone().requires_grad_(True) for p in crf.parameters()]

    def log_likelihood(e: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(crf, dict(zip(names, values)), (e, tags, mask))

    assert torch.autograd.gradcheck(log_likelihood, (emissions.requires_grad_(True), *params))


def test_gradient_of_log_partition_is_the_marginals() -> None:
    # d log Z / d e<t>[j] = p(y<t> = j | x), which brute force gives independently
    C, T = 3, 3
    crf = random_crf(C)
    emissions = torch.randn(1, T, C, dtype=DT, requires_grad=True)
    mask = torch.ones(1, T, dtype=torch.bool)
    crf.log_partition(emissions, mask).sum().backward()
    assert emissions.grad is not None
    with torch.no_grad():
        scores = all_scores(crf, emissions[0])
        log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
        marginals = torch.zeros(T, C, dtype=DT)
        for y, s in scores.items():
            for t, j in enumerate(y):
                marginals[t, j] += (s - log_z).exp()
    torch.testing.assert_close(emissions.grad[0], marginals)


def test_constrained_decoding_returns_the_best_valid_sequence() -> None:
    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    C, T = len(labels), 4
    constrained = CRF(C, transition_constraints(labels)).to(DT)
    free = CRF(C).to(DT)
    with torch.no_grad():
        for p in constrained.parameters():
            p.normal_(0, 1)
        free.load_state_dict(constrained.state_dict())
    emissions, _, mask = batch(C, [4, 3], T)
    emissions[:, :, 2] += 3.0  # make the invalid I-A attractive everywhere, also at the start

    def valid(y: tuple[int, ...]) -> bool:
        tags = [labels[i] for i in y]
        return spans_to_bio(bio_to_spans(tags), len(tags)) == tags  # independent of tags.py rules

    got = constrained.decode(emissions, mask)
    unconstrained = free.decode(emissions, mask)
    for b, n in enumerate([4, 3]):
        scores = all_scores(constrained, emissions[b, :n])
        assert got[b] == list(best(scores, valid))
        assert unconstrained[b] == list(best(scores))
    assert any(not valid(tuple(y)) for y in unconstrained)  # the constraint mattered


def test_constraints_forbid_non_tags_and_stay_out_of_the_state_dict() -> None:
    c = transition_constraints(["<pad>", "O", "B-A", "I-A"])
    assert not c.allowed[0].any() and not c.allowed[:, 0].any()
    assert c.start.tolist() == [False, True, True, False]
    assert c.end.tolist() == [False, True, True, True]
    iobes = transition_constraints(["O", "B-A", "I-A", "E-A", "S-A"], "IOBES")
    assert iobes.end.tolist() == [True, False, False, True, True]
    crf = CRF(4, c)
    assert set(crf.state_dict()) == {"transitions", "start", "end"}


def test_shape_errors_are_actionable() -> None:
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"emissions of shape \(B, T, 3\), got \(2, 4, 5\)"):
        crf.decode(torch.randn(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 4\)"):
        crf.decode(torch.randn(2, 4, 3), torch.ones(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"tags of shape"):
        crf.log_likelihood(
            torch.randn(2, 4, 3), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 4).bool()
        )


def test_module_doctests_pass() -> None:
    result = doctest.testmod(crf_module)
    assert result.attempted >= 1 and result.failed == 0
