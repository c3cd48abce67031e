"""The habits PyTorch users bring: DataLoader batching, models and layers called on tensors,
fit on a DataLoader with callbacks and a torch lr scheduler, save_model / load_model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from rnnkit.data.batch import Batch
from rnnkit.data.batching import BucketBatcher, make_batch
from rnnkit.errors import RnnkitError
from rnnkit.layers import RNN
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.train import TrainConfig, fit, load_model, save_model

V = 7


def _examples(n: int = 24, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(token ids (T_i,), tags (T_i,)) pairs; the tag of a step is its token id mod 2."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randint(1, V, (int(torch.randint(2, 8, (1,), generator=g)),), generator=g)
        out.append((x, x % 2))
    return out


def _tagger(seed: int = 0) -> SequenceTagger:
    torch.manual_seed(seed)
    encoder = EncoderConfig(vocab_size=V, embedding_dim=6, hidden_size=8, bidirectional=False)
    return SequenceTagger(TaggerConfig(encoder=encoder, num_tags=2))


def _loader(data: list[tuple[torch.Tensor, torch.Tensor]], seed: int = 0) -> DataLoader[Any]:
    sampler = BucketBatcher([len(x) for x, _ in data], 5, seed=seed)
    return DataLoader(data, batch_sampler=sampler, collate_fn=make_batch)  # type: ignore[arg-type]


def test_make_batch_is_a_collate_fn_and_bucket_batcher_a_batch_sampler() -> None:
    data = _examples()
    loader = _loader(data)
    sampler = loader.batch_sampler
    assert isinstance(sampler, BucketBatcher)
    assert len(loader) == len(sampler) == 5
    batches = list(loader)
    assert [b.size for b in batches] == [len(ix) for ix in sampler.batches(0)]
    for batch, indices in zip(batches, sampler.batches(0)):
        expected = make_batch([data[i][0] for i in indices], [data[i][1] for i in indices])
        assert torch.equal(batch.inputs, expected.inputs)
        assert batch.targets is not None and expected.targets is not None
        assert torch.equal(batch.targets, expected.targets)
    sampler.set_epoch(1)
    assert [b.size for b in loader] == [len(ix) for ix in sampler.batches(1)]
    assert sampler.batches(1) != sampler.batches(0)
    # inputs alone (no targets), and a malformed item named
    only = DataLoader([x for x, _ in data], batch_size=4, collate_fn=make_batch)
    assert next(iter(only)).targets is None
    with pytest.raises(RnnkitError, match=r"example 1: expected a tensor or an \(input, target\)"):
        make_batch([(data[0][0], data[0][1]), (data[1][0],)])  # type: ignore[list-item]


def test_models_are_callable_on_tensors_like_on_a_batch() -> None:
    data = _examples(6)
    batch = make_batch([x for x, _ in data], [y for _, y in data])
    tagger = _tagger().eval()
    by_batch = tagger(batch)
    by_tensors = tagger(batch.inputs, batch.lengths, batch.targets)
    assert torch.equal(by_batch.logits, by_tensors.logits)
    assert by_batch.loss is not None and by_tensors.loss is not None
    assert torch.equal(by_batch.loss, by_tensors.loss)
    torch.manual_seed(0)
    classifier = SequenceClassifier(
        ClassifierConfig(encoder=EncoderConfig(vocab_size=V, embedding_dim=4, hidden_size=5))
    ).eval()
    full = torch.randint(1, V, (3, 5))
    no_lengths = classifier(full).logits  # every sequence runs to T
    assert torch.equal(no_lengths, classifier(full, torch.tensor([5, 5, 5])).logits)
    with pytest.raises(RnnkitError, match="takes the lengths, targets and extras from the batch"):
        tagger(batch, batch.lengths)
    with pytest.raises(RnnkitError, match=r"inputs of shape \(B, T\)"):
        tagger(torch.tensor([1, 2, 3]))


def test_lstm_takes_a_plain_h0_c0_tuple_like_torch() -> None:
    rnn = RNN("lstm", 3, 4, num_layers=2)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])
    h0, c0 = torch.randn(2, 2, 4), torch.randn(2, 2, 4)
    out, final = rnn(x, lengths, (h0, c0))
    ref_out, ref_final = rnn(x, lengths, type(final)(h0, c0))
    assert torch.equal(out, ref_out) and torch.equal(final.c, ref_final.c)
    assert not torch.equal(out, rnn(x, lengths)[0])  # the state was used
    with pytest.raises(RnnkitError, match="a gru stack takes h0"):
        RNN("gru", 3, 4)(x, lengths, (h0, c0))


class _Recorder:
    def __init__(self) -> None:
        self.epochs: list[tuple[int, dict[str, Any]]] = []
        self.steps: list[tuple[int, float]] = []

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        self.epochs.append((epoch, dict(metrics)))

    def on_step_end(self, step: int, loss: float) -> None:
        self.steps.append((step, loss))


def test_fit_on_a_dataloader_with_callbacks_scheduler_and_logging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train, dev = _loader(_examples(20, 1)), _loader(_examples(10, 2))
    recorder = _Recorder()
    with caplog.at_level(logging.INFO, logger="rnnkit.train"):
        result = fit(
            _tagger(),
            train,
            dev,
            TrainConfig(epochs=3, lr=0.1, progress=False),
            out_dir=tmp_path,
            callbacks=[recorder],
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
        )
    assert [e for e, _ in recorder.epochs] == [1, 2, 3]
    assert [m["lr"] for _, m in recorder.epochs] == pytest.approx([0.1, 0.05, 0.025])
    assert [s for s, _ in recorder.steps] == list(range(1, 13))  # 4 batches x 3 epochs
    assert all(loss > 0 for _, loss in recorder.steps)
    assert recorder.epochs[-1][1]["dev_loss"] == result.history[-1]["dev_loss"]
    lines = [r.getMessage() for r in caplog.records if r.name == "rnnkit.train"]
    assert [line.split()[1] for line in lines if line.startswith("epoch")] == ["1/3", "2/3", "3/3"]
    # the same DataLoader twice gives the same run: the batches depend on the epoch alone
    again = fit(_tagger(), train, dev, TrainConfig(epochs=3, lr=0.1, progress=False))
    assert again.history[-1]["dev_loss"] != result.history[-1]["dev_loss"]  # no scheduler
    with pytest.raises(RnnkitError, match="one-shot iterator"):
        fit(_tagger(), iter(list(train)), None, TrainConfig(epochs=1, progress=False))
    same_length = [(torch.ones(3, dtype=torch.int64), torch.ones(3, dtype=torch.int64))] * 8
    plain = DataLoader(same_length, batch_size=4)  # torch's default collate: a list
    with pytest.raises(RnnkitError, match="collate_fn=rnnkit.data.batching.make_batch"):
        fit(_tagger(), plain, None, TrainConfig(epochs=1, progress=False))


def test_dataloader_runs_equal_the_function_of_the_epoch() -> None:
    loader = _loader(_examples(20, 1))
    sampler = loader.batch_sampler
    assert isinstance(sampler, BucketBatcher)
    data = _examples(20, 1)

    def by_epoch(epoch: int) -> list[Batch]:
        return [make_batch([data[i] for i in ix]) for ix in sampler.batches(epoch)]

    config = TrainConfig(epochs=2, progress=False)
    a = fit(_tagger(), loader, list(_loader(_examples(6, 2))), config)
    b = fit(_tagger(), by_epoch, list(_loader(_examples(6, 2))), config)
    for ra, rb in zip(a.history, b.history):
        assert ra["train_loss"] == rb["train_loss"] and ra["dev_loss"] == rb["dev_loss"]


def test_fit_records_the_model_so_load_model_needs_nothing_else(tmp_path: Path) -> None:
    data = _examples(12)
    batches = list(_loader(data))
    model = _tagger()
    fit(model, batches, batches, TrainConfig(epochs=2, progress=False), out_dir=tmp_path)
    loaded, meta = load_model(tmp_path / "best")
    assert meta.model_config["architecture"] == "tagger"
    model.eval()
    assert torch.equal(loaded(batches[0]).logits, model(batches[0]).logits)
    save_model(model, tmp_path / "saved", extras={"note": "x"})
    again, meta = load_model(tmp_path / "saved")
    assert meta.extras == {"note": "x"}
    assert torch.equal(again(batches[0]).logits, model(batches[0]).logits)
    with pytest.raises(RnnkitError, match="not a registered architecture"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "linear")
