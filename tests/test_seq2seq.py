"""The encoder-decoder: batch convention, loss, teacher forcing, executions, summary,
checkpoints, and learning a handful of pairs by heart. Decoding: tests/test_seq2seq_decoding.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnkit.data.sequences import epoch_batches
from rnnkit.errors import RnnkitError
from rnnkit.models import Seq2Seq, Seq2SeqConfig, build_model, describe_model, summary
from rnnkit.models.seq2seq import collate_pairs
from rnnkit.train import load_model, save_model

EOS = 3


def tiny(**overrides: Any) -> Seq2SeqConfig:
    base: dict[str, Any] = {
        "source_vocab_size": 12,
        "target_vocab_size": 10,
        "source_embedding_dim": 6,
        "target_embedding_dim": 5,
        "hidden_size": 8,
    }
    return Seq2SeqConfig(**{**base, **overrides})


def model_of(config: Seq2SeqConfig, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(config).double()


def ids(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


PAIRS = [
    (ids(4, 5, 6, 7), ids(5, 6, EOS)),
    (ids(8, 9), ids(7, 8, 9, 4, EOS)),
    (ids(10, 11, 4), ids(6, EOS)),
]


def test_collate_pairs_builds_the_documented_batch() -> None:
    batch = collate_pairs(PAIRS)
    assert batch.inputs.tolist() == [[4, 5, 6, 7], [8, 9, 0, 0], [10, 11, 4, 0]]
    assert batch.lengths.tolist() == [4, 2, 3]
    assert batch.mask.sum(1).tolist() == [4, 2, 3]
    assert batch.targets is not None
    assert batch.targets[0].tolist() == [5, 6, EOS, -100, -100]
    assert batch.extras["target_lengths"].tolist() == [3, 5, 2]
    assert collate_pairs([(ids(4, 5), None)]).targets is None
    batches = epoch_batches(PAIRS, batch_size=2, seed=0, collate=collate_pairs)(0)
    assert sum(b.size for b in batches) == 3


def test_logits_shape_and_count() -> None:
    out = model_of(tiny())(collate_pairs(PAIRS))
    assert out.logits.shape == (3, 5, 10)
    assert int(out.count) == 3 + 5 + 2
    with pytest.raises(RnnkitError, match="greedy"):
        model_of(tiny())(collate_pairs([(ids(4, 5), None)]))


@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5])
def test_logits_of_padded_target_steps_are_zero_and_real_ones_follow_the_steps(
    teacher_forcing: float,
) -> None:
    model = model_of(tiny(teacher_forcing=teacher_forcing, dropout=0.0))
    batch = collate_pairs(PAIRS)
    logits = model.train()(batch).logits
    for b, (x, y) in enumerate(PAIRS):
        assert torch.count_nonzero(logits[b, len(y) :]) == 0
    torch.testing.assert_close(model.eval()(batch).logits[2, :2], own_forced_logits(model, 2))


def own_forced_logits(model: Seq2Seq, index: int) -> torch.Tensor:
    """The step-by-step logits of pair `index` alone, the inputs its true tokens."""
    x, y = PAIRS[index]
    memory, state = model.encode(x[None], torch.tensor([len(x)]))
    prev, rows = torch.tensor([model.config.bos_id]), []
    for t in range(len(y)):
        logits, state, _ = model.decoder.step(prev, state, memory)
        rows.append(logits[0])
        prev = y[t : t + 1]
    return torch.stack(rows)


def hand_loss(model: Seq2Seq, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Each pair alone (no padding), true inputs <bos> y<1..T_y-1>, -log P(y<t>) summed over
    every real target step and divided by their number."""
    total, steps = torch.zeros((), dtype=torch.float64), 0
    for x, y in pairs:
        memory, state = model.encode(x[None], torch.tensor([len(x)]))
        prev = torch.tensor([model.config.bos_id])
        for t in range(len(y)):
            logits, state, _ = model.decoder.step(prev, state, memory)
            total = total - torch.log_softmax(logits[0], -1)[y[t]]
            prev = y[t : t + 1]
            steps += 1
    return total / steps


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_loss_is_the_mean_over_real_target_steps(cell: str) -> None:
    model = model_of(tiny(cell=cell, encoder_layers=2, decoder_layers=2))
    out = model(collate_pairs(PAIRS))
    assert out.loss is not None
    torch.testing.assert_close(out.loss, hand_loss(model, PAIRS))


