"""Metrics: everything that turns predictions or losses into the numbers a run reports.

running:        count-weighted running means of losses and scores, exact over batches and
                processes (`RunningMeans`), and per-step accuracy;
classification: the confusion matrix and accuracy, precision, recall, F1 of a class;
entities:       entity-level precision, recall and F1 for named-entity recognition (CoNLL);
error_rate:     edit distance and corpus-level word and character error rates (speech),
                imported from `rnnkit.metrics.error_rate` (its function `error_rate`
                re-exported here would hide the module of the same name);
translation:    corpus BLEU and chrF by sacrebleu, and their `signature`
                (optional: pip install 'rnnkit[translate]').
"""

from rnnkit.metrics.classification import binary_scores, confusion_matrix
from rnnkit.metrics.entities import EntityScores, Score, entity_scores
from rnnkit.metrics.running import RunningMeans, accuracy
from rnnkit.metrics.translation import corpus_bleu, corpus_chrf

__all__ = [
    "EntityScores",
    "RunningMeans",
    "Score",
    "accuracy",
    "binary_scores",
    "confusion_matrix",
    "corpus_bleu",
    "corpus_chrf",
    "entity_scores",
]
