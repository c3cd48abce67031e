"""Task metrics computed from predictions (decoded outputs), not from losses.

entities: entity-level precision, recall and F1 for named-entity recognition (CoNLL).
"""

from rnnkit.metrics.entities import EntityScores, Score, entity_scores

__all__ = ["EntityScores", "Score", "entity_scores"]
