"""Stratified, grouped dev splits and cross-validation folds (rnnkit.data.splits), the per-class
report (against scikit-learn), the confusion-matrix picture, the shared many-to-one batching and
scores (rnnkit.tasks.labelled), and cross-validation over a recipe (rnnkit.tasks.crossval)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from rnnkit.data.splits import fold_split, stratified_folds, stratified_split
from rnnkit.diagnose.plots import plot_confusion_matrix
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import class_report, confusion_matrix
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks.crossval import cross_validate
from rnnkit.tasks.labelled import class_batches, classification_result, evaluate_classifier
from rnnkit.train.results import FitResult

LABELS = ["a"] * 40 + ["b"] * 20 + ["c"] * 10


def test_folds_partition_the_examples_and_keep_each_class_share() -> None:
    folds = stratified_folds(LABELS, 5, seed=3)
    assert sorted(i for f in folds for i in f) == list(range(len(LABELS)))
    for fold in folds:
        assert Counter(LABELS[i] for i in fold) == {"a": 8, "b": 4, "c": 2}


def test_folds_keep_groups_whole_and_stay_even() -> None:
    groups = [i // 3 for i in range(len(LABELS))]  # triples of related examples
    folds = stratified_folds(LABELS, 4, seed=0, groups=groups)
    where = {i: n for n, f in enumerate(folds) for i in f}
    for g in set(groups):
        assert len({where[i] for i, h in enumerate(groups) if h == g}) == 1
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 3


def test_fold_split_is_the_complement_and_seeded() -> None:
    train, dev = fold_split(LABELS, 5, 2, seed=7)
    assert sorted(train + dev) == list(range(len(LABELS))) and not set(train) & set(dev)
    assert (train, dev) == fold_split(LABELS, 5, 2, seed=7)
    assert dev != fold_split(LABELS, 5, 2, seed=8)[1]


def test_dev_split_takes_the_fraction_of_each_class_and_keeps_groups_together() -> None:
    train, dev = stratified_split(LABELS, 0.2, seed=1)
    assert Counter(LABELS[i] for i in dev) == {"a": 8, "b": 4, "c": 2}
    sequences = [f"s{i % 30}" for i in range(len(LABELS))]  # repeats, as in the splice set
    train, dev = stratified_split(LABELS, 0.2, seed=1, groups=sequences)
    assert not {sequences[i] for i in train} & {sequences[i] for i in dev}
    assert 0.1 < len(dev) / len(LABELS) < 0.35


def test_a_class_with_one_example_stays_in_training() -> None:
    labels = ["a"] * 10 + ["rare"]
    train, dev = stratified_split(labels, 0.3, seed=0)
    assert 10 in train and len(dev) == 3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stratified_folds(LABELS, 1), "at least 2 folds"),
        (lambda: stratified_folds(["a", "b"], 3), "at least 3 examples"),
        (lambda: fold_split(LABELS, 5, 5), "--fold must be between 0 and 4"),
        (lambda: stratified_split(LABELS, 1.0), "--dev-fraction"),
        (lambda: stratified_split(["a"], 0.5), "no dev"),
        (lambda: stratified_split(LABELS, 0.5, groups=[1]), "group keys"),
    ],
)
def test_bad_split_requests_are_refused(call: Any, message: str) -> None:
    with pytest.raises(RnnkitError, match=message):
        call()


def test_class_report_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=g)
    p = torch.where(torch.rand(200, generator=g) < 0.7, y, torch.randint(0, 4, (200,), generator=g))
    p[p == 3] = 2  # class 3 never predicted: precision 0 by convention
    report = class_report(confusion_matrix(y, p, 4), ["w", "x", "y", "z"])
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y.numpy(), p.numpy(), labels=[0, 1, 2, 3], zero_division=0
    )
    for c, name in enumerate("wxyz"):
        got = report["classes"][name]
        assert got["precision"] == pytest.approx(precision[c])
        assert got["recall"] == pytest.approx(recall[c])
        assert got["f1"] == pytest.approx(f1[c])
        assert got["support"] == support[c]
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(y.numpy(), p.numpy()))
    assert report["macro_f1"] == pytest.approx(
        metrics.f1_score(y.numpy(), p.numpy(), average="macro", zero_division=0)
    )


def test_confusion_picture_is_a_png(tmp_path: Path) -> None:
    path = plot_confusion_matrix(torch.tensor([[5, 1], [0, 4]]), ["neg", "pos"], tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="expected a"):
        plot_confusion_matrix(torch.zeros(2, 3), ["a", "b"], tmp_path / "d.png")
    named = plot_confusion_matrix(torch.eye(2), ["a", "b"], tmp_path / "plain")
    assert named == tmp_path / "plain.png" and named.exists()  # the name says what was written
    with pytest.raises(RnnkitError, match="is a folder"):
        plot_confusion_matrix(torch.eye(2), ["a", "b"], tmp_path)


def _separable(n: int) -> tuple[list[torch.Tensor], list[int]]:
    """Class c: frames around +-1 in channel c, lengths 3-7."""
    g = torch.Generator().manual_seed(0)
    xs, ys = [], []
    for i in range(n):
        c = i % 3
        x = 0.1 * torch.randn(3 + i % 5, 3, generator=g)
        x[:, c] += 1.0
        xs.append(x)
        ys.append(c)
    return xs, ys


def test_shared_batching_and_scores_train_a_classifier() -> None:
    xs, ys = _separable(30)
    batches = class_batches(xs, ys, batch_size=8, seed=0, shuffle=True)
    assert sorted(int(t) for b in batches(0) for t in b.targets) == sorted(ys)  # type: ignore[union-attr]
    assert [b.lengths.tolist() for b in batches(1)] != [b.lengths.tolist() for b in batches(2)]
    torch.manual_seed(0)
    model = SequenceClassifier(
        ClassifierConfig(EncoderConfig(num_features=3, cell="gru", hidden_size=8), num_classes=3)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(30):
        for batch in batches(epoch):
            optimiser.zero_grad()
            model(batch).loss.backward()
            optimiser.step()
    model.eval()
    dev = class_batches(xs, ys, batch_size=8, seed=0, shuffle=False)(0)
    assert evaluate_classifier(model, dev)["accuracy"] == 1.0
    result = classification_result(model, dev, ["x", "y", "z"])
    assert result["confusion"] == [[10, 0, 0], [0, 10, 0], [0, 0, 10]]
    assert result["classes"]["y"]["recall"] == 1.0 and result["examples"] == 30


def test_augmentation_is_seeded_per_epoch_and_example() -> None:
    xs, ys = _separable(6)

    def flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return -x if torch.rand((), generator=g) < 0.5 else x

    batches = class_batches(xs, ys, 6, seed=1, shuffle=False, augment=flip)
    assert torch.equal(batches(0)[0].inputs, batches(0)[0].inputs)
    assert not torch.equal(batches(0)[0].inputs, batches(1)[0].inputs)


@dataclass(frozen=True)
class _Data:
    folds: int = 0
    fold: int = 0


@dataclass(frozen=True)
class _Train:
    metric: str = "accuracy"
    out_dir: str | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class _Config:
    data: _Data = field(default_factory=_Data)
    train: _Train = field(default_factory=_Train)


class _Recipe:
    """Scores fold i as 0.5 + i / 10 after the last epoch, 0.9 at its best."""

    NAME = "fake"
    PRESETS: ClassVar[dict[str, _Config]] = {"default": _Config()}

    def __init__(self) -> None:
        self.seen: list[_Config] = []

    def train(self, config: _Config, resume: bool = False) -> FitResult:
        self.seen.append(config)
        score = 0.5 + config.data.fold / 10
        return FitResult([], 0.9, 1, 2, 4, False, {"accuracy": score}, None)


def test_cross_validation_trains_each_fold_and_scores_the_last_epoch(tmp_path: Path) -> None:
    recipe = _Recipe()
    config = _Config(train=_Train(out_dir=str(tmp_path / "cv")))
    result = cross_validate(recipe, config, 3)  # type: ignore[arg-type]
    assert [(c.data.folds, c.data.fold) for c in recipe.seen] == [(3, 0), (3, 1), (3, 2)]
    assert [c.train.out_dir for c in recipe.seen] == [
        str(tmp_path / f"cv/fold-{i}") for i in range(3)
    ]
    assert result.scores == pytest.approx([0.5, 0.6, 0.7]) and result.best == [0.9] * 3
    assert result.mean == pytest.approx(0.6) and result.std == pytest.approx(0.1)
    saved = json.loads((tmp_path / "cv/crossval.json").read_text())
    assert saved["mean"] == pytest.approx(0.6) and saved["folds"] == 3
    with pytest.raises(RnnkitError, match="holds an earlier cross-validation"):
        cross_validate(recipe, config, 3)  # type: ignore[arg-type]
    assert len(recipe.seen) == 3  # refused before any fold was trained
    again = _Config(train=_Train(out_dir=str(tmp_path / "cv"), overwrite=True))
    assert cross_validate(recipe, again, 3).mean == pytest.approx(0.6)  # type: ignore[arg-type]
    with pytest.raises(RnnkitError, match="--folds must be at least 2"):
        cross_validate(recipe, config, 1)  # type: ignore[arg-type]
