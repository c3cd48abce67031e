"""k-fold cross-validation of any recipe whose data config has `folds` and `fold` fields.

A small data set (85 promoters, 40 motion recordings) gives a noisy dev score: which examples
happen to sit in dev moves it by several points. Cross-validation trains k models, each with
one fold as dev (`rnnkit.data.splits.stratified_folds`: every class's share kept, related
examples kept together), and reports each fold's score with the mean and the spread.

A fold's score is its dev metric after the LAST epoch, a training length fixed in advance: the
best epoch on a fold would be chosen on the very examples it is scored on, which flatters. The
best-epoch score is reported beside it for comparison.

    from rnnkit.tasks import RECIPES
    from rnnkit.tasks.crossval import cross_validate
    result = cross_validate(RECIPES["dna"], RECIPES["dna"].PRESETS["promoters"], folds=5)
    print(result.mean, result.std)
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnkit.data.atomic import write_bytes
from rnnkit.errors import RnnkitError
from rnnkit.tasks.recipe import Recipe
from rnnkit.train.results import FitResult

__all__ = ["CrossValidation", "cross_validate", "supports_folds"]


@dataclass(frozen=True)
class CrossValidation:
    """metric: the dev metric scored; scores: each fold's value after the last epoch; best:
    each fold's best-epoch value (optimistic); mean and std (sample standard deviation) of
    `scores`."""

    metric: str
    scores: list[float]
    best: list[float]
    out_dir: str | None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def std(self) -> float:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "folds": len(self.scores),
            "scores": self.scores,
            "mean": self.mean,
            "std": self.std,
            "best_epoch_scores": self.best,
            "best_epoch_mean": statistics.fmean(self.best),
        }


def _check_free(out: Path, folds: int) -> None:
    """Refuse a directory that holds an earlier cross-validation (or any run where a fold's
    would go), before anything is trained: nothing a user made is replaced silently."""
    taken = [p for p in [out / "crossval.json"] + [out / f"fold-{i}" for i in range(folds)]
             if p.exists() and (p.is_file() or any(p.iterdir()))]  # fmt: skip
    if taken:
        raise RnnkitError(
            f"{out} holds an earlier cross-validation ({taken[0]}); pass --overwrite to "
            "replace it, or choose another --out"
        )


def supports_folds(config: Any) -> bool:
    """Whether a task config's data part has the `folds` and `fold` fields."""
    names = {f.name for f in dataclasses.fields(config.data)}
    return {"folds", "fold"} <= names


def cross_validate(recipe: Recipe[Any], config: Any, folds: int) -> CrossValidation:
    """Train `folds` models of `recipe` on `config`, fold i as dev for the i-th, into
    `<out_dir>/fold-<i>` (no directory: nothing written), and score each; the summary goes to
    `<out_dir>/crossval.json`."""
    if not supports_folds(config):
        raise RnnkitError(f"task {recipe.NAME} has no cross-validation (no --folds option)")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise RnnkitError(f"--folds must be at least 2, got {folds!r}")
    metric = config.train.metric
    out = config.train.out_dir
    if out is not None and not config.train.overwrite:
        _check_free(Path(out), folds)
    scores: list[float] = []
    best: list[float] = []
    for fold in range(folds):
        fold_out = None if out is None else str(Path(out) / f"fold-{fold}")
        fold_config = replace(
            config,
            data=replace(config.data, folds=folds, fold=fold),
            train=replace(config.train, out_dir=fold_out),
        )
        result: FitResult = recipe.train(fold_config)
        if metric not in result.final_metrics or result.best_metric is None:
            raise RnnkitError(f"fold {fold}: the run reported no dev {metric}")
        scores.append(float(result.final_metrics[metric]))
        best.append(float(result.best_metric))
    summary = CrossValidation(metric, scores, best, out)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_bytes(Path(out) / "crossval.json", json.dumps(summary.to_dict(), indent=2).encode())
    return summary
