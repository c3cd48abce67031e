"""Metrics: everything that turns predictions or losses into the numbers a run reports.

running:        count-weighted running means of losses and scores, exact over batches and
                processes (`RunningMeans`), and per-step accuracy;
classification: the confusion matrix and accuracy, precision, recall, F1 of a class;
entities:       entity-level precision, recall and F1 for named-entity recognition (CoNLL).
"""

from rnnkit.metrics.classification import binary_scores, confusion_matrix
from rnnkit.metrics.entities import EntityScores, Score, entity_scores
from rnnkit.metrics.running import RunningMeans, accuracy

__all__ = [
    "EntityScores",
    "RunningMeans",
    "Score",
    "accuracy",
    "binary_scores",
    "confusion_matrix",
    "entity_scores",
]
