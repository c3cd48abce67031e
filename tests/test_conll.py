"""Readers and writer for tagged sentences: formats, schemes, errors that name file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import shared_data

from rnnkit.data.conll import (
    read_binary,
    read_conll,
    read_token_tags,
    write_conll,
)
from rnnkit.data.tags import Span, bio_to_iobes, bio_to_spans, find_violation
from rnnkit.errors import DataError, RnnkitError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def conll2003(name: str) -> Path:
    path = shared_data() / "conll2003" / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def iob1(tags: list[str]) -> list[str]:
    """BIO -> IOB1 written from the definition (B- only between adjacent same-type entities)."""
    out = ["O"] * len(tags)
    previous: Span | None = None
    for span in bio_to_spans(tags):
        out[span.start : span.end] = ["I-" + span.type] * (span.end - span.start)
        if previous is not None and previous.end == span.start and previous.type == span.type:
            out[span.start] = "B-" + span.type
        previous = span
    return out


# --------------------------------------------------------------------------- CoNLL columns


def test_reads_sentences_tags_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, CONLL, "eng.train")
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [
        ["EU", "rejects", "German", "call"],
        ["Peter", "Blackburn"],
        ["BRUSSELS"],
    ]
    assert [s.tags for s in sentences] == [
        ["B-ORG", "O", "B-MISC", "O"],
        ["B-PER", "I-PER"],
        ["B-LOC"],
    ]
    assert [s.lines for s in sentences] == [[3, 4, 5, 6], [8, 9], [14]]
    assert sentences[1].where(1) == f"{path}:9" and sentences[1].line == 8
    assert sentences[2].path == str(path) and len(sentences[0]) == 4


def test_other_columns(tmp_path: Path) -> None:
    path = write(tmp_path, CONLL)
    chunks = read_conll(path, column=2)
    assert chunks[0].tags == ["B-NP", "B-VP", "B-NP", "I-NP"]
    pos = read_conll(path, column=1, scheme=None)  # POS tags are not entity tags
    assert pos[1].tags == ["NNP", "NNP"]
    with pytest.raises(DataError, match="not a BIO tag|fits no tag scheme"):
        read_conll(path, column=1)


def test_gzip_crlf_bom_and_missing_final_newline_are_transparent(tmp_path: Path) -> None:
    plain = read_conll(write(tmp_path, CONLL, "plain"))
    odd = "\ufeff" + CONLL.replace("\n", "\r\n").rstrip("\r\n")
    zipped = write(tmp_path, gzip.compress(odd.encode("utf-8")), "eng.train")  # no .gz suffix
    again = read_conll(zipped)
    assert [(s.tokens, s.tags, s.lines) for s in again] == [
        (s.tokens, s.tags, s.lines) for s in plain
    ]


def test_iob1_is_detected_and_converted(tmp_path: Path) -> None:
    text = "a I-PER\nb I-PER\nc B-PER\nd O\ne I-LOC\n\nf O\n"
    path = write(tmp_path, text)
    sentences = read_conll(path)
    assert sentences[0].tags == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert read_conll(path, to_bio=False)[0].tags == ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]


def test_iobes_is_detected_and_converted(tmp_path: Path) -> None:
    path = write(tmp_path, "a S-PER\nb O\nc B-ORG\nd I-ORG\ne E-ORG\n")
    assert read_conll(path)[0].tags == ["B-PER", "O", "B-ORG", "I-ORG", "I-ORG"]


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    lines = CONLL.splitlines()
    lines[7] = "Peter NNP B-PER"  # line 8
    path = write(tmp_path, "\n".join(lines) + "\n", "eng.train")
    with pytest.raises(DataError) as err:
        read_conll(path)
    assert str(err.value) == f"{path}:8: 3 columns, expected 4"
    assert err.value.line == 8 and err.value.path == str(path)
    with pytest.raises(DataError, match=r":3: 4 columns, expected 5"):
        read_conll(write(tmp_path, CONLL), num_columns=5)


def test_non_utf8_bytes_name_line_and_byte_offset(tmp_path: Path) -> None:
    data = CONLL.encode("utf-8").replace(b"German", b"Germ\xe4n")  # Latin-1 a-umlaut
    path = write(tmp_path, data)
    offset = data.index(b"\xe4")
    # the one UTF-8 decoder (rnnkit.data.text.read_text): line, offset, byte 5 of the line
    with pytest.raises(
        DataError, match=rf":5: not valid UTF-8: byte 0xe4 at byte offset {offset} \(byte 5 of"
    ):
        read_conll(path)
    with pytest.raises(DataError, match=r":5: not valid UTF-8: .*decompressed"):
        read_conll(write(tmp_path, gzip.compress(data), "z.gz"))


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- -X- -X- O\n\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="empty file"):
        read_conll(path)
    if "DOCSTART" not in text:  # not a marker in the binary format
        with pytest.raises(DataError, match="empty file"):
            read_binary(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope: file not found"):
        read_conll(tmp_path / "nope")


def test_tag_outside_the_tag_set(tmp_path: Path) -> None:
    path = write(tmp_path, "a B-PER\nb I-PER\n\nc B-FOO\n")
    known = {"O", "B-PER", "I-PER"}
    with pytest.raises(DataError, match=r":4: tag 'B-FOO' is not one of the known tags"):
        read_conll(path, tag_set=known)
    iob1_path = write(tmp_path, "a I-PER\n\nc I-FOO\n")
    with pytest.raises(DataError, match=r":3: tag 'B-FOO' \(IOB1 'I-FOO' in the file\)"):
        read_conll(iob1_path, tag_set=known)
    assert read_conll(path, tag_set=known | {"B-FOO"})[1].tags == ["B-FOO"]


def test_mixed_schemes_are_rejected(tmp_path: Path) -> None:
    # sentence 1 (line 1) can only be IOB1; sentence 2 (line 4) can only be BIO
    path = write(tmp_path, "a I-PER\nb O\n\nc B-LOC\nd O\n")
    with pytest.raises(DataError, match=r":4: mixed tag schemes: .*is BIO but .*line 1 is IOB1"):
        read_conll(path)
    bio_then_iobes = write(tmp_path, "a B-PER\nb O\n\nc S-LOC\n")
    with pytest.raises(DataError, match=r":4: mixed tag schemes"):
        read_conll(bio_then_iobes)
    # a sequence that is valid in no scheme at all
    broken = write(tmp_path, "a B-PER\nb I-LOC\n")
    with pytest.raises(DataError, match=r":2: 'I-LOC' follows 'B-PER'.*fits no tag scheme"):
        read_conll(broken)
    # a declared scheme is checked
    with pytest.raises(DataError, match=r":1: .*declared BIO"):
        read_conll(write(tmp_path, "a I-PER\n"), scheme="BIO")


# --------------------------------------------------------------------------- token<TAB>tag


def test_token_tab_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "New York\tB-LOC\nis\tO\n\nfine\tO\n")
    sentences = read_token_tags(path)
    assert sentences[0].tokens == ["New York", "is"] and sentences[0].tags == ["B-LOC", "O"]
    assert sentences[1].lines == [4]
    with pytest.raises(DataError, match=r":2: 1 columns, expected 2"):
        read_token_tags(write(tmp_path, "a\tO\nb O\n"))


# --------------------------------------------------------------------------- binary


def test_binary_lecture_format(tmp_path: Path) -> None:
    text = (
        "Harry Potter and Hermione Granger invented a new spell .\t1 1 0 1 1 0 0 0 0 0\n"
        "\n"
        "Hello world\t0 0\n"
    )
    sentences = read_binary(write(tmp_path, text))
    assert len(sentences) == 2
    assert sentences[0].tokens[:2] == ["Harry", "Potter"]
    assert [int(t) for t in sentences[0].tags] == [1, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    assert sentences[1].lines == [3, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b c\t1 0\n", r":1: 2 labels for 3 tokens"),
        ("ok\t0\na b\t1 2\n", r":2: label '2' of token 2 \('b'\) is not 0 or 1"),
        ("a b 1 0\n", r":1: 1 TAB-separated fields, expected 2"),
        ("\t1\n", r":1: no tokens"),
    ],
)
def test_binary_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_binary(write(tmp_path, text))


# --------------------------------------------------------------------------- writer


@pytest.mark.parametrize("name", ["out.txt", "out.txt.gz"])
def test_write_conll_round_trips(tmp_path: Path, name: str) -> None:
    sentences = read_conll(write(tmp_path, CONLL))
    predictions = [["O"] * len(s) for s in sentences]
    predictions[1] = ["B-PER", "B-PER"]
    out = tmp_path / name
    write_conll(out, [s.tokens for s in sentences], [s.tags for s in sentences], predictions)
    gold = read_conll(out, column=1)
    pred = read_conll(out, column=2)
    assert [s.tokens for s in gold] == [s.tokens for s in sentences]
    assert [s.tags for s in gold] == [s.tags for s in sentences]
    assert [s.tags for s in pred] == predictions


def test_write_conll_without_gold_writes_token_and_prediction(tmp_path: Path) -> None:
    tokens = [["Zoë", "lives", "in", "Köln"], ["Hi"]]
    predicted = [["B-PER", "O", "O", "B-LOC"], ["O"]]
    out = tmp_path / "tagged.txt"
    write_conll(out, tokens, None, predicted)
    assert out.read_bytes().decode("utf-8") == ("Zoë B-PER\nlives O\nin O\nKöln B-LOC\n\nHi O\n\n")
    back = read_conll(out)
    assert [s.tokens for s in back] == tokens
    assert [s.tags for s in back] == predicted
    assert [s.lines for s in back] == [[1, 2, 3, 4], [6]]


def test_write_conll_rejects_mismatches(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with pytest.raises(RnnkitError, match="sentence 0: 1 predicted tags for 2 tokens"):
        write_conll(out, [["a", "b"]], [["O", "O"]], [["O"]])
    with pytest.raises(RnnkitError, match="sentence 0: 1 gold tags for 2 tokens"):
        write_conll(out, [["a", "b"]], [["O"]], [["O", "O"]])
    with pytest.raises(RnnkitError, match="2 predicted sequences for 1 sentences"):
        write_conll(out, [["a", "b"]], None, [["O"], ["O"]])
    with pytest.raises(RnnkitError, match="whitespace"):
        write_conll(out, [["New York"]], [["B-LOC"]], [["O"]])
    assert not out.exists()


# --------------------------------------------------------------------------- real data


def test_shared_conll2003_counts_and_scheme() -> None:
    train = read_conll(conll2003("eng.train"))
    dev = read_conll(conll2003("eng.testa"))
    assert (len(train), sum(map(len, train))) == (14_041, 203_621)
    assert (len(dev), sum(map(len, dev))) == (3_250, 51_362)
    tags = {t for s in train for t in s.tags}
    assert tags == {"O"} | {f"{p}-{t}" for t in ("PER", "LOC", "ORG", "MISC") for p in "BI"}
    assert all(find_violation(s.tags, "BIO") is None for s in dev)


def test_shared_conll2003_in_iob1_and_iobes_reads_back_as_the_same_bio(tmp_path: Path) -> None:
    dev = read_conll(conll2003("eng.testa"))
    for convert, name in ((iob1, "iob1"), (bio_to_iobes, "iobes")):
        lines = []
        for s in dev:
            lines += [f"{tok} {tag}" for tok, tag in zip(s.tokens, convert(s.tags))] + [""]
        path = write(tmp_path, "\n".join(lines) + "\n", f"eng.testa.{name}")
        again = read_conll(path)
        assert [s.tags for s in again] == [s.tags for s in dev]
        raw = read_conll(path, to_bio=False)
        assert [s.tags for s in raw] == [convert(s.tags) for s in dev]
        assert raw != again  # the file really was in the other scheme
