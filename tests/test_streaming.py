"""Streaming `predict sentiment` / `tag` / `translate` input: lines are read, classified and
written a chunk at a time. The results equal classifying the lines one by one, an error past
the first chunk names its true line, and the first results come before the input ends."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ner_data import TINY as NER_TINY
from ner_data import sentences
from ner_data import write_conll as write_ner_conll
from test_sentiment_task import tiny_reviews, train_tiny_sentiment

from rnnkit.cli import main
from rnnkit.data.conll import read_conll, stream_conll, write_conll
from rnnkit.data.lines import CHUNK_LINES, chunked, read_lines, stream_lines
from rnnkit.data.text import read_text, split_lines
from rnnkit.errors import DataError, RnnkitError
from rnnkit.tasks import ner
from rnnkit.tasks import sentiment as S
from rnnkit.tasks.ner.tagging import MAX_TEXT_CHARS

BLANK = "blank line"


def counting(lines: list[str], taken: list[int]) -> Iterator[str]:
    """The lines, counting in taken[0] how many have been handed out."""
    for line in lines:
        taken[0] += 1
        yield line


# ---------------------------------------------------------------------------- reading lines


def test_stream_lines_reads_what_read_text_reads(tmp_path: Path) -> None:
    text = "\ufefffirst\r\nsecond \u00e9\rthird\nfourth"
    plain = tmp_path / "a.txt"
    plain.write_bytes(text.encode("utf-8"))
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    expected = split_lines(read_text(plain))
    assert expected == ["first", "second \u00e9", "third", "fourth"]
    assert list(stream_lines(plain, BLANK)) == expected
    assert list(stream_lines(packed, BLANK)) == expected
    assert read_lines(packed, BLANK) == expected


def test_stream_lines_names_the_true_line_of_a_bad_one(tmp_path: Path) -> None:
    n = 3 * CHUNK_LINES
    lines = [f"line {i}" for i in range(1, n + 1)]
    blank = tmp_path / "blank.txt"
    blank.write_text("\n".join(lines[:5000]) + "\n\n" + "\n".join(lines[5000:]) + "\n")
    stream = stream_lines(blank, BLANK)
    assert [next(stream) for _ in range(5000)] == lines[:5000], "yielded before the bad one"
    with pytest.raises(DataError, match=f"{blank}:5001: {BLANK}"):
        next(stream)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"ok\n" * 4000 + b"caf\xe9\n")
    with pytest.raises(DataError, match=f"{latin1}:4001: not valid UTF-8: byte 0xe9") as e:
        list(stream_lines(latin1, BLANK))
    assert f"byte offset {3 * 4000 + 3}" in str(e.value)
    assert "byte 4 of this line" in str(e.value)
    with pytest.raises(DataError, match="nothing here"):
        list(stream_lines(write_bytes(tmp_path / "empty.txt", b""), BLANK, "nothing here"))


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_standard_input_lines_come_out_as_they_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb") as writer:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(reader))
        stream = stream_lines("-", BLANK)
        writer.write(b"first\nsecond\n")
        writer.flush()  # the writer stays open: the input has not ended
        got: list[str] = []
        reading = threading.Thread(target=lambda: got.extend([next(stream), next(stream)]))
        reading.start()
        reading.join(timeout=10)
        assert got == ["first", "second"], "lines come out before the input ends"
        writer.write(b"third\n")
        writer.close()
        assert list(stream) == ["third"]


def test_chunked_takes_items_only_as_each_chunk_is_needed() -> None:
    taken = [0]
    chunks = chunked(counting([str(i) for i in range(10)], taken), 4)
    assert next(chunks) == ["0", "1", "2", "3"] and taken[0] == 4
    assert [len(c) for c in chunks] == [4, 2]


# ------------------------------------------------------------------------ predict sentiment


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_sentiment(tmp_path_factory.mktemp("stream-sentiment"))


def test_predict_chunks_equal_one_by_one_and_start_before_the_input_ends(
    sentiment_run: Path,
) -> None:
    classifier = S.SentimentClassifier(sentiment_run)
    texts = [text for _, text in tiny_reviews(11, seed=5)]
    taken = [0]
    chunks = classifier.predict_chunks(counting(texts, taken), chunk_size=4)
    first = next(chunks)
    assert taken[0] == 4, "the first chunk is classified before the rest is read"
    results = first + [r for chunk in chunks for r in chunk]
    assert [len(first), len(results)] == [4, 11]
    for text, (t, label, p) in zip(texts, results, strict=True):
        (alone,) = classifier.predict([text])
        assert t == text and label == alone[0] and p == pytest.approx(alone[1], abs=1e-6)
    bad = [*texts[:6], "<br />", *texts[6:]]  # markup only: no words, the 7th text
    with pytest.raises(DataError, match="reviews.txt:7: "):
        list(classifier.predict_chunks(bad, "reviews.txt", chunk_size=4))
    with pytest.raises(RnnkitError, match="text 7: "):
        list(classifier.predict_chunks(bad, chunk_size=4))


def test_predict_streams_a_file_longer_than_a_chunk(
    sentiment_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [text for _, text in tiny_reviews(CHUNK_LINES + 40, seed=6)]
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(texts) + "\n", encoding="utf-8")
    base = ["predict", "sentiment", "--checkpoint", str(sentiment_run)]
    assert main([*base, "--input", str(reviews), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    classifier = S.SentimentClassifier(sentiment_run)
    assert [r["text"] for r in records] == texts
    for r in records[:: len(texts) // 97]:  # a spread of them, across both chunks
        ((label, p),) = classifier.predict([r["text"]])
        assert r["label"] == label and r["probability"] == pytest.approx(p, abs=1e-6)
    assert [r["label"] for r in records] == [label for label, _ in classifier.predict(texts)]
    # a blank line in the second chunk: the first chunk's results are out, the error names it
    bad = texts[: CHUNK_LINES + 10] + [""] + texts[CHUNK_LINES + 10 :]
    reviews.write_text("\n".join(bad) + "\n", encoding="utf-8")
    assert main([*base, "--input", str(reviews)]) == 1
    captured = capsys.readouterr()
    assert f"{reviews}:{CHUNK_LINES + 11}: empty text" in captured.err
    assert len(captured.out.splitlines()) == CHUNK_LINES


# --------------------------------------------------------------------------------- tag ner


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream-ner")
    train = write_ner_conll(root / "train.conll", sentences(12, seed=10))
    dev = write_ner_conll(root / "dev.conll", sentences(4, seed=11))
    out = root / "run"
    tiny = [a if a != "12" else "1" for a in NER_TINY]  # one epoch
    args = ["train", "ner", "--train-file", str(train), "--dev-file", str(dev)]
    assert main([*args, "--out", str(out), *tiny]) == 0
    return out / "best"


def test_tag_text_file_streams_in_chunks_and_names_a_bad_line(
    ner_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [" ".join(w for w, _ in s) for s in sentences(CHUNK_LINES + 30, seed=4)]
    raw = tmp_path / "raw.txt"
    raw.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    args = ["tag", "--checkpoint", str(ner_run), "--input", str(raw), "--format", "text"]
    assert main([*args, "--output", str(out)]) == 0
    assert f"tagged {len(texts)} sentences" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    tagger = ner.NERTagger(ner_run)
    assert [r["text"] for r in records] == texts
    picks = list(range(0, len(texts), 211))
    assert [records[i] for i in picks] == [tagger.tag_texts([texts[i]])[0].to_json() for i in picks]
    long = texts[: CHUNK_LINES + 3] + ["x" * (MAX_TEXT_CHARS + 1)] + texts[CHUNK_LINES + 3 :]
    raw.write_text("\n".join(long) + "\n", encoding="utf-8")
    assert main([*args, "--output", str(tmp_path / "bad.jsonl")]) == 1
    assert f"{raw}:{CHUNK_LINES + 4}: text {CHUNK_LINES + 4} has" in capsys.readouterr().err
    assert not (tmp_path / "bad.jsonl").exists(), "no half-written output"


def test_tag_chunks_start_before_the_input_ends(ner_run: Path) -> None:
    tagger = ner.NERTagger(ner_run)
    texts = ["Harry Potter went to London."] * 9
    taken = [0]
    chunks = tagger.tag_chunks(counting(texts, taken), chunk_size=4)
    assert len(next(chunks)) == 4 and taken[0] == 4
    assert [len(c) for c in chunks] == [4, 1]


def test_tag_standard_input_streams(
    ner_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["Harry Potter went to London.", "Ron met Hermione."] * (CHUNK_LINES // 2 + 5)
    data = ("\n".join(texts) + "\n").encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["tag", "--checkpoint", str(ner_run), "-"]) == 0
    printed = capsys.readouterr().out.splitlines()
    expected = [t.bracketed() for t in ner.tag_texts(ner_run, texts[:2])]
    assert len(printed) == len(texts) and printed[-2:] == expected


# ------------------------------------------------------------------- tag ner, column files


def test_stream_conll_equals_read_conll_and_checks_the_whole_file_first(tmp_path: Path) -> None:
    iob1 = tmp_path / "iob1.conll"  # IOB1: I- opens an entity; converted to BIO as read
    iob1.write_text("Harry I-PER\nPotter I-PER\nmet O\n\nRon I-PER\n.\tO\n\nA O\n")
    assert list(stream_conll(iob1)) == read_conll(iob1)
    assert next(stream_conll(iob1)).tags == ["B-PER", "I-PER", "O"]
    bad = tmp_path / "bad.conll"
    bad.write_text("a O\n\n" * 5000 + "b c O\n")
    with pytest.raises(DataError, match=f"{bad}:10001: 3 columns, expected 2"):
        next(stream_conll(bad))  # before the first sentence comes out
    mixed = tmp_path / "mixed.conll"
    mixed.write_text("a I-PER\n\n" + "b O\n\n" * 3000 + "c B-PER\n")
    with pytest.raises(DataError, match="mixed tag schemes"):
        next(stream_conll(mixed))


def test_tag_column_file_streams_and_writes_what_the_whole_file_gives(
    ner_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sents = sentences(CHUNK_LINES + 20, seed=8)
    data = write_ner_conll(tmp_path / "in.conll", sents)
    out = tmp_path / "out.conll.gz"
    assert (
        main(["tag", "--checkpoint", str(ner_run), "--input", str(data), "--output", str(out)]) == 0
    )
    assert f"tagged {len(sents)} sentences" in capsys.readouterr().out
    tagger = ner.NERTagger(ner_run)
    tokens = [[w for w, _ in s] for s in sents]
    gold = [[t for _, t in s] for s in sents]
    whole = tmp_path / "whole.conll"
    write_conll(whole, tokens, gold, tagger.tag_tokens(tokens))  # one call, all sentences
    assert gzip.decompress(out.read_bytes()) == whole.read_bytes()
    blocks = [b for b in whole.read_text().split("\n\n") if b.strip()]
    written = [[line.split()[2] for line in b.splitlines()] for b in blocks]  # predicted
    for i in range(0, len(sents), 307):  # a spread, across both chunks: one sentence alone
        assert written[i] == tagger.tag_tokens([tokens[i]])[0]
    with pytest.raises(RnnkitError, match=f"sentence {CHUNK_LINES + 2} has"):
        tagger.tag_tokens([["x" * (MAX_TEXT_CHARS + 1)]], first=CHUNK_LINES + 2)
