"""Examples for sequence models: next-step pairs for language models, the batch callable the
training engine calls once per epoch, and in-order batches for evaluation and inference.
Written once here for every task recipe."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.batching import BucketBatcher, make_batch


def next_step_pair(sequence: Tensor, start: Tensor | int) -> tuple[Tensor, Tensor]:
    """Teacher forcing: input x<t> = y<t-1>, with a start symbol as x<1>.

    sequence (T,) ids or (T, D) frames -> (inputs, targets), both of length T:
    inputs = [start, y<1>, ..., y<T-1>], targets = [y<1>, ..., y<T>].
    `start` is a token id (e.g. <bos>) or a (D,) frame (e.g. all zeros).
    """
    if isinstance(start, int):
        first = torch.tensor([start], dtype=sequence.dtype)
    else:
        first = start.to(sequence.dtype)[None]  # (1, D)
    return torch.cat([first, sequence[:-1]]), sequence


E = TypeVar("E")
Pair = tuple[Tensor, Tensor | None]


def collate_pairs(examples: Sequence[Pair]) -> Batch:
    """(input, target) examples -> one padded Batch; targets None when the examples have none."""
    targets = [y for _, y in examples]
    return make_batch(
        [x for x, _ in examples],
        None if any(y is None for y in targets) else targets,  # type: ignore[arg-type]
    )


def input_length(example: Any) -> int:
    """The number of steps of an example whose first item is its (T, ...) input."""
    return len(example[0])


def epoch_batches(
    examples: Sequence[E],
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    rank: int = 0,
    world_size: int = 1,
    transform: Callable[[int, int, E], E] | None = None,
    collate: Callable[[Sequence[E]], Batch] = collate_pairs,  # type: ignore[assignment]
    length: Callable[[E], int] = input_length,
    bucket: bool = True,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: examples bucketed by `length`, shuffled per epoch from `seed`,
    sharded by rank, each batch made by `collate`; the same epoch always gives the same
    batches. By default an example is an (input, target) pair.

    `transform(epoch, index, example)`, if given, changes an example for one epoch (data
    augmentation, word dropout); it must be deterministic in its arguments. `bucket=False`
    makes plain random batches (more padding, but batches that differ more from epoch to
    epoch, which helps where data are few).
    """
    batcher = BucketBatcher(
        [length(e) for e in examples],
        batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        bucket=bucket,
    )

    def batches(epoch: int) -> list[Batch]:
        return [
            collate(
                [
                    examples[i] if transform is None else transform(epoch, i, examples[i])
                    for i in indices
                ]
            )
            for indices in batcher.batches(epoch)
        ]

    return batches


def in_order_batches(
    examples: Sequence[E],
    batch_size: int,
    collate: Callable[[Sequence[E]], Batch] = collate_pairs,  # type: ignore[assignment]
    length: Callable[[E], int] = input_length,
) -> list[tuple[list[int], Batch]]:
    """Evaluation batches: bucketed by length in a fixed order (no shuffling), each with the
    indices of its examples, so that results can be put back in input order."""
    batcher = BucketBatcher([length(e) for e in examples], batch_size, shuffle=False)
    return [(indices, collate([examples[i] for i in indices])) for indices in batcher.batches()]