def test_loss_without_target_lengths_reads_the_padding() -> None:
    model = model_of(tiny())
    batch = collate_pairs(PAIRS)
    with_lengths = model(batch)
    batch.extras.clear()
    without = model(batch)
    assert with_lengths.loss is not None and without.loss is not None
    torch.testing.assert_close(without.loss, with_lengths.loss)
    assert int(without.count) == int(with_lengths.count)


def test_label_smoothing_changes_the_loss_as_cross_entropy_does() -> None:
    plain, smooth = model_of(tiny()), model_of(tiny(label_smoothing=0.1))
    batch = collate_pairs(PAIRS[:1])
    logits = plain(batch).logits[0]  # (T_y, V), one sequence, no padding
    want = torch.nn.functional.cross_entropy(logits, PAIRS[0][1], label_smoothing=0.1)
    got = smooth(batch).loss
    assert got is not None
    torch.testing.assert_close(got, want)


def own_prediction_logits(model: Seq2Seq, x: torch.Tensor, T_y: int) -> torch.Tensor:
    """The decoder fed its own argmax at every step, for one source."""
    memory, state = model.encode(x[None], torch.tensor([len(x)]))
    prev, steps = torch.tensor([model.config.bos_id]), []
    for _ in range(T_y):
        logits, state, _ = model.decoder.step(prev, state, memory)
        steps.append(logits[0])
        prev = logits.argmax(-1)
    return torch.stack(steps)  # (T_y, V)


def test_teacher_forcing_zero_feeds_the_models_own_predictions() -> None:
    forced, free = model_of(tiny()), model_of(tiny(teacher_forcing=0.0))
    forced.train()
    free.train()
    batch = collate_pairs(PAIRS)
    free_logits = free(batch).logits
    assert not torch.allclose(free_logits, forced(batch).logits)
    for b, (x, y) in enumerate(PAIRS):
        want = own_prediction_logits(free, x, len(y))
        torch.testing.assert_close(free_logits[b, : len(y)], want)
    free.eval()  # evaluation always feeds the true tokens
    torch.testing.assert_close(free(batch).logits, forced(batch).logits)


def test_mixed_teacher_forcing_is_repeatable_under_a_seed() -> None:
    model = model_of(tiny(teacher_forcing=0.5)).train()
    batch = collate_pairs(PAIRS)
    torch.manual_seed(7)
    first = model(batch).logits
    torch.manual_seed(7)
    torch.testing.assert_close(model(batch).logits, first)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_fused_encoder_equals_the_readable_loop(cell: str) -> None:
    """ "fused" runs the encoder through PyTorch's sequence kernels and the decoder's cells
    through its one-step kernels; "reference" runs the readable equations."""
    config = tiny(cell=cell, encoder_layers=2)
    batch = collate_pairs(PAIRS)
    outs, grads = [], []
    for execution in ("reference", "fused"):
        model = model_of(dataclasses.replace(config, execution=execution))
        out = model(batch)
        assert out.loss is not None
        out.loss.backward()
        outs.append(out)
        grads.append([p.grad for p in model.parameters()])
    torch.testing.assert_close(outs[1].logits, outs[0].logits)
    torch.testing.assert_close(outs[1].loss, outs[0].loss)
    for fused, reference in zip(grads[1], grads[0]):
        torch.testing.assert_close(fused, reference)


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("cell", "rnn", "--cell"),
        ("attention", "dot", "--attention"),
        ("hidden_size", 0, "--hidden-size"),
        ("teacher_forcing", 1.5, "--teacher-forcing"),
        ("label_smoothing", 1.0, "--label-smoothing"),
        ("eos_id", 10, "--eos-id"),
        ("eos_id", 2, "--eos-id"),
        ("pad_id", 12, "--pad-id"),
        ("max_length_ratio", 0.0, "--max-length-ratio"),
        ("decoder_layers", 0, "--decoder-layers"),
        ("dropout", -0.1, "--dropout"),
    ],
)
def test_config_errors_name_the_field(field: str, value: Any, flag: str) -> None:
    with pytest.raises(RnnkitError, match=f"{flag} \\(Seq2SeqConfig.{field}\\)"):
        tiny(**{field: value})


