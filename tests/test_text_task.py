"""The character-level text task: truncated BPTT with a carried state, sampling, and the CLI
end to end on a tiny text the test writes."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rnnkit.cli import main
from rnnkit.data.batch import Batch
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.stateful import StatefulLanguageModel, stream_batches
from rnnkit.tasks import text as recipe
from rnnkit.train.fit import evaluate_loss
from rnnkit.train.loading import load_model

TINY_TEXT = "the cat sat on the mat.\n" * 40  # 960 characters, 12 distinct


def small_model(
    cell: str = "lstm", execution: str = "auto", layers: int = 2
) -> StatefulLanguageModel:
    torch.manual_seed(0)
    enc = EncoderConfig(
        vocab_size=11,
        embedding_dim=5,
        cell=cell,
        hidden_size=7,
        num_layers=layers,
        execution=execution,
    )
    return StatefulLanguageModel(LanguageModelConfig(encoder=enc)).double().eval()


def random_text(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, 11, (n,), generator=g)
    return recipe.next_char_pairs(ids, bos=1)


# ------------------------------------------------------------------ truncated BPTT, forward


@pytest.mark.parametrize("cell,execution", [("lstm", "auto"), ("gru", "reference")])
def test_windows_with_a_carried_state_equal_one_pass_over_the_whole_text(
    cell: str, execution: str
) -> None:
    model = small_model(cell, execution)
    inputs, targets = random_text(53)
    batches = stream_batches(inputs, targets, streams=1, window=8)
    assert [b.inputs.shape[1] for b in batches] == [8] * 6 + [5]
    with torch.no_grad():
        windowed = torch.cat([model(b).logits for b in batches], dim=1)  # (1, 53, V)
        whole, _ = model.run(inputs[None])  # one un-windowed pass, from a zero state
    torch.testing.assert_close(windowed, whole, rtol=1e-12, atol=1e-12)
    # without the carry (every window from zero) the logits differ after the first window
    with torch.no_grad():
        cold = torch.cat([model.run(b.inputs)[0] for b in batches], dim=1)
    assert torch.allclose(cold[:, :8], whole[:, :8])
    assert not torch.allclose(cold[:, 8:], whole[:, 8:])


def test_parallel_streams_each_equal_one_pass_over_their_part() -> None:
    model = small_model("lstm")
    inputs, targets = random_text(4 * 13 + 3)  # 3 positions left over for training batches
    batches = stream_batches(inputs, targets, streams=4, window=5)
    with torch.no_grad():
        windowed = torch.cat([model(b).logits for b in batches], dim=1)  # (4, 13, V)
        whole, _ = model.run(inputs[: 4 * 13].view(4, 13))
    torch.testing.assert_close(windowed, whole, rtol=1e-12, atol=1e-12)


def test_exact_evaluation_scores_every_character_once_with_the_state_carried() -> None:
    model = small_model("gru")
    n = 5 * 9 + 3  # 3 streams of 10 characters and 2 of 9
    inputs, targets = random_text(n)
    # window 9 would leave the short rows empty in the last window: it grows to 10
    batches = stream_batches(inputs, targets, streams=5, window=9, exact=True)
    assert all(int(b.lengths.min()) >= 1 for b in batches)
    rows = [
        torch.cat([b.targets[row][b.mask[row]] for b in batches if b.targets is not None])
        for row in range(5)
    ]
    torch.testing.assert_close(torch.cat(rows), targets)  # stream after stream: the whole text
    with torch.no_grad():
        loss = evaluate_loss(model, batches)["loss"]
        total, start = 0.0, 0
        for length in (10, 10, 10, 9, 9):  # reference: one pass per stream, summed
            z, _ = model.run(inputs[None, start : start + length])
            total += float(F.cross_entropy(z[0], targets[start : start + length], reduction="sum"))
            start += length
    assert loss == pytest.approx(total / n, rel=1e-12)


def test_stream_batches_shard_disjointly_and_mark_continuations() -> None:
    inputs, targets = random_text(100)
    seen = []
    for rank in range(2):
        batches = stream_batches(inputs, targets, streams=3, window=4, rank=rank, world_size=2)
        assert [b.extras["continues"].tolist() for b in batches[:2]] == [[False] * 3, [True] * 3]
        seen.append(torch.cat([b.inputs for b in batches], dim=1))  # (3, 16) per rank
    rows = torch.cat(seen)  # (6, 16): 6 streams of 100 // 6 characters
    torch.testing.assert_close(rows, inputs[:96].view(6, 16))
    with pytest.raises(Exception, match="streams"):
        stream_batches(inputs[:5], targets[:5], streams=6, window=4)


@pytest.mark.parametrize("within_frame", [False, True])
def test_without_continuation_marks_it_is_exactly_the_language_model(within_frame: bool) -> None:
    torch.manual_seed(0)
    if within_frame:  # frames, each key conditioned on the keys below it
        config = LanguageModelConfig(
            encoder=EncoderConfig(num_features=6, hidden_size=8), within_frame=True
        )
        inputs, targets = (torch.rand(3, 5, 6) < 0.4).double(), (torch.rand(3, 5, 6) < 0.4).double()
    else:
        config = LanguageModelConfig(encoder=EncoderConfig(vocab_size=9, hidden_size=8))
        inputs, targets = torch.randint(1, 9, (3, 5)), torch.randint(1, 9, (3, 5))
    plain = LanguageModel(config).double().eval()
    if plain.V is not None:
        torch.nn.init.normal_(plain.V)
    stateful = StatefulLanguageModel.from_language_model(plain)
    lengths = torch.tensor([5, 3, 4])
    batch = Batch(inputs, lengths, torch.arange(5)[None, :] < lengths[:, None], targets)
    want, got = plain(batch), stateful(batch)
    # at real steps; past a length the plain model's logits are not zeroed (it runs the
    # padded batch whole, `LanguageModel.forward_batch`) and the loss ignores them
    torch.testing.assert_close(got.logits[batch.mask], want.logits[batch.mask])
    torch.testing.assert_close(got.loss, want.loss)
    assert int(got.count) == int(want.count) == 12


# ------------------------------------------------------------------ truncated BPTT, backward


def test_the_graph_stops_at_the_window_boundary() -> None:
    model = small_model("lstm").train()
    inputs, targets = random_text(24)
    first, second = stream_batches(inputs, targets, streams=2, window=6)[:2]
    model(first)
    carried = model.initial_state(second)
    assert carried is not None
    assert all(not s.requires_grad and s.grad_fn is None for s in carried)
    out = model(second)
    assert out.loss is not None
    out.loss.backward()
    truncated = [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]

    # the same gradient from the second window alone, its start state a constant
    model.zero_grad()
    with torch.no_grad():
        _, state = model.run(first.inputs)
    z, _ = model.run(second.inputs, state=state)
    F.cross_entropy(z.flatten(0, 1), second.targets.flatten()).backward()  # type: ignore[union-attr]
    for g, p in zip(truncated, model.parameters()):
        torch.testing.assert_close(g, p.grad)

    # full BPTT through both windows gives another gradient: the cut is real
    model.zero_grad()
    _, state = model.run(first.inputs)
    z, _ = model.run(second.inputs, state=state)
    F.cross_entropy(z.flatten(0, 1), second.targets.flatten()).backward()  # type: ignore[union-attr]
    assert any(not torch.allclose(g, p.grad) for g, p in zip(truncated, model.parameters()))  # type: ignore[arg-type]


def test_a_new_epoch_or_an_evaluation_starts_from_zero() -> None:
    model = small_model("gru")
    inputs, targets = random_text(30)
    batches = stream_batches(inputs, targets, streams=2, window=5)
    with torch.no_grad():
        for b in batches:
            model(b)
        again = model(batches[0]).logits  # marked "start": the carry is not used
        fresh, _ = model.run(batches[0].inputs)
    torch.testing.assert_close(again, fresh)
    plain = Batch(batches[1].inputs, batches[1].lengths, batches[1].mask, batches[1].targets)
    with torch.no_grad():
        torch.testing.assert_close(model(plain).logits, model.run(plain.inputs)[0])


# ----------------------------------------------------------------------- the recipe and CLI

TINY = [
    "--cell",
    "gru",
    "--num-layers",
    "1",
    "--hidden-size",
    "48",
    "--embedding-dim",
    "12",
    "--dropout",
    "0",
    "--output-dropout",
    "0",
    "--batch-size",
    "4",
    "--bptt",
    "12",
    "--eval-streams",
    "2",
    "--lr",
    "0.02",
    "--min-lr",
    "0.002",
    "--warmup-steps",
    "0",
    "--log-every",
    "1",
    "--epochs",
    "4",
    "--quiet",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("text")
    data = root / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    out = root / "run"
    assert main(["train", "text", "--data", str(data), "--out", str(out), *TINY]) == 0
    return data, out


def records(out: Path) -> list[dict[str, float]]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "epoch"]


def test_train_overfits_the_tiny_text(trained: tuple[Path, Path]) -> None:
    _, out = trained
    for name in ("best/model.safetensors", "last/checkpoint.json", "metrics.jsonl"):
        assert (out / name).exists(), name
    epochs = records(out)
    assert len(epochs) == 4
    lines = (out / "metrics.jsonl").read_text().splitlines()
    first_step = next(r for r in map(json.loads, lines) if r.get("kind") == "step")
    assert first_step["train_loss"] > 2.0  # about ln 14, the untrained guess
    assert epochs[-1]["train_loss"] < 0.3
    assert epochs[-1]["dev_loss"] < 0.3
    assert epochs[-1]["dev_bits_per_char"] == pytest.approx(epochs[-1]["dev_loss"] / math.log(2))
    # greedy decoding continues the memorised pattern
    sample = recipe.generate(out / "best", prime="the cat sat", length=40, top_k=1)
    assert ("the cat sat" + sample).startswith((TINY_TEXT * 2)[: 11 + 40])


def test_evaluate_equals_one_pass_over_the_validation_text(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = trained
    args = ["evaluate", "text", "--checkpoint", str(out / "best"), "--eval-streams", "1", "--json"]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out)
    n_train = 864  # int(960 * 0.9)
    assert metrics["characters"] == 96
    # independent reference: the plain model, one pass over the last 10% from a zero state
    model, _ = load_model(out / "best")
    assert isinstance(model, LanguageModel) and not isinstance(model, StatefulLanguageModel)
    vocab = recipe.build_vocabulary(TINY_TEXT)
    ids = torch.tensor(vocab.encode(TINY_TEXT))
    with torch.no_grad():
        z, _ = model.run(ids[None, n_train - 1 : -1])
        nats = float(F.cross_entropy(z[0], ids[n_train:]))
    assert metrics["nats_per_char"] == pytest.approx(nats, rel=1e-5)
    assert metrics["bits_per_char"] == pytest.approx(nats / math.log(2), rel=1e-5)
    # the run's own streams give the dev loss it logged for its best epoch
    assert (
        main(["evaluate", "text", "--checkpoint", str(out / "best"), "--data", str(data), "--json"])
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    best = min(r["dev_loss"] for r in records(out))
    assert again["loss"] == pytest.approx(best, rel=1e-5)


def test_generate_prints_the_prime_and_is_reproducible(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    args = ["generate", "text", "--checkpoint", str(out / "best"), "--prime", "the ", "--length"]
    outputs = []
    for seed in ("3", "3", "4"):
        assert main([*args, "200", "--temperature", "1.5", "--seed", seed]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1], "the same seed gives the same text"
    assert outputs[0] != outputs[2]
    assert outputs[0].startswith("the ") and len(outputs[0]) == 4 + 200 + 1  # print's newline
    assert set(outputs[0]) <= set(TINY_TEXT), "only the text's characters, never <pad>/<bos>"
    greedy = []
    for seed in ("5", "6"):  # top-k 1 is greedy: no randomness left
        assert main([*args, "30", "--top-k", "1", "--seed", seed]) == 0
        greedy.append(capsys.readouterr().out)
    assert greedy[0] == greedy[1]
    assert greedy[0].removesuffix("\n") in TINY_TEXT * 2, "it continues the text's pattern"


def test_resume_continues_from_the_last_epoch(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    more = [*TINY[:-3], "--epochs", "5", "--quiet"]
    args = ["train", "text", "--data", str(data), "--out", str(run), *more, "--resume"]
    assert main(args) == 0
    assert [r["epoch"] for r in records(run)] == [1, 2, 3, 4, 5]


def test_summary_of_a_text_checkpoint(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    assert main(["summary", "--checkpoint", str(out / "best")]) == 0
    text = capsys.readouterr().out
    assert "GRU(48)" in text and "(B, T, 14)" in text  # 12 characters + <pad>, <bos>


def test_bad_inputs_give_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained

    def error_of(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        return err

    run = ["--out", str(tmp_path / "r"), *TINY]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in error_of(["train", "text", "--data", str(empty), *run])
    latin = tmp_path / "latin.txt"
    latin.write_bytes("line one\ncaf\xe9\n".encode("latin-1"))
    err = error_of(["train", "text", "--data", str(latin), *run])
    assert "latin.txt:2:" in err and "UTF-8" in err
    assert "not found" in error_of(["train", "text", "--data", str(tmp_path / "nope.txt"), *run])
    short = tmp_path / "short.txt"
    short.write_text("abcd")
    assert "batch-size" in error_of(["train", "text", "--data", str(short), *run])

    best = ["--checkpoint", str(out / "best")]
    err = error_of(["generate", "text", *best, "--prime", "Zebra!"])
    assert "--prime" in err and "'Z'" in err and "'!'" in err
    assert "length" in error_of(["generate", "text", *best, "--length", "0"])
    assert "temperature" in error_of(["generate", "text", *best, "--temperature", "0"])
    other = tmp_path / "other.txt"
    other.write_text("the cat\nsat on the hat?\n")
    assert "other.txt:2:" in error_of(["evaluate", "text", *best, "--data", str(other)])
    assert "checkpoint" in error_of(["evaluate", "text", "--checkpoint", str(tmp_path)]).lower()
