"""Truncated backpropagation through time over one long sequence (a whole text, a recording).

Backpropagation through time over a 1,000,000-character text would keep the graph of a
million steps. Truncated BPTT cuts the sequence into windows of T steps and backpropagates
inside a window only, but carries the *value* of the recurrent state from one window to the
next:

    a<0> of window k+1  =  stopgrad(a<T> of window k)        (zero for the first window)

so the forward pass computes exactly the states and logits of one pass over the whole sequence,
and only the gradient is cut at window boundaries. The graph never spans more than one window,
and memory stays flat however long the sequence is.

Batched, the sequence is cut into B contiguous streams and batch k holds window k of every
stream, (B, T); row b of batch k continues row b of batch k-1:

    stream 0:  [ window 0 | window 1 | window 2 | ... ]      batch k = column k
    stream 1:  [ window 0 | window 1 | window 2 | ... ]
    ...

Two pieces, which meet in `Batch.extras["continues"]`, a (B,) bool per batch:

    stream_batches(inputs, targets, B, T)   the windows, first batch marked False (start from
                                            zero), the others True (continue the carried state)
    StatefulLanguageModel                   a LanguageModel whose forward starts each row from
                                            the detached final state of the previous batch when
                                            that row continues, from zero otherwise

Each epoch (and each evaluation) begins with a batch marked False, which resets the carry.
The training engine sees the carry only through `carry_state_dict` / `load_carry_state_dict`
(`rnnkit.train.carry`): a checkpoint saved in the middle of an epoch keeps it, so a resumed
run continues with the state the interrupted one had, exactly as if never interrupted.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from rnnkit.cells.base import LSTMState, State, map_state
from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.errors import RnnkitError
from rnnkit.models.base import ModelOutput
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

CONTINUES = "continues"  # the Batch.extras key: (B,) bool, True where a row continues the last


def stream_batches(
    inputs: Tensor,
    targets: Tensor,
    streams: int,
    window: int,
    *,
    exact: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> list[Batch]:
    """Cut one long sequence into `streams` parallel streams and those into windows.

    inputs, targets: (N,) ids (or (N, D) frames), position t of `inputs` predicting position t
    of `targets`. Returns batches with inputs (B, T') and targets (B, T'), T' <= window, and
    extras["continues"] (B,): False in the first batch, True after.

    exact=False (training): every stream has S = N // (streams * world_size) steps; the last
        N - S * streams * world_size (< streams * world_size) positions are left out. Under
        torchrun, rank r takes streams r*B .. r*B+B-1, so every rank gets as many batches.
        The last window may be shorter than `window`; within a batch all rows have one length.
    exact=True (evaluation): every position is in exactly one stream, so the count-weighted
        mean loss over the batches is the exact per-step loss of the whole sequence. Streams
        have q or q+1 steps (N = q*B + r: the first r streams are one longer); in the last
        window the shorter rows are padded (lengths and mask say so). The window grows by a
        few steps when needed so that no row of a batch is empty; window sizes do not change
        the forward pass, which carries the state either way.
    """
    N = inputs.shape[0]
    if targets.shape[0] != N:
        raise RnnkitError(f"inputs and targets differ in length: {N} and {targets.shape[0]}")
    if N < 1:
        raise RnnkitError("an empty sequence has no windows")
    if streams < 1 or window < 1:
        raise RnnkitError(f"streams and window must be at least 1, got {streams} and {window}")
    if exact:
        if world_size != 1:
            raise RnnkitError("exact stream batches are not sharded: evaluate on every rank")
        lengths, starts, window = _exact_streams(N, streams, window)
    else:
        lengths, starts = _training_streams(N, streams, rank, world_size)
    return _windows(inputs, targets, lengths, starts, window)


def _exact_streams(N: int, streams: int, window: int) -> tuple[Tensor, Tensor, int]:
    """Evaluation streams covering all N positions: (lengths (B,), starts (B,), window).

    N = q*B + r: the first r streams have q + 1 steps, the others q. The window grows when the
    shorter rows would otherwise be empty in the last window.
    """
    streams = min(streams, N)
    q, r = divmod(N, streams)
    lengths = torch.full((streams,), q, dtype=torch.long)
    lengths[:r] += 1
    while r > 0 and q % window == 0:  # the shorter rows would be empty in the last window
        window += 1
    starts = torch.cumsum(lengths, 0) - lengths  # (B,)
    return lengths, starts, window


def _training_streams(N: int, streams: int, rank: int, world_size: int) -> tuple[Tensor, Tensor]:
    """This rank's training streams, S = N // (streams * world_size) steps each:
    (lengths (B,), starts (B,)); rank r takes streams r*B .. r*B+B-1."""
    total = streams * world_size
    q = N // total
    if q < 1:
        raise RnnkitError(
            f"a sequence of {N} steps cannot be cut into {total} streams; use fewer "
            "streams (a smaller batch size) or more data"
        )
    lengths = torch.full((streams,), q, dtype=torch.long)
    starts = (torch.arange(streams) + rank * streams) * q  # (B,)
    return lengths, starts


def _windows(
    inputs: Tensor, targets: Tensor, lengths: Tensor, starts: Tensor, window: int
) -> list[Batch]:
    """Cut the streams (row b: positions starts[b] .. starts[b] + lengths[b] - 1) into
    batches of at most `window` steps, rows past their length padded (lengths and mask)."""
    N = inputs.shape[0]
    width = int(lengths.max())
    index = (starts[:, None] + torch.arange(width)[None, :]).clamp(max=N - 1)  # (B, width)
    x_all = inputs[index]  # (B, width) or (B, width, D)
    y_all = targets[index]
    batches = []
    for k, lo in enumerate(range(0, width, window)):
        hi = min(lo + window, width)
        lens = (lengths - lo).clamp(min=0, max=hi - lo)  # (B,)
        batches.append(
            Batch(
                inputs=x_all[:, lo:hi].contiguous(),  # (B, T')
                lengths=lens,
                mask=mask_from_lengths(lens, hi - lo),  # (B, T')
                targets=y_all[:, lo:hi].contiguous(),
                extras={CONTINUES: torch.full((len(lens),), k > 0)},
            )
        )
    return batches


class StatefulLanguageModel(LanguageModel):
    """A LanguageModel that carries its recurrent state from one batch to the next.

    forward(batch) runs row b from

        a<0>_b = carry_b   if batch.extras["continues"][b]  (the final state of the last batch)
               = 0         otherwise

    then keeps the new final state, detached, as the carry. Without "continues" in the extras
    (an ordinary batch of independent sequences) it behaves exactly as LanguageModel. The
    parameters, their names and `generate` are LanguageModel's, so a checkpoint saved from
    this model is a plain "language_model" checkpoint and loads as one.
    """

    def __init__(self, config: LanguageModelConfig):
        super().__init__(config)
        self.carry: State | None = None  # (L, B, H) or LSTMState of two; never a parameter

    def reset(self) -> None:
        """Forget the carried state (the next batch starts from zero whatever it says)."""
        self.carry = None

    def initial_state(self, batch: Batch) -> State | None:
        """The state each row of `batch` starts from: the carry where it continues, else zero.

        None (all zero) when the batch marks no continuation or there is no carry of its size:
        the first batch of an epoch, or the first batch after a resume from mid-epoch.
        """
        continues = batch.extras.get(CONTINUES)
        if continues is None or self.carry is None:
            return None
        carry_rows = (self.carry.a if isinstance(self.carry, LSTMState) else self.carry).shape[1]
        if carry_rows != batch.size:
            return None
        keep = continues.to(torch.bool)[None, :, None]  # (1, B, 1)
        return map_state(lambda s: torch.where(keep, s, torch.zeros_like(s)), self.carry)

    def forward_batch(self, batch: Batch) -> ModelOutput:
        logits, final = self.run(batch.inputs, batch.lengths, self.initial_state(batch))
        # Detached: the next window's graph starts here, so backpropagation (and memory) stops
        # at the window boundary while the forward values carry on.
        self.carry = map_state(lambda s: s.detach(), final) if CONTINUES in batch.extras else None
        return self.output(batch, logits)

    def carry_state_dict(self) -> dict[str, Tensor]:
        """The carried state as named tensors, {"a"} or {"a", "c"} (LSTM); {} when none."""
        if self.carry is None:
            return {}
        if isinstance(self.carry, LSTMState):
            return {"a": self.carry.a, "c": self.carry.c}
        return {"a": self.carry}

    def load_carry_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Carry the state `carry_state_dict` returned (e.g. from a mid-epoch checkpoint)."""
        if not state:
            self.carry = None
        elif "c" in state:
            self.carry = LSTMState(state["a"], state["c"])
        else:
            self.carry = state["a"]

    @classmethod
    def from_language_model(cls, model: LanguageModel) -> StatefulLanguageModel:
        """A stateful model with a copy of `model`'s weights (e.g. of one from load_model)."""
        like = model.head.W_ya
        stateful = cls(model.config).to(device=like.device, dtype=like.dtype)
        stateful.load_state_dict(model.state_dict())
        return stateful.train(model.training)
