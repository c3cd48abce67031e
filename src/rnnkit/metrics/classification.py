"""Classification scores from predictions: the confusion matrix, accuracy, precision, recall, F1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def confusion_matrix(targets: Tensor, predictions: Tensor, num_classes: int = 2) -> Tensor:
    """M (C, C) int64 with M[i, j] = examples of true class i predicted as class j.

    For two classes (neg = 0, pos = 1): [[TN, FP], [FN, TP]], the layout of
    sklearn.metrics.confusion_matrix.
    """
    index = targets.long() * num_classes + predictions.long()  # (N,)
    return torch.bincount(index, minlength=num_classes * num_classes).view(
        num_classes, num_classes
    )  # (C, C)


def binary_scores(confusion: Tensor) -> dict[str, float]:
    """Accuracy, and precision, recall, F1 of the positive class (id 1), from [[TN, FP], [FN, TP]].

    accuracy  = (TP + TN) / N
    precision = TP / (TP + FP)        of the reviews called positive, how many are
    recall    = TP / (TP + FN)        of the positive reviews, how many were found
    F1        = 2 P R / (P + R) = 2 TP / (2 TP + FP + FN)
    A ratio with a zero denominator is 0 (sklearn's zero_division=0).
    """
    (tn, fp), (fn, tp) = (int(v) for v in confusion[0]), (int(v) for v in confusion[1])

    def ratio(num: int, den: int) -> float:
        return num / den if den else 0.0

    return {
        "accuracy": ratio(tp + tn, tn + fp + fn + tp),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


def class_report(confusion: Tensor, names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro F1 and each class's precision, recall, F1 and support from a (C, C)
    confusion matrix M[true, predicted] (see `confusion_matrix`); `names` are the C classes.

    For class c: precision = M[c, c] / column c's sum, recall = M[c, c] / row c's sum (its
    support), F1 = 2 M[c, c] / (row sum + column sum); a zero denominator gives 0 (sklearn's
    zero_division=0). macro F1 is the plain mean over the classes, so rare classes count as
    much as common ones.
    """
    matrix = confusion.long()
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(names):
        raise ValueError(
            f"expected a ({len(names)}, {len(names)}) confusion matrix, got {tuple(matrix.shape)}"
        )
    correct = matrix.diagonal()  # (C,)
    support, predicted = matrix.sum(1), matrix.sum(0)  # (C,), (C,)

    def ratio(num: int, den: int) -> float:
        return num / den if den else 0.0

    classes = {
        name: {
            "precision": ratio(int(correct[c]), int(predicted[c])),
            "recall": ratio(int(correct[c]), int(support[c])),
            "f1": ratio(2 * int(correct[c]), int(support[c]) + int(predicted[c])),
            "support": int(support[c]),
        }
        for c, name in enumerate(names)
    }
    return {
        "accuracy": ratio(int(correct.sum()), int(matrix.sum())),
        "macro_f1": sum(v["f1"] for v in classes.values()) / max(len(names), 1),
        "classes": classes,
    }
