"""From variable-length examples to padded batches, and which examples go in which batch.

Sequences in a batch have different lengths T_i. They are padded at the end to the longest one,
T = max_i T_i, and travel with `lengths` (B,) and a (B, T) bool `mask` (True on real steps), so
that the recurrent layer can keep its state over padding and the loss can skip it
(see `rnnkit.data.batch.Batch`).

Padding costs compute: every padded step still runs through the recurrence. `BucketBatcher`
groups examples of similar length into the same batch (sort within large shuffled chunks, then
shuffle the order of the batches), which keeps the padding small while the batches stay random
from epoch to epoch; `padding_fraction` measures how much was wasted.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import DataError, RnnkitError

IGNORE_INDEX = -100
"""Default padding for integer per-step targets: `torch.nn.functional.cross_entropy` skips it."""


def pad_sequences(
    seqs: Sequence[Tensor], pad_value: float = 0, pad_trailing: bool = False
) -> tuple[Tensor, Tensor]:
    """Stack sequences of different lengths into one end-padded tensor.

    seqs: B tensors of shape (T_i,) (token ids) or (T_i, D) (feature frames), all of one dtype.
    Returns (padded, lengths): padded (B, T, ...) with T = max T_i, filled with `pad_value`
    after each sequence's end; lengths (B,) int64 = T_i.

    The trailing dimensions must agree (a feature-size mismatch is an error) unless
    `pad_trailing=True`, which pads every dimension to the batch maximum, e.g. per-token
    character ids (T_i, W_i) with words of different lengths W_i.
    """
    if len(seqs) == 0:
        raise RnnkitError("cannot pad an empty list of sequences")
    first = seqs[0]
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise RnnkitError(f"example {i}: expected a tensor, got {type(s).__name__}")
        if s.dim() == 0:
            raise RnnkitError(
                f"example {i}: expected a sequence (T,) or (T, D), got a scalar tensor"
            )
        if s.shape[0] == 0:
            raise DataError(
                f"example {i} is empty (length 0); every sequence needs at least one step"
            )
        if s.dtype != first.dtype:
            raise RnnkitError(f"example {i} has dtype {s.dtype}, example 0 has {first.dtype}")
        if s.dim() != first.dim():
            raise RnnkitError(
                f"example {i} has shape {tuple(s.shape)}, example 0 has {tuple(first.shape)}: "
                "all sequences need the same number of dimensions"
            )
        if not pad_trailing and s.shape[1:] != first.shape[1:]:
            raise RnnkitError(
                f"example {i} has shape {tuple(s.shape)}, "
                f"expected (T, {', '.join(map(str, first.shape[1:]))}) "
                f"like example 0"
            )
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.int64)  # (B,)
    max_shape = [max(s.shape[d] for s in seqs) for d in range(first.dim())]
    padded = first.new_full((len(seqs), *max_shape), pad_value)  # (B, T, ...)
    for i, s in enumerate(seqs):
        where: tuple[int | slice, ...] = (i, *(slice(0, n) for n in s.shape))
        padded[where] = s
    return padded, lengths


def _collate(
    name: str,
    values: Tensor | Sequence[Tensor],
    lengths: Tensor,
    pad_value: float | None,
    pad_trailing: bool = False,
) -> Tensor:
    """Targets or extras of a batch: a ready tensor, stacked scalars, or padded per-step values."""
    B = int(lengths.shape[0])
    if isinstance(values, Tensor):
        if values.dim() == 0 or values.shape[0] != B:
            raise RnnkitError(
                f"{name}: expected a tensor with batch size {B} first, "
                f"got shape {tuple(values.shape)}"
            )
        return values
    if len(values) != B:
        raise RnnkitError(f"{name}: got {len(values)} values for {B} inputs")
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise RnnkitError(f"{name}: example {i} is a {type(v).__name__}, expected a tensor")
    if all(v.dim() == 0 for v in values):
        return torch.stack(list(values))  # (B,) one value per sequence
    for i, v in enumerate(values):
        if v.dim() == 0 or v.shape[0] != int(lengths[i]):
            raise RnnkitError(
                f"{name}: example {i} has shape {tuple(v.shape)} but its input has "
                f"{int(lengths[i])} steps; per-step values need one entry per input step "
                "(for one value per sequence pass scalars, or a stacked (B, ...) tensor)"
            )
    if pad_value is None:
        pad_value = IGNORE_INDEX if not values[0].dtype.is_floating_point else 0.0
    padded, _ = pad_sequences(values, pad_value, pad_trailing=pad_trailing)  # (B, T, ...)
    return padded


def make_batch(
    inputs: Sequence[Tensor] | Sequence[tuple[Tensor, Tensor]],
    targets: Tensor | Sequence[Tensor] | None = None,
    pad_value: float = 0,
    target_pad: float | None = None,
    extras: Mapping[str, Tensor | Sequence[Tensor]] | None = None,
) -> Batch:
    """Collate B examples into a `Batch` with lengths and mask.

    inputs:  B tensors (T_i,) ids or (T_i, D) features -> inputs (B, T) or (B, T, D), padded
             with `pad_value` (0, the `<pad>` id).
    targets: per-step sequences (T_i, ...) -> padded to (B, T, ...) with `target_pad`
             (default -100 for integer targets, which cross-entropy ignores, 0.0 for float
             targets); B scalar tensors -> stacked to (B,); or a ready (B, ...) tensor.
    extras:  named values collated the same way; sequences are padded with 0 in every
             dimension (e.g. character ids (T_i, W_i) -> (B, T, W)).

    It is also a `torch.utils.data.DataLoader` collate_fn: the loader calls it on a list of
    B dataset items, each an input tensor or an (input, target) pair, which is split here:

        DataLoader(dataset, batch_sampler=BucketBatcher(lengths, 32), collate_fn=make_batch)
    """
    inputs, targets = _split_pairs(inputs, targets)
    padded, lengths = pad_sequences(inputs, pad_value)  # (B, T, ...), (B,)
    mask = mask_from_lengths(lengths, padded.shape[1])  # (B, T)
    collated_targets = None
    if targets is not None:
        collated_targets = _collate("targets", targets, lengths, target_pad)
    collated_extras = {
        key: _collate(f"extras[{key!r}]", value, lengths, 0, pad_trailing=True)
        for key, value in (extras or {}).items()
    }
    return Batch(padded, lengths, mask, collated_targets, collated_extras)


def _split_pairs(
    items: Sequence[Tensor] | Sequence[tuple[Tensor, Tensor]],
    targets: Tensor | Sequence[Tensor] | None,
) -> tuple[list[Tensor], Tensor | Sequence[Tensor] | None]:
    """(inputs, targets) from B (input, target) pairs (a DataLoader's items); else as given."""
    if targets is not None or not items or isinstance(items[0], Tensor):
        return list(items), targets  # type: ignore[arg-type]  # tensors, checked when padded
    pairs: list[tuple[Tensor, Tensor]] = []
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise RnnkitError(
                f"example {i}: expected a tensor or an (input, target) pair, "
                f"got {type(item).__name__}"
                + (f" of {len(item)} values" if isinstance(item, (tuple, list)) else "")
            )
        pairs.append((item[0], item[1]))
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


class BucketBatcher(Sampler[list[int]]):
    """Which examples form each batch: length-bucketed, shuffled per epoch, shardable.

    For epoch e, with `shuffle=True`:
      1. shuffle all example indices;
      2. cut them into chunks of `chunk_batches * batch_size` and sort each chunk by length
         (`bucket=False` skips this: plain random batches);
      3. cut each chunk into batches of `batch_size` (only the very last batch can be short;
         `drop_last=True` drops it);
      4. shuffle the order of the batches, so long and short batches alternate over the epoch;
      5. with `world_size > 1`, deal the batches round-robin to the ranks: rank r gets batches
         r, r + W, r + 2W, ... The batch list is first padded to a multiple of W by repeating
         its first batches (or cut to a multiple of W with `drop_last=True`), so every rank
         yields the same number of batches and DistributedDataParallel never waits on a rank
         that has run out.

    With `shuffle=False` steps 1 and 4 are skipped (evaluation: a fixed order).

    The random order depends only on (seed, epoch): it is drawn from Python's `random.Random`
    seeded with the string "rnnkit-batches:{seed}:{epoch}" (string seeding hashes with SHA-512,
    not the per-process `hash()`), so every run, process and machine gets the same batches, and
    every rank of a distributed job sees the same global order before taking its share.

    The batcher yields index lists; the caller picks its examples and collates them with
    `make_batch`. It is a torch `Sampler` of batches: iterating it yields the batches of the
    epoch last given to `set_epoch` (0 at first; as `DistributedSampler`, call
    `set_epoch(e)` before each epoch, which `rnnkit.train.fit` does for a DataLoader), so
    `DataLoader(dataset, batch_sampler=batcher, collate_fn=make_batch)` loads them.
    """

    def __init__(
        self,
        lengths: Sequence[int] | Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        bucket: bool = True,
        chunk_batches: int = 50,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if isinstance(lengths, Tensor):
            lengths = [int(n) for n in lengths.tolist()]
        self.lengths: list[int] = [int(n) for n in lengths]
        if batch_size < 1:
            raise RnnkitError(f"batch_size must be >= 1, got {batch_size}")
        if chunk_batches < 1:
            raise RnnkitError(f"chunk_batches must be >= 1, got {chunk_batches}")
        if world_size < 1:
            raise RnnkitError(f"world_size must be >= 1, got {world_size}")
        if not 0 <= rank < world_size:
            raise RnnkitError(f"rank must be in 0..{world_size - 1}, got {rank}")
        for i, n in enumerate(self.lengths):
            if n < 1:
                raise DataError(
                    f"example {i} is empty (length {n}); every sequence needs at least one step"
                )
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket = bucket
        self.chunk_batches = chunk_batches
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

        n = len(self.lengths)
        total = n // batch_size if drop_last else math.ceil(n / batch_size)
        per_rank = total // world_size if drop_last else math.ceil(total / world_size)
        if n > 0 and per_rank == 0:
            raise RnnkitError(
                f"{n} examples make {total} full batches of {batch_size}, fewer than "
                f"world_size={world_size}: lower batch_size or set drop_last=False"
            )
        self._global_batches = total
        self._per_rank = per_rank

    def __len__(self) -> int:
        """Batches this rank yields per epoch (the same in every epoch and on every rank)."""
        return self._per_rank

    def __iter__(self) -> Iterator[list[int]]:
        """The batches of epoch `self.epoch` (see `set_epoch`), as a torch batch sampler."""
        return iter(self.batches(self.epoch))

    def set_epoch(self, epoch: int) -> None:
        """Which epoch's batches iterating yields from now on."""
        self.epoch = epoch

    def batches(self, epoch: int = 0) -> list[list[int]]:
        """This rank's batches for `epoch`, each a list of example indices."""
        rng = random.Random(f"rnnkit-batches:{self.seed}:{epoch}")
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        if self.bucket:
            chunk = self.chunk_batches * self.batch_size
            order = [
                i
                for start in range(0, len(order), chunk)
                for i in sorted(order[start : start + chunk], key=self.lengths.__getitem__)
            ]
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        batches = batches[: self._global_batches]  # drop_last removes the short one
        if self.shuffle:
            rng.shuffle(batches)
        if self.world_size > 1:
            wanted = self._per_rank * self.world_size
            if len(batches) < wanted:  # pad by cycling from the start
                batches = batches + [
                    batches[i % len(batches)] for i in range(wanted - len(batches))
                ]
            batches = batches[:wanted][self.rank :: self.world_size]
        return batches


def padding_fraction(batches: Sequence[Sequence[int]], lengths: Sequence[int] | Tensor) -> float:
    """Fraction of the padded (B, T) cells over all batches that are padding, in [0, 1).

    Each batch costs len(batch) * max length in it; the real steps are the sum of its lengths.
    """
    if isinstance(lengths, Tensor):
        lengths = [int(n) for n in lengths.tolist()]
    cells = 0
    real = 0
    for batch in batches:
        batch_lengths = [lengths[i] for i in batch]
        if not batch_lengths:
            continue
        cells += len(batch_lengths) * max(batch_lengths)
        real += sum(batch_lengths)
    return 0.0 if cells == 0 else (cells - real) / cells
