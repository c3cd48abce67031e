"""The sentiment recipe and its CLI end to end, on tiny reviews the tests write.

In the tiny data one word decides the label ("good" -> pos, "bad" -> neg) among filler words,
so a small model must learn it perfectly: the tests check that it does (dev accuracy 1.0), and
then evaluate / predict through `rnnkit.cli.main` as a user would.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import shared_data
from sklearn import metrics as skm

from rnnkit.cli import main
from rnnkit.cli.configargs import apply_overrides
from rnnkit.data.batch import Batch
from rnnkit.data.batching import make_batch
from rnnkit.metrics.classification import binary_scores, confusion_matrix
from rnnkit.tasks import sentiment as S
from rnnkit.train.checkpoint import save_checkpoint
from rnnkit.train.loading import load_model

FILLER = ["the", "movie", "film", "was", "plot", "acting", "really", "quite", "story", "and"]


def tiny_reviews(n: int, seed: int) -> list[tuple[str, str]]:
    """n (label, text) pairs, half of each label, the deciding word at a random place."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(FILLER, k=rng.randint(3, 7))
        words.insert(rng.randint(0, len(words)), "good" if label == "pos" else "bad")
        out.append((label, " ".join(words).capitalize() + "."))
    return out


def write_tsv(path: Path, reviews: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{label}\t{text}\n" for label, text in reviews), encoding="utf-8")
    return path


TINY = {
    "max_words": 50,
    "embedding_dim": 16,
    "epochs": 15,
    "batch_size": 8,
    "lr": 0.03,
    "patience": None,
    "progress": False,
}
TINY_ARGS = [
    "--max-words", "50", "--embedding-dim", "16", "--epochs", "15", "--batch-size", "8",
    "--lr", "0.03", "--patience", "none", "--quiet",
]  # fmt: skip


def train_tiny_sentiment(root: Path, *options: str) -> Path:
    """The lecture model trained through the CLI for 2 epochs on 40 tiny reviews (then
    `options`, e.g. another cell) in `root`; its best checkpoint."""
    data = write_tsv(root / "train.tsv", tiny_reviews(40, seed=3))
    out = root / "run"
    args = ["train", "sentiment", "--data", str(data), "--out", str(out), *TINY_ARGS]
    assert main([*args, "--epochs", "2", *options]) == 0
    return out / "best"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(training TSV, run directory) of the lecture model trained through the CLI."""
    root = tmp_path_factory.mktemp("sentiment")
    data = write_tsv(root / "train.tsv", tiny_reviews(80, seed=1))
    out = root / "run"
    # The best checkpoint is the lowest dev loss: the first epoch at dev accuracy 1.0 (on 8
    # reviews) is often undertrained, and its test accuracy then hangs on the dropout masks.
    args = ["--data", str(data), "--out", str(out), *TINY_ARGS, "--metric", "loss"]
    assert main(["train", "sentiment", *args]) == 0
    return data, out


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit status 1 and exactly one line on stderr; return that line."""
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and "\n" not in err, err
    return err


# ------------------------------------------------------------------------------- the model


def test_lecture_preset_has_the_lectures_parameter_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["summary", "sentiment", "--preset", "lecture"]) == 0
    text = capsys.readouterr().out
    for count in ("1,000,000", "1,110", "Total params: 1,001,121"):
        assert count in text, text
    rows = {line.split()[0]: line.split()[-1] for line in text.splitlines() if "(B" in line}
    assert rows == {"embedding": "1,000,000", "rnn": "1,110", "head": "11"}
    model = S.build_model(S.PRESETS["lecture"])
    enc = model.encoder
    assert enc.embedding is not None and tuple(enc.embedding.E.shape) == (10_000, 100)
    assert sum(p.numel() for p in enc.rnn.parameters()) == 10 * 10 + 10 * 100 + 10
    assert sum(p.numel() for p in model.head.parameters()) == 11


def test_vocabulary_has_max_words_entries_in_total() -> None:
    # 12,000 distinct words, each seen once (ties keep their order of first occurrence):
    # the first 9,998 are kept, beside <pad> and <unk>.
    corpus = [[f"w{k}" for k in range(12_000)]]
    pipeline = S.TextPipeline.build(corpus, max_words=10_000, max_len=500)
    vocab = pipeline.vocab
    assert len(vocab) == 10_000
    assert vocab.token(0) == "<pad>" and vocab.token(1) == "<unk>"
    assert vocab.index("w0") == 2 and vocab.index("w9997") == 9_999
    assert vocab.index("w9998") == vocab.unk_id


def test_keeps_the_last_max_len_tokens() -> None:
    words = [f"w{k}" for k in range(10)]
    pipeline = S.TextPipeline.build([words], max_words=100, max_len=3)
    ids = pipeline.encode(" ".join(words) + "<br />")
    assert pipeline.vocab.decode(ids) == ["w7", "w8", "w9"]
    assert S.TextPipeline.build([words], 100, 50).encode("w1 unseen").tolist() == [
        pipeline.vocab.index("w1"),
        pipeline.vocab.unk_id,
    ]


