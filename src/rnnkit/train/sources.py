"""Where `fit` gets its batches: a callable as before, or any re-iterable of batches.

    fit(model, lambda epoch: batcher_batches(epoch), ...)          # rnnkit's own form
    fit(model, DataLoader(ds, batch_sampler=BucketBatcher(lengths, 32), collate_fn=make_batch))
    fit(model, [batch0, batch1, ...], dev_batches=[dev0, dev1])    # a list

An iterable is iterated afresh every epoch. When it is a DataLoader whose batch sampler or
sampler has `set_epoch` (rnnkit's `BucketBatcher`, torch's `DistributedSampler`), that is
called with the epoch first, so the batches depend on the epoch alone and a resumed run sees
the same ones; a DataLoader over a RandomSampler draws from torch's global generator instead,
which `fit` seeds and checkpoints, but a mid-epoch resume then skips different batches.
A one-shot iterator (a generator) is refused: it would be empty from the second epoch on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError

# What fit takes: this process's batches of an epoch, the whole dev split, and the evaluation.
TrainBatches = Callable[[int], Iterable[Batch]]
DevBatches = Callable[[], Iterable[Batch]]
Evaluate = Callable[[nn.Module, Iterable[Batch]], Mapping[str, float]]

TrainSource = Callable[[int], Iterable[Batch]] | Iterable[Batch]
DevSource = Callable[[], Iterable[Batch]] | Iterable[Batch]


class _Checked:
    """An epoch's batches, each checked to be a Batch (with the source's len when it has one)."""

    def __init__(self, source: Iterable[Any], name: str) -> None:
        self.source = source
        self.name = name

    def __len__(self) -> int:
        if not isinstance(self.source, Sized):
            raise TypeError(f"{self.name} has no len()")
        return len(self.source)

    def __iter__(self) -> Iterator[Batch]:
        for i, batch in enumerate(self.source):
            if not isinstance(batch, Batch):
                raise RnnkitError(
                    f"{self.name} yielded a {type(batch).__name__} as batch {i}, expected an "
                    "rnnkit Batch: give the DataLoader collate_fn=rnnkit.data.batching.make_batch"
                )
            yield batch


def on_device(batches: Iterable[Batch], device: str | torch.device) -> Iterator[Batch]:
    """The batches, each moved to `device` as it is drawn."""
    for batch in batches:
        yield batch.to(device)


def _reiterable(source: Iterable[Any], name: str) -> Iterable[Any]:
    if iter(source) is source:
        raise RnnkitError(
            f"{name} is a one-shot iterator ({type(source).__name__}): it would be empty after "
            "the first epoch; pass a list, a DataLoader or a function of the epoch"
        )
    return source


def _set_epoch(source: Iterable[Any], epoch: int) -> None:
    if isinstance(source, DataLoader):
        for sampler in (source.batch_sampler, source.sampler):
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(epoch)  # type: ignore[union-attr]
                return


def train_source(train_batches: TrainSource) -> Callable[[int], Iterable[Batch]]:
    """`train_batches(epoch)` from a callable (returned as it is) or a re-iterable."""
    if callable(train_batches) and not isinstance(train_batches, Iterable):
        return train_batches
    source = _reiterable(train_batches, "train_batches")
    if not isinstance(source, Sized):

        def unsized(epoch: int) -> Iterable[Batch]:
            _set_epoch(source, epoch)
            return iter(_Checked(source, "train_batches"))

        return unsized

    def epoch_batches(epoch: int) -> Iterable[Batch]:
        _set_epoch(source, epoch)
        return _Checked(source, "train_batches")

    return epoch_batches


def dev_source(dev_batches: DevSource | None) -> Callable[[], Iterable[Batch]] | None:
    """`dev_batches()` from None, a callable (returned as it is) or a re-iterable."""
    if dev_batches is None or (callable(dev_batches) and not isinstance(dev_batches, Iterable)):
        return dev_batches
    source = _reiterable(dev_batches, "dev_batches")
    return lambda: _Checked(source, "dev_batches")
