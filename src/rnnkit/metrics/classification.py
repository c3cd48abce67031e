"""Classification scores from predictions: the confusion matrix, accuracy, precision, recall, F1."""

from __future__ import annotations

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