def test_the_recipe_overfits_tiny_reviews_to_dev_accuracy_one(tmp_path: Path) -> None:
    data = write_tsv(tmp_path / "train.tsv", tiny_reviews(80, seed=2))
    config = apply_overrides(S.PRESETS["lecture"], {**TINY, "data": str(data), "out_dir": None})
    assert config.model.encoder.cell == "rnn" and config.model.encoder.hidden_size == 10
    result = S.train(config)
    assert result.best_metric == 1.0, result.history
    epochs = [r for r in result.history if r["kind"] == "epoch"]
    assert epochs[-1]["train_loss"] < 0.1 < epochs[0]["train_loss"]
    assert epochs[-1]["dev_f1"] == 1.0 and epochs[-1]["dev_precision"] == 1.0


def test_bilstm_preset_trains_on_tiny_reviews(tmp_path: Path) -> None:
    data = write_tsv(tmp_path / "train.tsv", tiny_reviews(80, seed=3))
    config = apply_overrides(
        S.PRESETS["bilstm"],
        {**TINY, "data": str(data), "hidden_size": 8, "epochs": 5, "out_dir": None},
    )
    enc = config.model.encoder
    assert enc.bidirectional and enc.cell == "lstm" and config.model.pooling == "max"
    assert S.train(config).best_metric == 1.0


# ------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("case", ["random", "no_predicted_positive", "all_positive", "perfect"])
def test_metrics_match_sklearn(case: str) -> None:
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 2, (200,), generator=g)
    predictions = {
        "random": torch.randint(0, 2, (200,), generator=g),
        "no_predicted_positive": torch.zeros(200, dtype=torch.int64),
        "all_positive": torch.ones(200, dtype=torch.int64),
        "perfect": targets.clone(),
    }[case]
    confusion = confusion_matrix(targets, predictions)
    y, p = targets.numpy(), predictions.numpy()
    assert confusion.tolist() == skm.confusion_matrix(y, p, labels=[0, 1]).tolist()
    scores = binary_scores(confusion)
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert scores["precision"] == pytest.approx(skm.precision_score(y, p, zero_division=0))
    assert scores["recall"] == pytest.approx(skm.recall_score(y, p, zero_division=0))
    assert scores["f1"] == pytest.approx(skm.f1_score(y, p, zero_division=0))


# ------------------------------------------------------------------------- the CLI, end to end


def test_train_writes_checkpoints_and_reaches_dev_accuracy_one(trained: tuple[Path, Path]) -> None:
    _, out = trained
    assert (out / "best" / "model.safetensors").exists() and (out / "metrics.jsonl").exists()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("dev_accuracy", 0.0) for r in records) == 1.0