def test_input_feeding_needs_attention() -> None:
    with pytest.raises(RnnkitError, match="--input-feeding"):
        tiny(attention="none")
    tiny(attention="none", input_feeding=False)


def expected_parameters(c: Seq2SeqConfig) -> int:
    """Counted from the equations: embeddings, cells, bridge, attention, W_c, W_y."""
    H, gates = c.hidden_size, 3 if c.cell == "gru" else 4
    biases = 2 * gates * H if c.cell == "gru" else gates * H  # GRU: b_ax and b_aa

    def cell(D: int) -> int:
        return gates * H * (D + H) + biases

    dirs = 2 if c.bidirectional else 1
    H_enc = dirs * H
    encoder = sum(
        dirs * cell(c.source_embedding_dim if layer == 0 else H_enc)
        for layer in range(c.encoder_layers)
    )
    bridge = c.decoder_layers * H * (H_enc + 1)
    first = c.target_embedding_dim + (H if c.input_feeding else 0)
    decoder = sum(cell(first if layer == 0 else H) for layer in range(c.decoder_layers))
    attention = {"additive": H * (H + H_enc + 1), "general": H * H_enc, "none": 0}[c.attention]
    combine = 0 if c.attention == "none" else H * (H_enc + H) + H
    head = c.target_vocab_size * (H + 1)
    embeddings = (
        c.source_vocab_size * c.source_embedding_dim + c.target_vocab_size * c.target_embedding_dim
    )
    return embeddings + encoder + bridge + decoder + attention + combine + head


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"cell": "lstm", "encoder_layers": 2, "decoder_layers": 2, "attention": "general"},
        {"attention": "none", "input_feeding": False, "bidirectional": False},
    ],
)
def test_summary_rows_and_parameter_count(overrides: dict[str, Any]) -> None:
    config = tiny(**overrides)
    model = Seq2Seq(config)
    table = summary(model)  # raises if the rows miss a parameter
    rows = model.layer_rows()
    assert sum(r.params for r in rows) == expected_parameters(config)
    assert rows[0].name == "source embedding (Embedding)"
    assert rows[-1].output_shape == "(B, T_y, 10)"
    assert ("attention" in table) == (config.attention != "none")
    assert f"Total params: {expected_parameters(config):,}" in table


def test_registered_and_rebuilt_from_its_description() -> None:
    model = Seq2Seq(tiny(attention="general"))
    description = describe_model(model)
    assert description["architecture"] == "seq2seq"
    rebuilt = build_model(description)
    assert isinstance(rebuilt, Seq2Seq) and rebuilt.config == model.config


def test_save_and_load_give_equal_translations(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(tiny(cell="lstm"))
    save_model(model, tmp_path / "m", task="translate")
    loaded, _meta = load_model(tmp_path / "m", expected_task="translate")
    assert isinstance(loaded, Seq2Seq)
    batch = collate_pairs(PAIRS)
    assert loaded.greedy(batch) == model.greedy(batch)
    assert loaded.beam_search(batch, beam=3).tokens == model.beam_search(batch, beam=3).tokens


def by_heart_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Eight pairs of different lengths on both sides (T_x != T_y for most)."""
    sources = [(4, 5), (6, 7, 8), (9, 10, 11, 4), (5, 6), (7,), (8, 9, 10, 11, 4, 5), (11, 10)]
    sources.append((4, 6, 8, 10, 5))
    pairs = []
    for i, source in enumerate(sources):
        target = [4 + (s + i) % 6 for s in reversed(source)][: 2 + i % 4] + [EOS]
        pairs.append((ids(*source), ids(*target)))
    return pairs


def test_overfits_a_handful_of_pairs_and_translates_them_exactly() -> None:
    torch.manual_seed(0)
    config = tiny(hidden_size=32, source_embedding_dim=16, target_embedding_dim=16)
    model = Seq2Seq(config)
    pairs = by_heart_pairs()
    batch = collate_pairs(pairs)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(200):
        optimizer.zero_grad()
        loss = model(batch).loss
        assert loss is not None
        loss.backward()
        optimizer.step()
    want = [y[:-1].tolist() for _, y in pairs]
    assert model.greedy(batch) == want
    assert model.beam_search(batch, beam=3).tokens == want
