"""Labelled-text readers, the label set, the dev split, and the IMDB download (local server)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from conftest import LocalServer, shared_data

from rnnkit.data import imdb as imdb_module
from rnnkit.data.classification import (
    load_labelled,
    load_sentiment,
    read_jsonl,
    read_label_tsv,
    read_table,
    split_dev,
)
from rnnkit.data.imdb import IMDB_SHA256, IMDB_URL, download_imdb, read_aclimdb
from rnnkit.data.labels import LabelledText, LabelSet
from rnnkit.errors import DataError, RnnkitError


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def pairs(examples: list[LabelledText]) -> list[tuple[str, str]]:
    return [(ex.text, ex.label) for ex in examples]


# ------------------------------------------------------------------------------- label set


def test_sentiment_label_set() -> None:
    s = LabelSet.sentiment()
    assert s.names == ("neg", "pos") and len(s) == 2
    assert [s.id(x) for x in ("neg", "pos", "negative", "positive", "0", "1")] == [0, 1, 0, 1, 0, 1]
    assert s.id(" POS ") == 1 and s.canonical("Negative") == "neg" and s.name(1) == "pos"
    assert "Positive" in s and "neutral" not in s and 1 not in s
    with pytest.raises(RnnkitError, match="unknown label 'neutral'; expected one of neg, pos"):
        s.id("neutral")
    with pytest.raises(RnnkitError, match="out of range"):
        s.name(2)


def test_label_set_construction_and_round_trip() -> None:
    s = LabelSet.from_labels(["b", "a", "c", "a "])
    assert s.names == ("a", "b", "c") and s.id("c") == 2
    assert "A" not in s  # case-sensitive unless asked
    assert LabelSet.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    sentiment = LabelSet.sentiment()
    assert LabelSet.from_dict(json.loads(json.dumps(sentiment.to_dict()))) == sentiment
    assert LabelSet.infer(["pos", "Negative", "1"]) == sentiment
    assert LabelSet.infer(["EI", "IE", "N"]).names == ("EI", "IE", "N")
    with pytest.raises(RnnkitError, match="appears twice"):
        LabelSet(["x", "x"])
    with pytest.raises(RnnkitError, match="clashes with label 'b'"):
        LabelSet(["a", "b"], aliases={"b": "a"})
    with pytest.raises(RnnkitError, match="not a label name"):
        LabelSet(["a"], aliases={"z": "q"})
    with pytest.raises(RnnkitError, match="not a label set"):
        LabelSet.from_dict({"names": "ab"})


def test_label_set_encode_names_the_bad_example() -> None:
    examples = [LabelledText("good", "pos", "f.tsv", 1), LabelledText("meh", "mixed", "f.tsv", 7)]
    assert LabelSet.sentiment().encode(examples[:1]) == [1]
    with pytest.raises(DataError, match=r"^f\.tsv:7: label 'mixed' is not one of neg, pos"):
        LabelSet.sentiment().encode(examples)


# -------------------------------------------------------------------------- label<TAB>text


def test_read_label_tsv(tmp_path: Path) -> None:
    content = "pos\tGreat film<br />loved it.\nneg\tDull, slow\x85 boring.\n\nneg\t  Awful  \n"
    path = write(tmp_path / "reviews.tsv", content)
    examples = read_label_tsv(path)
    assert pairs(examples) == [
        ("Great film<br />loved it.", "pos"),
        ("Dull, slow\x85 boring.", "neg"),  # U+0085 is not a line break here
        ("Awful", "neg"),
    ]
    assert [ex.line for ex in examples] == [1, 2, 4]  # the blank line 3 is skipped
    assert examples[0].path == str(path)

    gz = tmp_path / "reviews.tsv.gz"
    gz.write_bytes(gzip.compress(content.encode()))
    assert pairs(read_label_tsv(gz)) == pairs(examples)
    # labels are canonicalised when a LabelSet is given
    ones = write(tmp_path / "ones.tsv", "1\tgood\n0\tbad\nPositive\tfine\n")
    assert [ex.label for ex in read_label_tsv(ones, labels=LabelSet.sentiment())] == [
        "pos",
        "neg",
        "pos",
    ]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("pos\tok\nneg bad without tab\n", 2, r"1 column, expected 2 \(label<TAB>text\): no tab"),
        ("pos\tok\nneg\tbad\textra\n", 2, "3 columns, expected 2"),
        ("pos\tok\n\nneg\t   \n", 3, "empty text"),
        ("pos\tok\n\tno label\n", 2, "empty label"),
        ("pos\tok\nmixed\tso-so\n", 2, "label 'mixed' is not one of neg, pos"),
        ("pos\tok\nA fine film\tpos\n", 2, "the columns look swapped"),
        ("label\ttext\npos\tok\n", 1, "if line 1 is a header"),
    ],
)
def test_read_label_tsv_errors(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = write(tmp_path / "bad.tsv", content)
    with pytest.raises(DataError, match=message) as info:
        read_label_tsv(path, labels=LabelSet.sentiment())
    assert info.value.path == str(path) and info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_read_label_tsv_rejects_unknown_labels_from_a_plain_collection(tmp_path: Path) -> None:
    path = write(tmp_path / "dna.tsv", "EI\tACGT\nIE\tTTGA\nXX\tAAAA\n")
    assert [ex.label for ex in read_label_tsv(path)] == ["EI", "IE", "XX"]
    with pytest.raises(DataError, match=r"dna\.tsv:3: label 'XX' is not one of EI, IE, N"):
        read_label_tsv(path, labels=["EI", "IE", "N"])


def test_empty_files_are_rejected(tmp_path: Path) -> None:
    for name, content in [("e.tsv", ""), ("blank.tsv", "\n \n\n"), ("e.jsonl", "\n")]:
        path = write(tmp_path / name, content)
        with pytest.raises(DataError, match="empty file") as info:
            load_labelled(path)
        assert info.value.path == str(path)
    path = write(tmp_path / "e.csv", "")
    with pytest.raises(DataError, match="empty file"):
        read_table(path)
    path = write(tmp_path / "header-only.csv", "text,label\n")
    with pytest.raises(DataError, match="no rows after the header"):
        read_table(path)
    gz = tmp_path / "e.tsv.gz"
    gz.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match="empty file"):
        read_label_tsv(gz)


def test_non_utf8_bytes_name_line_and_offset(tmp_path: Path) -> None:
    data = b"pos\tfine\nneg\tna\xefve\n"
    offset = data.index(b"\xef")
    for name, raw in [("latin.tsv", data), ("latin.tsv.gz", gzip.compress(data))]:
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(DataError, match=f"not valid UTF-8: byte 0xef at byte offset {offset}"):
            read_label_tsv(path)
        try:
            read_label_tsv(path)
        except DataError as e:
            assert e.path == str(path) and e.line == 2


# ------------------------------------------------------------------------------ CSV / TSV


TRICKY = [
    ("Plain review.", "pos"),
    ('Commas, "quotes" and\na line break inside', "neg"),
    ("Tabs\tinside", "pos"),
    ("Ünïcödé ✓", "neg"),
]


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_read_table_round_trips_what_the_csv_module_writes(tmp_path: Path, delimiter: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["id", "label", "review"])
    for i, (text, label) in enumerate(TRICKY):
        writer.writerow([i, label, text])
    path = write(tmp_path / "data.csv", buffer.getvalue())
    examples = read_table(path, text_field="review", delimiter=delimiter)
    assert pairs(examples) == TRICKY
    # each record's first line: the record after the multi-line one starts one line later
    assert [ex.line for ex in examples] == [2, 3, 5, 6]


def test_read_table_without_header_uses_indexes(tmp_path: Path) -> None:
    path = write(tmp_path / "noheader.csv", "1,good stuff\n0,bad stuff\n")
    examples = read_table(
        path, text_field=1, label_field=0, header=False, labels=LabelSet.sentiment()
    )
    assert pairs(examples) == [("good stuff", "pos"), ("bad stuff", "neg")]
    assert [ex.line for ex in examples] == [1, 2]
    with pytest.raises(RnnkitError, match="has no header; pass the column index"):
        read_table(path, header=False)
    with pytest.raises(DataError, match="text_field=5 is out of range"):
        read_table(path, text_field=5, label_field=0, header=False)


@pytest.mark.parametrize(
    ("content", "kwargs", "line", "message"),
    [
        ("text,label\nok,pos\nbad,neg,extra\n", {}, 3, "3 columns, expected 2"),
        ("text,label\nok,pos\nbad\n", {}, 3, "1 column, expected 2"),
        ("review,sentiment\nok,pos\n", {}, 1, "no text column 'text' in the header"),
        ("text,sentiment\nok,pos\n", {}, 1, "no label column 'label'"),
        ("text,label\nok,pos\n  ,neg\n", {}, 3, "empty text"),
        ("text,label\nok,pos\nfine,great\n", {"labels": ["pos", "neg"]}, 3, "label 'great'"),
        ('text,label\nok,pos\n"unclosed,neg\n', {}, 3, "malformed CSV record"),
    ],
)
def test_read_table_errors(
    tmp_path: Path, content: str, kwargs: dict[str, object], line: int, message: str
) -> None:
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError, match=message) as info:
        read_table(path, **kwargs)  # type: ignore[arg-type]
    assert info.value.path == str(path) and info.value.line == line


# -------------------------------------------------------------------------------- JSONL


def test_read_jsonl(tmp_path: Path) -> None:
    rows = [{"review": "Good one", "stars": 1, "id": 3}, {"review": "Bad", "stars": "neg"}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    examples = read_jsonl(path, text_field="review", label_field="stars")
    assert pairs(examples) == [("Good one", "1"), ("Bad", "neg")]
    assert pairs(read_jsonl(path, "review", "stars", labels=LabelSet.sentiment())) == [
        ("Good one", "pos"),
        ("Bad", "neg"),
    ]


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ('{"text": "x"}', "missing key 'label' \\(keys: text\\)"),
        ('{"label": "pos"}', "missing key 'text'"),
        ('{"text": "x", "label": "pos"', "invalid JSON"),
        ('["x", "pos"]', "expected a JSON object, got list"),
        ('{"text": 5, "label": "pos"}', "'text' must be a string, got int"),
        ('{"text": "x", "label": true}', "'label' must be a string or an integer, got bool"),
        ('{"text": "", "label": "pos"}', "empty text"),
    ],
)
def test_read_jsonl_errors(tmp_path: Path, second_line: str, message: str) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "fine", "label": "pos"}\n' + second_line + "\n")
    with pytest.raises(DataError, match=message) as info:
        read_jsonl(path)
    assert info.value.path == str(path) and info.value.line == 2


# ---------------------------------------------------------------------------- aclImdb


def make_aclimdb(root: Path, reviews: dict[str, dict[str, dict[str, str]]]) -> Path:
    """reviews[split][label][file name] = text; returns root/aclImdb."""
    base = root / "aclImdb"
    for split, by_label in reviews.items():
        for label, files in by_label.items():
            folder = base / split / label
            folder.mkdir(parents=True)
            for name, text in files.items():
                (folder / name).write_bytes(text.encode("utf-8"))
    return base


SMALL_IMDB = {
    "train": {
        "pos": {"10_9.txt": "Loved it.<br /><br />Great.", "2_7.txt": "Good\x85 enough\tfine"},
        "neg": {"3_1.txt": "Terrible.", "1_4.txt": "Meh.\n"},
    },
    "test": {"pos": {"0_10.txt": "Wonderful"}, "neg": {"0_2.txt": "Bad"}},
}


def test_read_aclimdb(tmp_path: Path) -> None:
    base = make_aclimdb(tmp_path, SMALL_IMDB)
    train = read_aclimdb(base)
    # neg before pos, ascending numeric id (2 before 10); U+0085 -> "...", tab -> space
    assert pairs(train) == [
        ("Meh.", "neg"),
        ("Terrible.", "neg"),
        ("Good... enough fine", "pos"),
        ("Loved it.<br /><br />Great.", "pos"),
    ]
    assert train[0].path == str(base / "train" / "neg" / "1_4.txt") and train[0].line == 1
    assert pairs(read_aclimdb(tmp_path, split="test")) == [("Bad", "neg"), ("Wonderful", "pos")]
    renamed = read_aclimdb(base, labels=LabelSet(["pos", "neg"]))
    assert [ex.label for ex in renamed] == ["neg", "neg", "pos", "pos"]
    with pytest.raises(RnnkitError, match="split must be 'train' or 'test'"):
        read_aclimdb(base, split="unsup")


def test_read_aclimdb_errors(tmp_path: Path) -> None:
    base = make_aclimdb(tmp_path / "a", {"train": {"pos": {"1_8.txt": "ok"}}})
    with pytest.raises(DataError, match="no folder train/neg: expected the aclImdb layout"):
        read_aclimdb(base)
    (base / "train" / "neg").mkdir()
    with pytest.raises(DataError, match="no review files"):
        read_aclimdb(base)
    (base / "train" / "neg" / "5_2.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"5_2\.txt:1: not valid UTF-8: byte 0xe9 at byte offset 3"):
        read_aclimdb(base)
    (base / "train" / "neg" / "5_2.txt").write_bytes(b"  \n")
    with pytest.raises(DataError, match=r"5_2\.txt:1: empty review"):
        read_aclimdb(base)
    with pytest.raises(DataError, match="not found"):
        read_aclimdb(tmp_path / "nowhere")


# ---------------------------------------------------------------------------- dispatch


def test_load_labelled_dispatches_on_the_path(tmp_path: Path) -> None:
    expected = [("Good film", "pos"), ("Bad film", "neg")]
    tsv = "pos\tGood film\nneg\tBad film\n"
    write(tmp_path / "a.tsv", tsv)
    write(tmp_path / "a.txt", tsv)
    (tmp_path / "a.tsv.gz").write_bytes(gzip.compress(tsv.encode()))
    write(tmp_path / "h.tsv", "label\ttext\n" + tsv)
    write(tmp_path / "a.csv", 'text,label\nGood film,pos\n"Bad film",neg\n')
    jsonl = '{"text": "Good film", "label": "pos"}\n{"text": "Bad film", "label": "neg"}\n'
    write(tmp_path / "a.jsonl", jsonl)
    (tmp_path / "a.JSONL.gz").write_bytes(gzip.compress(jsonl.encode()))
    make_aclimdb(
        tmp_path / "dir",
        {"train": {"pos": {"1_9.txt": "Good film"}, "neg": {"1_1.txt": "Bad film"}}},
    )
    for name in ("a.tsv", "a.txt", "a.tsv.gz", "a.csv", "a.jsonl", "a.JSONL.gz"):
        assert pairs(load_labelled(tmp_path / name)) == expected, name
    assert pairs(load_labelled(tmp_path / "h.tsv", header=True)) == expected
    assert sorted(pairs(load_labelled(tmp_path / "dir"))) == sorted(expected)
    assert sorted(pairs(load_sentiment(tmp_path / "dir" / "aclImdb"))) == sorted(expected)
    with pytest.raises(DataError, match="if line 1 is a header"):
        load_sentiment(tmp_path / "h.tsv")
    write(tmp_path / "a.parquet", "x")
    with pytest.raises(RnnkitError, match="cannot tell the format"):
        load_labelled(tmp_path / "a.parquet")
    with pytest.raises(DataError, match="not found"):
        load_labelled(tmp_path / "missing.tsv")


def test_load_sentiment_checks_and_canonicalises_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "label,text\npositive,Nice\nNEGATIVE,Awful\n1,Fun\n")
    examples = load_sentiment(path)
    assert [ex.label for ex in examples] == ["pos", "neg", "pos"]
    assert LabelSet.sentiment().encode(examples) == [1, 0, 1]
    write(tmp_path / "five.csv", "label,text\n5,Nice\n")
    with pytest.raises(DataError, match=r"five\.csv:2: label '5' is not one of neg, pos"):
        load_sentiment(tmp_path / "five.csv")
    assert [ex.label for ex in load_sentiment(tmp_path / "five.csv", labels=None)] == ["5"]


# ---------------------------------------------------------------------------- dev split


def _examples(n_pos: int, n_neg: int) -> list[LabelledText]:
    labels = ["pos"] * n_pos + ["neg"] * n_neg
    random.Random(1).shuffle(labels)
    return [LabelledText(f"review {i}", label, "x.tsv", i + 1) for i, label in enumerate(labels)]


def test_split_dev_is_stratified_deterministic_and_a_partition() -> None:
    examples = _examples(300, 100)
    state = random.getstate()
    train, dev = split_dev(examples, fraction=0.1, seed=0)
    assert random.getstate() == state  # the global generator is untouched
    assert Counter(ex.label for ex in dev) == {"pos": 30, "neg": 10}
    assert len(train) + len(dev) == len(examples)
    assert {ex.line for ex in train}.isdisjoint(ex.line for ex in dev)
    assert [ex.line for ex in train] == sorted(ex.line for ex in train)  # input order kept
    assert [ex.line for ex in dev] == sorted(ex.line for ex in dev)
    assert split_dev(examples, fraction=0.1, seed=0) == (train, dev)
    assert split_dev(examples, fraction=0.1, seed=1)[1] != dev


def test_split_dev_unstratified_and_bad_fractions() -> None:
    examples = _examples(30, 10)
    train, dev = split_dev(examples, fraction=0.25, seed=3, stratify=False)
    assert len(dev) == 10 and len(train) == 30
    for fraction in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(RnnkitError, match="fraction must be between 0 and 1"):
            split_dev(examples, fraction=fraction)
    with pytest.raises(RnnkitError, match="leaves no dev examples"):
        split_dev(examples[:3], fraction=0.1)


# -------------------------------------------------------------------------- IMDB download


@pytest.fixture
def served(local_server: LocalServer) -> tuple[LocalServer, Path]:
    return local_server, local_server.root


def make_tar_gz(path: Path, tree: Path, arcname: str) -> str:
    with tarfile.open(path, "w:gz") as tf:
        tf.add(tree, arcname=arcname)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_imdb_fetches_once_verifies_and_unpacks(
    tmp_path: Path, served: tuple[LocalServer, Path]
) -> None:
    server, root = served
    tree = make_aclimdb(tmp_path / "src", SMALL_IMDB)
    digest = make_tar_gz(root / "aclImdb_v1.tar.gz", tree, "aclImdb")
    url = f"{server.url}/aclImdb_v1.tar.gz"
    cache = tmp_path / "cache"

    imdb = download_imdb(cache, url=url, sha256=digest, progress=False)
    assert imdb == cache / "imdb" / "aclImdb_v1" / "aclImdb"
    assert pairs(read_aclimdb(imdb, "train")) == pairs(read_aclimdb(tree, "train"))
    assert pairs(load_sentiment(imdb, split="test")) == [("Bad", "neg"), ("Wonderful", "pos")]
    assert download_imdb(cache, url=url, sha256=digest, progress=False) == imdb
    assert server.requests == ["/aclImdb_v1.tar.gz"]  # downloaded once
    assert [p.name for p in (cache / "imdb").iterdir() if p.name.endswith(".part")] == []

    # a different archive (another digest) replaces the unpacked tree
    (tree / "test" / "pos" / "0_10.txt").write_text("Changed")
    digest2 = make_tar_gz(root / "aclImdb_v1.tar.gz", tree, "aclImdb")
    assert download_imdb(cache, url=url, sha256=digest2, progress=False) == imdb
    assert (imdb / "test" / "pos" / "0_10.txt").read_text() == "Changed"
    assert len(server.requests) == 2


def test_download_imdb_rejects_a_wrong_digest_and_keeps_nothing(
    tmp_path: Path, served: tuple[LocalServer, Path]
) -> None:
    server, root = served
    make_tar_gz(root / "aclImdb_v1.tar.gz", make_aclimdb(tmp_path / "src", SMALL_IMDB), "aclImdb")
    cache = tmp_path / "cache"
    with pytest.raises(RnnkitError, match="checksum mismatch") as info:
        download_imdb(cache, url=f"{server.url}/aclImdb_v1.tar.gz", sha256="0" * 64, progress=False)
    assert "0" * 64 in str(info.value)
    assert not (cache / "imdb" / "aclImdb_v1").exists()
    assert list((cache / "imdb").glob("*.tar.gz")) == []


def test_download_imdb_needs_an_aclimdb_folder(
    tmp_path: Path, served: tuple[LocalServer, Path]
) -> None:
    server, root = served
    tree = make_aclimdb(tmp_path / "src", SMALL_IMDB)
    digest = make_tar_gz(root / "other.tar.gz", tree, "something_else")
    with pytest.raises(DataError, match="the archive has no aclImdb/ folder"):
        download_imdb(
            tmp_path / "c", url=f"{server.url}/other.tar.gz", sha256=digest, progress=False
        )
    assert [p.name for p in (tmp_path / "c" / "imdb").iterdir()] == ["aclImdb_v1.tar.gz"]


def test_default_imdb_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without url= and sha256=, download_imdb asks for the published archive and digest."""
    calls: list[tuple[str, str, dict[str, object]]] = []

    def offline_download(url: str, sha256: str, **kwargs: object) -> Path:
        calls.append((url, sha256, kwargs))
        raise RnnkitError("offline")

    monkeypatch.setattr(imdb_module, "download", offline_download)
    with pytest.raises(RnnkitError, match="offline"):
        download_imdb(tmp_path, progress=False)
    ((url, sha256, kwargs),) = calls
    assert (url, sha256) == (IMDB_URL, IMDB_SHA256)
    assert kwargs["filename"] == url.rsplit("/", 1)[-1] == "aclImdb_v1.tar.gz"
    assert kwargs["cache_dir"] == tmp_path / "imdb"
    assert not (tmp_path / "imdb" / "aclImdb_v1").exists()  # nothing unpacked on failure


# ------------------------------------------------------------------------ the real data set


def test_shared_imdb_train_file() -> None:
    path = shared_data() / "imdb" / "train.tsv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    examples = load_sentiment(path)
    assert len(examples) == 25_000
    assert Counter(ex.label for ex in examples) == {"pos": 12_500, "neg": 12_500}
    assert examples[-1].line == 25_000
    assert any("<br />" in ex.text for ex in examples[:100])  # the HTML breaks are kept
    train, dev = split_dev(examples)
    assert len(train) == 22_500
    assert Counter(ex.label for ex in dev) == {"pos": 1_250, "neg": 1_250}
