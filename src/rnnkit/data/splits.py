"""Dev splits and cross-validation folds that keep each class's share and keep related examples
together.

Small labelled sets (85 promoters, 40 motion recordings) are measured by carving a dev split
from train, or by k-fold cross-validation. Two things make those numbers honest:

- stratification: every class contributes about the same fraction of its examples to dev, so
  a fold never lacks a class the others have;
- groups: examples that are the same thing in disguise (an identical DNA window listed twice,
  the windows of one subject or one recording) carry one group key and always land on the
  same side, so the model is never scored on what it trained on.

A group goes to the class of its first member (for the stratification); its members may have
other labels (the splice set has one 60-mer labelled both IE and N), they still travel together.
The draws use their own `random.Random(seed)`, so they neither depend on nor disturb the global
random state; the results are sorted lists of indices.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

from rnnkit.errors import RnnkitError

__all__ = ["fold_split", "stratified_folds", "stratified_split"]


def _groups_by_class(
    labels: Sequence[Hashable], groups: Sequence[Hashable] | None
) -> dict[Hashable, list[list[int]]]:
    """class -> its groups (each a list of example indices), in first-seen order."""
    if groups is not None and len(groups) != len(labels):
        raise RnnkitError(f"got {len(groups)} group keys for {len(labels)} labels")
    members: dict[Hashable, list[int]] = {}
    first_label: dict[Hashable, Hashable] = {}
    for i, label in enumerate(labels):
        key: Hashable = i if groups is None else ("group", groups[i])
        members.setdefault(key, []).append(i)
        first_label.setdefault(key, label)
    by_class: dict[Hashable, list[list[int]]] = {}
    for key, indices in members.items():
        by_class.setdefault(first_label[key], []).append(indices)
    return by_class


def _class_order(by_class: dict[Hashable, list[list[int]]]) -> list[Hashable]:
    return sorted(by_class, key=str)


def stratified_folds(
    labels: Sequence[Hashable], k: int, seed: int = 0, groups: Sequence[Hashable] | None = None
) -> list[list[int]]:
    """The dev indices of each of k folds: every index in exactly one fold, each class's groups
    dealt round the folds after a seeded shuffle (the fold with the fewest examples of that
    class takes the next group, so folds stay even when groups differ in size)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise RnnkitError(f"cross-validation needs at least 2 folds, got {k!r}")
    by_class = _groups_by_class(labels, groups)
    count = sum(len(g) for gs in by_class.values() for g in gs)
    if count < k:
        raise RnnkitError(f"{k} folds need at least {k} examples, got {count}")
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    sizes = [0] * k
    for label in _class_order(by_class):
        class_groups = list(by_class[label])
        rng.shuffle(class_groups)
        class_groups.sort(key=len, reverse=True)  # big groups first, the rest fill in
        of_class = [0] * k
        for group in class_groups:
            fold = min(range(k), key=lambda f: (of_class[f], sizes[f], f))
            folds[fold].extend(group)
            of_class[fold] += len(group)
            sizes[fold] += len(group)
    return [sorted(f) for f in folds]


def fold_split(
    labels: Sequence[Hashable],
    k: int,
    fold: int,
    seed: int = 0,
    groups: Sequence[Hashable] | None = None,
) -> tuple[list[int], list[int]]:
    """(train indices, dev indices) of fold `fold` (0-based) of `stratified_folds`."""
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < k:
        raise RnnkitError(f"--fold must be between 0 and {k - 1} for {k} folds, got {fold!r}")
    dev = stratified_folds(labels, k, seed, groups)[fold]
    chosen = set(dev)
    return [i for i in range(len(labels)) if i not in chosen], dev


def stratified_split(
    labels: Sequence[Hashable],
    fraction: float,
    seed: int = 0,
    groups: Sequence[Hashable] | None = None,
) -> tuple[list[int], list[int]]:
    """(train indices, dev indices): about `fraction` of each class's examples in dev, whole
    groups only. Every class with at least two groups has at least one in dev and one in train;
    an empty side is refused."""
    if not 0.0 < fraction < 1.0:
        raise RnnkitError(f"--dev-fraction must be between 0 and 1 (exclusive), got {fraction}")
    by_class = _groups_by_class(labels, groups)
    rng = random.Random(seed)
    dev: list[int] = []
    for label in _class_order(by_class):
        class_groups = list(by_class[label])
        rng.shuffle(class_groups)
        wanted = fraction * sum(len(g) for g in class_groups)
        taken = 0
        for n, group in enumerate(class_groups):
            if n == len(class_groups) - 1:
                break  # keep one group of the class for training
            if taken > 0 and taken + len(group) / 2 > wanted:
                break  # taking it would overshoot by more than it brings
            dev.extend(group)
            taken += len(group)
    chosen = set(dev)
    if not chosen or len(chosen) == len(labels):
        side = "no dev" if not chosen else "no training"
        raise RnnkitError(
            f"a dev fraction of {fraction} of {len(labels)} examples leaves {side} examples; "
            "change --dev-fraction"
        )
    return [i for i in range(len(labels)) if i not in chosen], sorted(dev)
