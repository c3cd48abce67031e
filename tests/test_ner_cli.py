"""`rnnkit train/evaluate ner` and `rnnkit tag` end to end, on tiny files the tests write."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from ner_data import TINY, WORDS_ONLY, sentences, write_conll

from rnnkit.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ner")
    train = write_conll(root / "train.conll", sentences(24, seed=10))
    dev = write_conll(root / "dev.conll", sentences(8, seed=11))
    out = root / "run"
    args = ["train", "ner", "--train-file", str(train), "--dev-file", str(dev)]
    assert main([*args, "--out", str(out), *TINY]) == 0
    return dev, out


def test_train_keeps_the_best_dev_f1_and_the_vocabularies(trained: tuple[Path, Path]) -> None:
    _, out = trained
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    f1 = [r["dev_f1"] for r in records if r.get("kind") == "epoch"]
    assert f1[-1] > 0.9 and max(f1) == 1.0
    meta = json.loads((out / "best" / "checkpoint.json").read_text())
    extras = meta["extras"]
    assert {"words", "chars", "tags"} <= set(extras)
    assert "Potter" not in extras["words"]["tokens"] and "potter" in extras["words"]["tokens"]
    assert "P" in extras["chars"]["tokens"]


def test_cli_evaluate_reports_overall_and_per_type(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dev, out = trained
    assert main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev)]) == 0
    report = capsys.readouterr().out
    assert "PER" in report and "overall" in report and "precision" in report
    assert (
        main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev), "--json"])
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["overall"]["f1"] == 1.0 and scores["per_type"]["PER"]["gold"] > 0


def test_cli_tag_prints_bracketed_entities(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    text = "Yesterday, Harry Potter met Hermione Granger."
    assert main(["tag", "--checkpoint", str(out / "best"), text]) == 0
    assert capsys.readouterr().out == "Yesterday, [Harry Potter]PER met [Hermione Granger]PER.\n"


def test_cli_tag_jsonl_has_character_offsets(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    text = "Yesterday,   Harry Potter met Hermione Granger."
    assert main(["tag", "--checkpoint", str(out / "best"), "--jsonl", text]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == text
    spans = [(e["type"], e["start"], e["end"], e["text"]) for e in record["entities"]]
    assert spans == [("PER", 13, 25, "Harry Potter"), ("PER", 30, 46, "Hermione Granger")]
    assert all(text[s:e] == t for _, s, e, t in spans)


def test_cli_tag_file_writes_conll(trained: tuple[Path, Path], tmp_path: Path) -> None:
    dev, out = trained
    best = str(out / "best")
    predicted = tmp_path / "pred.conll"
    assert main(["tag", "--checkpoint", best, "--input", str(dev), "--output", str(predicted)]) == 0
    blocks = predicted.read_text().strip("\n").split("\n\n")
    assert len(blocks) == 8
    rows = [line.split() for line in blocks[0].splitlines()]
    assert rows[2] == ["Harry", "B-PER", "B-PER"] and all(len(r) == 3 for r in rows)

    tokens_only = tmp_path / "tokens.txt"
    tokens_only.write_text("Harry\nPotter\nmet\nRon\nWeasley\n.\n", encoding="utf-8")
    assert (
        main(["tag", "--checkpoint", best, "--input", str(tokens_only), "--output", str(predicted)])
        == 0
    )
    assert predicted.read_text().split() == [
        "Harry",
        "B-PER",
        "Potter",
        "I-PER",
        "met",
        "O",
        "Ron",
        "B-PER",
        "Weasley",
        "I-PER",
        ".",
        "O",
    ]


def test_cli_tag_file_writes_jsonl_for_conll_and_raw_text(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    dev, out = trained
    best = str(out / "best")
    jsonl = tmp_path / "pred.jsonl"
    assert (
        main(["tag", "--checkpoint", best, "--input", str(dev), "--output", str(jsonl), "--jsonl"])
        == 0
    )
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 8
    for r in records:
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"]

    raw = tmp_path / "raw.txt"
    raw.write_text("Harry Potter met Ron Weasley.\nIn Paris, Hermione Granger joined Hogwarts.\n")
    assert (
        main(
            [
                "tag",
                "--checkpoint",
                best,
                "--input",
                str(raw),
                "--format",
                "text",
                "--output",
                str(jsonl),
            ]
        )
        == 0
    )
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert [e["text"] for e in first["entities"]] == ["Harry Potter", "Ron Weasley"]


def test_softmax_preset_has_no_character_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "ner", "--preset", "softmax", "--char-dim", "8"])
    assert "unrecognized arguments: --char-dim" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "ner", "--preset", "softmax", "--help"])
    assert "--char-dim" not in capsys.readouterr().out


def test_softmax_preset_trains_and_evaluates(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev, _ = trained
    train = write_conll(tmp_path / "train.conll", sentences(24, seed=10))
    out = tmp_path / "softmax"
    args = [
        "train",
        "ner",
        "--preset",
        "softmax",
        "--train-file",
        str(train),
        "--dev-file",
        str(dev),
        "--out",
        str(out),
        *WORDS_ONLY,
    ]
    assert main(args) == 0
    capsys.readouterr()
    assert (
        main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["overall"]["f1"] > 0.5
    assert main(["summary", "--checkpoint", str(out / "best")]) == 0
    assert "Bidirectional LSTM(16)" in capsys.readouterr().out


def test_summary_of_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "ner"]) == 0
    text = capsys.readouterr().out
    assert "crf (CRF)" in text and "chars (CharEncoder BiLSTM)" in text
    # CRF parameters: A (9 x 9) + start (9) + end (9)
    assert re.search(r"crf \(CRF\)\s+\(B, T\) tags of 9\s+99\n", text), text
    assert main(["summary", "ner", "--preset", "softmax"]) == 0
    assert "crf" not in capsys.readouterr().out


# ------------------------------------------------------------------------------ bad input


@pytest.fixture
def error_of(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    """Runs the command line; checks it failed with one line on stderr, and returns it."""

    def run(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        return err

    return run


UNSEEN = "Harry NNP B-NP B-PER\n\nAcme NNP B-NP B-CORP\n"  # a tag the model never saw


def test_bad_evaluate_inputs_give_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, error_of: Callable[[list[str]], str]
) -> None:
    best = str(trained[1] / "best")

    def evaluate(path: Path, *extra: str) -> str:
        return error_of(["evaluate", "ner", "--checkpoint", best, "--data", str(path), *extra])

    columns = tmp_path / "columns.conll"
    columns.write_text("Harry NNP B-NP B-PER\nPotter NNP I-PER\n", encoding="utf-8")
    assert f"{columns}:2: 3 columns, expected 4" in evaluate(columns)

    unseen = tmp_path / "unseen.conll"
    unseen.write_text(UNSEEN, encoding="utf-8")
    assert f"{unseen}:3: tag 'B-CORP'" in evaluate(unseen)

    mixed = tmp_path / "mixed.conll"
    mixed.write_text("Harry B-PER\nPotter I-PER\n\nIn O\nParis I-LOC\n", encoding="utf-8")
    err = evaluate(mixed)
    assert f"{mixed}:5:" in err and "mixed tag schemes" in err

    binary = tmp_path / "binary.txt"
    binary.write_text("Harry Potter met Ron\t1 1 0 1\nHarry met\t1 0 0\n", encoding="utf-8")
    assert f"{binary}:2: 3 labels for 2 tokens" in evaluate(binary, "--format", "binary")

    latin1 = tmp_path / "latin1.conll"
    latin1.write_bytes("Harry NNP B-NP B-PER\nZürich NNP B-NP B-LOC\n".encode("latin-1"))
    err = evaluate(latin1)
    assert f"{latin1}:2:" in err and "UTF-8" in err


def test_bad_tag_inputs_give_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, error_of: Callable[[list[str]], str]
) -> None:
    dev, out = trained
    best = str(out / "best")
    assert "text 2 is empty" in error_of(["tag", "--checkpoint", best, "Harry met Ron.", " "])
    assert "--output" in error_of(["tag", "--checkpoint", best, "--input", str(dev)])
    assert "nothing to tag" in error_of(["tag", "--checkpoint", best])
    blank = tmp_path / "blank.txt"
    blank.write_text("Harry met Ron.\n\nRon met Harry.\n", encoding="utf-8")
    err = error_of(
        [
            "tag",
            "--checkpoint",
            best,
            "--input",
            str(blank),
            "--format",
            "text",
            "--output",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert f"{blank}:2: empty line" in err
    assert "checkpoint" in error_of(["tag", "--checkpoint", str(tmp_path / "none"), "Harry"])


def test_bad_train_inputs_give_one_line_errors(
    tmp_path: Path, error_of: Callable[[list[str]], str]
) -> None:
    unseen = tmp_path / "unseen.conll"
    unseen.write_text(UNSEEN, encoding="utf-8")
    train = write_conll(tmp_path / "train.conll", sentences(4, seed=0))
    err = error_of(
        ["train", "ner", "--train-file", str(train), "--out", str(tmp_path / "r"), *TINY]
    )
    assert "--dev-file" in err
    err = error_of(
        [
            "train",
            "ner",
            "--train-file",
            str(train),
            "--dev-file",
            str(unseen),
            "--out",
            str(tmp_path / "r"),
            *TINY,
        ]
    )
    assert f"{unseen}:3: tag 'B-CORP'" in err


def test_tag_reads_standard_input_with_a_dash(
    trained: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _, out = trained
    texts = b"Yesterday, Harry Potter met Hermione Granger.\nHarry met Hermione.\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(texts)))
    assert main(["tag", "--checkpoint", str(out / "best"), "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Yesterday, [Harry Potter]PER met [Hermione Granger]PER."
    assert len(lines) == 2
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(texts)))
    tagged = tmp_path / "tagged.jsonl"
    args = ["--input", "-", "--format", "text", "--output", str(tagged)]
    assert main(["tag", "--checkpoint", str(out / "best"), *args]) == 0
    assert len(tagged.read_text().splitlines()) == 2


def test_tag_never_writes_over_its_input_and_caps_a_text(
    trained: tuple[Path, Path], tmp_path: Path, error_of: Callable[[list[str]], str]
) -> None:
    dev, out = trained
    source = tmp_path / "input.conll"
    source.write_bytes(dev.read_bytes())
    (tmp_path / "link.conll").symlink_to(source)
    os.link(source, tmp_path / "hard.conll")
    for output in (source, tmp_path / "link.conll", tmp_path / "hard.conll"):
        args = ["--input", str(source), "--output", str(output)]
        err = error_of(["tag", "--checkpoint", str(out / "best"), *args])
        assert f"output {output} is the input file {source}" in err
    assert source.read_bytes() == dev.read_bytes()
    long = "Harry " * 20_000
    err = error_of(["tag", "--checkpoint", str(out / "best"), long])
    assert "text 1 has 120,000 characters, more than the 100,000" in err
