"""Examples for sequence models: next-step pairs for language models, and batch callables that
the training engine can call once per epoch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def epoch_batches(
    examples: Sequence[tuple[Tensor, Tensor]],
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    rank: int = 0,
    world_size: int = 1,
    transform: Callable[[int, int, tuple[Tensor, Tensor]], tuple[Tensor, Tensor]] | None = None,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: (input, target) examples bucketed by length, shuffled per epoch from
    `seed`, sharded by rank; the same epoch always gives the same batches.

    `transform(epoch, index, example)`, if given, changes an example for one epoch (data
    augmentation); it must be deterministic in its arguments.
    """
    batcher = BucketBatcher(
        [len(x) for x, _ in examples],
        batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
    )

    def batches(epoch: int) -> list[Batch]:
        out = []
        for indices in batcher.batches(epoch):
            chosen = [
                examples[i] if transform is None else transform(epoch, i, examples[i])
                for i in indices
            ]
            out.append(make_batch([x for x, _ in chosen], [y for _, y in chosen]))
        return out

    return batches