def test_evaluate_prints_metrics_and_the_confusion_matrix(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    reviews = tiny_reviews(30, seed=7)
    test = write_tsv(tmp_path / "test.tsv", reviews)
    ckpt = str(out / "best")
    assert main(["evaluate", "sentiment", "--checkpoint", ckpt, "--data", str(test)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "confusion matrix" in text

    assert main(["evaluate", "sentiment", "--checkpoint", ckpt, "--data", str(test), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 30 and result["labels"] == ["neg", "pos"]
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    assert tn + fp == 15 and fn + tp == 15  # rows are the true labels
    assert result["accuracy"] == pytest.approx((tn + tp) / 30)
    assert result["accuracy"] >= 0.9
    # The same numbers as sklearn on the predictions of `predict`.
    predicted = S.predict(ckpt, [t for _, t in reviews])
    y = [label for label, _ in reviews]
    p = [label for label, _ in predicted]
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert result["f1"] == pytest.approx(skm.f1_score(y, p, pos_label="pos"))

    # Without --data: the dev part held out of the training file (10% of 80).
    assert main(["evaluate", "sentiment", "--checkpoint", ckpt, "--json"]) == 0
    dev = json.loads(capsys.readouterr().out)
    assert dev["examples"] == 8 and dev["accuracy"] == 1.0


def p_pos_by_hand(checkpoint: Path, text: str) -> float:
    """P(pos) of one text, computed from the checkpoint without the recipe's predict."""
    model, meta = load_model(checkpoint)
    vocab = meta.extras["vocab"]
    index = {tok: i for i, tok in enumerate(vocab["specials"] + vocab["tokens"])}
    words = text.lower().replace(".", " .").split()
    ids = torch.tensor([[index.get(w, index["<unk>"]) for w in words]])
    batch: Batch = make_batch([ids[0]])
    with torch.no_grad():
        return float(torch.sigmoid(model(batch).logits)[0])


def test_predict_prints_label_and_probability(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    ckpt = out / "best"
    args = ["predict", "sentiment", "--checkpoint", str(ckpt)]
    assert main([*args, "The movie was good.", "There is nothing to like, a bad plot."]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    p = p_pos_by_hand(ckpt, "The movie was good.")
    assert float(lines[0].split("\t")[1]) == pytest.approx(p, abs=1e-4)
    assert p > 0.5


def test_predict_keeps_the_input_order_across_batches(trained: tuple[Path, Path]) -> None:
    _, out = trained
    ckpt = out / "best"
    # Texts of many lengths, more than one batch: batching sorts by length internally.
    texts = [" ".join(FILLER[: 1 + i % 9]) + (" good" if i % 3 else " bad") for i in range(300)]
    together = S.predict(ckpt, texts)
    for i in (0, 1, 2, 17, 150, 299):
        (alone,) = S.predict(ckpt, [texts[i]])
        assert together[i][0] == alone[0]
        assert together[i][1] == pytest.approx(alone[1], abs=1e-5)
        assert alone[1] >= 0.5


def test_predict_json_from_stdin_and_file(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, out = trained
    args = ["predict", "sentiment", "--checkpoint", str(out / "best"), "--json"]
    texts = ["A good film, really.", "Bad acting and a bad story.", "Quite good, «très» good!"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("\n".join(texts).encode())))
    assert main([*args, "-"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == texts
    assert [r["label"] for r in records] == ["pos", "neg", "pos"]
    assert all(0.5 <= r["probability"] <= 1.0 for r in records)

    file = tmp_path / "texts.txt"
    file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert main([*args, "--file", str(file)]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == records


# --------------------------------------------------------------------------------- bad input


def test_bad_inputs_give_one_line_errors(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, out = trained
    ckpt = str(out / "best")
    predict = ["predict", "sentiment", "--checkpoint", ckpt]
    evaluate = ["evaluate", "sentiment", "--checkpoint", ckpt]

    assert "text 2: empty text" in error_of([*predict, "good", ""], capsys)
    assert "text 1: empty text" in error_of([*predict, "<br />"], capsys)  # markup only
    blank = tmp_path / "blank.txt"
    blank.write_text("good film\n\nbad film\n", encoding="utf-8")
    assert f"{blank}:2: empty text" in error_of([*predict, "--file", str(blank)], capsys)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("good film\ntrès bad\n".encode("latin-1"))
    assert f"{latin1}:2: not valid UTF-8" in error_of([*predict, "--file", str(latin1)], capsys)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("ok\ntrès\n".encode("latin-1"))))
    assert "<stdin>:2: not valid UTF-8" in error_of([*predict, "-"], capsys)
    assert "not valid UTF-8" in error_of([*predict, "good \udce9"], capsys)  # a raw byte in argv
    assert "not both" in error_of([*predict, "good", "--file", str(blank)], capsys)
    assert "no texts" in error_of(predict, capsys)

    labels = write_tsv(tmp_path / "labels.tsv", [("pos", "good"), ("meh", "so so")])
    assert f"{labels}:2: label 'meh'" in error_of([*evaluate, "--data", str(labels)], capsys)
    bad_bytes = tmp_path / "bad.tsv"
    bad_bytes.write_bytes(b"pos\tgood\nneg\tbad \xe9\n")
    assert f"{bad_bytes}:2: not valid UTF-8" in error_of(
        [*evaluate, "--data", str(bad_bytes)], capsys
    )
    assert "not found" in error_of([*evaluate, "--data", str(tmp_path / "missing.tsv")], capsys)
    assert "checkpoint" in error_of(
        ["predict", "sentiment", "--checkpoint", str(tmp_path), "good"], capsys
    )

    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(tmp_path / "no-such-folder"))
    err = error_of(["train", "sentiment", "--out", str(tmp_path / "r"), *TINY_ARGS], capsys)
    assert "--data" in err and "--download" in err
    err = error_of(
        ["train", "sentiment", "--data", str(data), "--download", "--out", str(tmp_path / "r")],
        capsys,
    )
    assert "not both" in err


def test_checkpoints_of_another_task_or_without_a_vocabulary_are_refused(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    model, meta = load_model(out / "best")
    save_checkpoint(tmp_path / "music", model, meta=replace(meta, task="music"))
    err = error_of(
        ["predict", "sentiment", "--checkpoint", str(tmp_path / "music"), "good"], capsys
    )
    assert "music" in err
    save_checkpoint(tmp_path / "novocab", model, meta=replace(meta, extras={}))
    err = error_of(
        ["predict", "sentiment", "--checkpoint", str(tmp_path / "novocab"), "good"], capsys
    )
    assert "no usable vocabulary" in err


def test_default_training_data_is_the_shared_imdb_file(monkeypatch: pytest.MonkeyPatch) -> None:
    imdb = shared_data() / "imdb" / "train.tsv.gz"
    if not imdb.is_file():
        pytest.skip("the shared data folder is not here")
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(shared_data()))
    assert S.training_source(S.SentimentDataConfig()).resolve() == imdb.resolve()


def test_table_hints_name_what_a_command_line_user_can_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,sentiment\ngood film,pos\nbad film,neg\n", encoding="utf-8")
    err = error_of(["train", "sentiment", "--data", str(csv), "--out", str(tmp_path / "a")], capsys)
    assert "name the text column 'text'" in err and "columns: review, sentiment" in err
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text("label\ttext\npos\tgood film\nneg\tbad film\n", encoding="utf-8")
    err = error_of(["train", "sentiment", "--data", str(tsv), "--out", str(tmp_path / "b")], capsys)
    assert f"{tsv}:1:" in err and "if line 1 is a header, delete it" in err
