"""A tiny tagging task and model for the fit-loop tests, and the settings they share."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.models.base import ModelOutput
from rnnkit.models.losses import sequence_cross_entropy
from rnnkit.train import (
    TrainConfig,
)

V, C = 7, 3  # vocabulary, tag classes


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and do not stall on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Tagger(nn.Module):
    """Embedding -> GRU -> dropout -> Linear, one tag per step: the smallest many-to-many model."""

    def __init__(self, dropout: float = 0.0, H: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, 5)
        self.rnn = nn.GRU(5, H, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(H, C)

    def forward(self, batch: Batch) -> ModelOutput:
        a, _ = self.rnn(self.embed(batch.inputs))  # (B, T, H)
        logits = self.head(self.drop(a))  # (B, T, C)
        assert batch.targets is not None
        loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)


def make_batches(n: int, seed: int, B: int = 4) -> list[Batch]:
    """n batches of variable-length sequences; the tag of a step is its token id mod C."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lengths = torch.randint(2, 7, (B,), generator=g)
        T = int(lengths.max())
        inputs = torch.randint(0, V, (B, T), generator=g)
        mask = mask_from_lengths(lengths, T)
        inputs = inputs.masked_fill(~mask, 0)
        targets = (inputs % C).masked_fill(~mask, -100)
        out.append(Batch(inputs, lengths, mask, targets))
    return out


TRAIN = make_batches(6, seed=1)
DEV = make_batches(2, seed=2)


def train_batches(epoch: int) -> list[Batch]:
    """A different, deterministic order every epoch (as a seeded batcher would give)."""
    order = torch.randperm(len(TRAIN), generator=torch.Generator().manual_seed(100 + epoch))
    return [TRAIN[i] for i in order.tolist()]


def dev_batches() -> list[Batch]:
    return DEV


def new_model(dropout: float = 0.3) -> Tagger:
    torch.manual_seed(0)
    return Tagger(dropout)


# device="cpu": the exactness tests are about CPU arithmetic, also on a machine with a GPU
CONFIG = TrainConfig(
    epochs=4,
    lr=0.02,
    progress=False,
    log_every=4,
    clip_norm=1.0,
    lr_schedule="plateau",
    plateau_patience=0,
    warmup_steps=5,
    seed=3,
    device="cpu",
)
TIMING = ("seconds", "eval_seconds", "tokens_per_s")


def _untimed(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in history]


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


class InterruptAt:
    """train_batches that sends this process SIGINT while producing one given batch."""

    def __init__(self, epoch: int, index: int) -> None:
        self.epoch, self.index = epoch, index

    def __call__(self, epoch: int) -> Iterable[Batch]:
        for i, batch in enumerate(train_batches(epoch)):
            if (epoch, i) == (self.epoch, self.index):
                os.kill(os.getpid(), signal.SIGINT)
            yield batch
