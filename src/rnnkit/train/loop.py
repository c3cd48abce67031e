"""The epoch loop's two decisions besides the step: where a resumed epoch starts (skip the
batches an interrupted run already trained on) and whether to go on (under torchrun every rank
must take the same decision, or the next collective operation hangs)."""

from __future__ import annotations

from collections.abc import Iterator

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.train.distributed import DistInfo, all_reduce_max


def skip_done(batches: Iterator[Batch], done: int, epoch: int) -> None:
    """Advance `batches`, train_batches(epoch)'s iterator, past the `done` batches that an
    interrupted run trained on; the data must still yield them."""
    for i in range(done):
        if next(batches, None) is None:
            raise RnnkitError(
                f"resuming epoch {epoch + 1} at batch {done + 1}, but "
                f"train_batches({epoch}) yields only {i}: the data changed"
            )


def agree_across_ranks(
    end: bool, stop: bool, dist: DistInfo, epoch: int, steps: int
) -> tuple[bool, bool]:
    """(end, stop) as all ranks decide them: the epoch ends when the batches ran out, which
    must happen on every rank at once; the run stops when any rank was asked to stop.

    end:   this rank's train batches ran out.
    stop:  this rank was asked to stop (Ctrl-C or SIGTERM).
    steps: the steps this epoch has taken, for the error message.
    """
    if not dist.is_distributed:
        return end, stop
    missing, present, any_stop = all_reduce_max([float(end), float(not end), float(stop)], dist)
    if missing > 0 and present > 0:
        raise RnnkitError(
            f"epoch {epoch + 1}: the ranks yielded different numbers of batches "
            f"(rank {dist.rank} {'ran out' if end else 'has more'} after "
            f"{steps}); shard so that every rank gets as many batches"
        )
    return missing > 0, any_stop > 0
