"""Masked per-step losses and count-weighted metrics against hand computations and torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.batch import mask_from_lengths
from rnnkit.metrics.running import RunningMeans, accuracy
from rnnkit.models.losses import (
    classification_loss,
    sequence_binary_cross_entropy,
    sequence_cross_entropy,
)

LENGTHS = torch.tensor([4, 1, 3])


def _seq_inputs(C: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    B, T = LENGTHS.shape[0], int(LENGTHS.max())
    logits = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    targets = torch.randint(0, C, (B, T), generator=g)
    return logits, targets, mask_from_lengths(LENGTHS)


def test_cross_entropy_equals_hand_sum_over_real_steps() -> None:
    logits, targets, mask = _seq_inputs()
    loss, count = sequence_cross_entropy(logits, targets, mask)
    total, n = 0.0, 0
    for b, length in enumerate(LENGTHS.tolist()):
        for t in range(length):  # L<t> = -log softmax(z<t>)[y<t>], only real steps
            z = logits[b, t].tolist()
            log_norm = math.log(sum(math.exp(v) for v in z))
            total += log_norm - z[int(targets[b, t])]
            n += 1
    assert count.dtype == torch.int64 and int(count) == n == int(LENGTHS.sum())
    assert loss.item() == pytest.approx(total / n, rel=1e-12)


def test_cross_entropy_equals_torch_mean_on_equal_lengths() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 7, generator=g)
    targets = torch.randint(0, 7, (3, 5), generator=g)
    mask = torch.ones(3, 5, dtype=torch.bool)
    loss, count = sequence_cross_entropy(logits, targets, mask)
    assert int(count) == 15
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(15, 7), targets.reshape(15)))


def test_padding_values_change_neither_loss_nor_gradient() -> None:
    logits, targets, mask = _seq_inputs()
    g = torch.Generator().manual_seed(7)
    junk_logits = torch.where(
        mask[..., None], logits, 1e3 * torch.randn(logits.shape, generator=g, dtype=logits.dtype)
    )
    for pad_target in (-100, 4, 123456):
        junk_targets = targets.masked_fill(~mask, pad_target)
        a = logits.clone().requires_grad_()
        b = junk_logits.clone().requires_grad_()
        loss_a, _ = sequence_cross_entropy(a, targets.masked_fill(~mask, 0), mask)
        loss_b, _ = sequence_cross_entropy(b, junk_targets, mask)
        loss_a.backward()
        loss_b.backward()
        assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-12)
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(a.grad, b.grad)
        assert torch.all(b.grad[~mask] == 0)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = torch.tensor([[[1e4, -1e4, 0.0]]])
    loss, _ = sequence_cross_entropy(logits, torch.tensor([[1]]), torch.tensor([[True]]))
    assert loss.item() == pytest.approx(2e4)


def test_empty_mask_gives_zero_loss() -> None:
    logits, targets, _ = _seq_inputs()
    loss, count = sequence_cross_entropy(logits, targets, torch.zeros(3, 4, dtype=torch.bool))
    assert int(count) == 0 and loss.item() == 0.0


def test_binary_cross_entropy_sums_frame_and_averages_over_real_steps() -> None:
    g = torch.Generator().manual_seed(2)
    B, T, D = 3, 4, 6
    logits = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    targets = (torch.rand(B, T, D, generator=g) > 0.5).to(torch.float64)
    mask = mask_from_lengths(LENGTHS)
    loss, count = sequence_binary_cross_entropy(logits, targets, mask)
    total = 0.0
    for b, length in enumerate(LENGTHS.tolist()):
        for t in range(length):
            for d in range(D):  # -[y log σ(z) + (1 - y) log(1 - σ(z))]
                p = 1 / (1 + math.exp(-logits[b, t, d].item()))
                y = targets[b, t, d].item()
                total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    assert int(count) == int(LENGTHS.sum())  # steps, not steps x D
    assert loss.item() == pytest.approx(total / int(count), rel=1e-10)


def test_binary_cross_entropy_equal_lengths_and_padding_invariance() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 4, generator=g)
    targets = torch.rand(2, 3, 4, generator=g)
    full = torch.ones(2, 3, dtype=torch.bool)
    loss, _ = sequence_binary_cross_entropy(logits, targets, full)
    expected = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / 6
    torch.testing.assert_close(loss, expected)
    mask = mask_from_lengths(torch.tensor([3, 1]))
    junk = torch.where(mask[..., None], targets, torch.full_like(targets, 17.0))
    a, _ = sequence_binary_cross_entropy(logits, targets, mask)
    b, _ = sequence_binary_cross_entropy(logits * 1, junk, mask)
    assert a.item() == b.item()


def test_classification_losses() -> None:
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(5, 3, generator=g)
    labels = torch.randint(0, 3, (5,), generator=g)
    loss, count = classification_loss(logits, labels)
    assert int(count) == 5
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))
    binary = torch.randn(5, generator=g)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    loss, _ = classification_loss(binary, y)
    hand = (
        -sum(
            yi * math.log(1 / (1 + math.exp(-zi)))
            + (1 - yi) * math.log(1 - 1 / (1 + math.exp(-zi)))
            for zi, yi in zip(binary.tolist(), y.tolist())
        )
        / 5
    )
    assert loss.item() == pytest.approx(hand, rel=1e-5)
    multi = (torch.rand(5, 3, generator=g) > 0.5).float()
    loss, _ = classification_loss(logits, multi)
    expected = F.binary_cross_entropy_with_logits(logits, multi, reduction="sum") / 5
    torch.testing.assert_close(loss, expected)


def test_shape_errors_are_explicit() -> None:
    logits, targets, mask = _seq_inputs()
    with pytest.raises(ValueError, match=r"expected targets of shape \(3, 4\)"):
        sequence_cross_entropy(logits, targets[:, :2], mask)
    with pytest.raises(ValueError, match="bool mask"):
        sequence_cross_entropy(logits, targets, mask.long())
    with pytest.raises(ValueError, match="classification_loss"):
        classification_loss(torch.randn(4, 3), torch.zeros(4, 2, dtype=torch.long))


def test_running_means_weight_by_count_and_restore() -> None:
    m = RunningMeans()
    m.add("loss", 2.0, 1)
    m.add("loss", 5.0, 2)
    m.add("loss", torch.tensor(1.0), torch.tensor(5))
    m.add("acc", 0.5)
    assert m.means()["loss"] == pytest.approx((2 + 10 + 5) / 8)
    assert m.means()["acc"] == 0.5
    restored = RunningMeans()
    restored.load_totals(m.totals())
    assert restored.means() == m.means()
    m.reset()
    assert m.means() == {}


def test_accuracy_with_and_without_mask() -> None:
    logits = torch.tensor(
        [[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]]
    )  # (B=2, T=3, C=2)
    targets = torch.tensor([[1, 1, 0], [0, 0, 0]])
    mask = mask_from_lengths(torch.tensor([3, 1]))
    acc, count = accuracy(logits, targets, mask)
    assert int(count) == 4 and acc.item() == pytest.approx(2 / 4)  # real steps: 1,0,0 | 1
    acc, count = accuracy(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 1.0, 0.0]))
    assert int(count) == 3 and acc.item() == pytest.approx(1 / 3)
