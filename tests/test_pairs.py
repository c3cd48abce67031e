"""Sentence pairs for translation: the reader and its errors, normalisation, the tokenizer and
the English detokenizer (round trip on the real Tatoeba file), dev splits, vocabularies, ids."""

from __future__ import annotations

import doctest
import gzip
import tempfile
from pathlib import Path

import pytest
import torch
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import translation_text
from rnnkit.data.pairs import (
    Pair,
    build_vocabularies,
    detokenize_english,
    encode_pair,
    normalise,
    read_pairs,
    split_every_nth,
    split_grouped,
    tokenize_pair_text,
    tokenize_pairs,
)
from rnnkit.data.translation_text import truecase_table
from rnnkit.errors import DataError, RnnkitError

ENG_FRA = shared_data() / "eng-fra" / "train.txt.gz"


def write(tmp_path: Path, text: str | bytes, name: str = "pairs.txt") -> Path:
    path = tmp_path / name
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


# ---------------------------------------------------------------------------------- reader


@pytest.mark.parametrize("name", ["pairs.txt", "pairs.txt.gz"])
def test_read_pairs_default_is_french_to_english(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "Go.\tVa !\r\n\nRun!\tCours\u202f!\r\n", name)
    assert read_pairs(path) == [Pair("Va !", "Go.", 1), Pair("Cours\u202f!", "Run!", 3)]
    assert read_pairs(path, source_column=0, target_column=1)[1] == Pair("Run!", "Cours\u202f!", 3)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Go.\tVa !\nRun!\n", 2, "line without a tab"),
        ("Go.\tVa !\tx\n", 1, "line with 2 tabs"),
        ("Go.\tVa !\nRun!\t  \n", 2, "empty French side"),
        ("\tVa !\n", 1, "empty English side"),
        ("Go.\t\u200b\n", 1, "empty French side"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        read_pairs(path)
    assert str(caught.value).startswith(f"{path}:{line}: {message}")
    assert "\n" not in str(caught.value)
    assert (caught.value.path, caught.value.line) == (str(path), line)


def test_non_utf8_and_empty_files(tmp_path: Path) -> None:
    path = write(tmp_path, "Go.\tVa !\nCaf\xe9.\tCaf\xe9.\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{path}:2: not valid UTF-8") as caught:
        read_pairs(path)
    assert "\n" not in str(caught.value)
    for text in ["", "\n \n"]:
        with pytest.raises(DataError, match="empty file"):
            read_pairs(write(tmp_path, text))
    with pytest.raises(RnnkitError, match="source_column"):
        read_pairs(path, source_column=1, target_column=1)


PIECES = st.sampled_from(
    ["\t", " ", "\n", "\r\n", "Go.", "Va !", "\u202f", "\u200b", "\xa0", "\x00", "é", "\ufeff",
     "'", '"', "«", "»", "-", "\r"]
)  # fmt: skip
MALFORMED = st.one_of(
    st.lists(PIECES, max_size=30).map(lambda p: "".join(p).encode("utf-8")),
    st.binary(max_size=60),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(MALFORMED, st.sampled_from(["p.txt", "p.txt.gz"]))
def test_malformed_pair_files_succeed_or_raise_data_error(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            pairs = read_pairs(path)
        except DataError as e:
            assert str(e).startswith(f"{path}"), str(e)
            assert "\n" not in str(e)
            return
        for pair in pairs:  # a pair read is a pair that tokenizes into something
            assert tokenize_pair_text(pair.source) and tokenize_pair_text(pair.target)


# ------------------------------------------------------------------ normalise and tokenize


def test_normalise() -> None:
    text = "  Ça\u00a0alors\u202f!  « Oui »\tl’a dit\u2009: “c`est” u\u0308ber…\u00ad "
    assert normalise(text) == 'Ça alors ! " Oui " l\'a dit : "c\'est" über...'


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Voulez-vous chanter avec moi ?", ["voulez", "-vous", "chanter", "avec", "moi", "?"]),
        ("J'ai faim.", ["j'", "ai", "faim", "."]),
        ("C’est l'été, qu'il dit.", ["c'", "est", "l'", "été", ",", "qu'", "il", "dit", "."]),
        ("Aujourd'hui a-t-il 3,5 €?", ["aujourd'", "hui", "a", "-t", "-il", "3,5", "€", "?"]),
        ("I don't think it's 9:30.", ["i", "do", "n't", "think", "it", "'s", "9:30", "."]),
        ("We can't; I'm, they'll, you'd.", ["we", "ca", "n't", ";", "i", "'m", ",", "they",
                                             "'ll", ",", "you", "'d", "."]),
        ("It's a girls' club in the U.S.!", ["it", "'s", "a", "girls", "'", "club", "in", "the",
                                             "u.s.", "!"]),
        ("Wait... 50% off $5", ["wait", "...", "50", "%", "off", "$", "5"]),
    ],
)  # fmt: skip
def test_tokenize_pair_text(text: str, tokens: list[str]) -> None:
    assert tokenize_pair_text(text) == tokens


def test_tokenize_keeps_case_and_accents_when_asked() -> None:
    assert tokenize_pair_text("Élise VIT à Noël.", lowercase=False) == [
        "Élise", "VIT", "à", "Noël", "."
    ]  # fmt: skip
    assert tokenize_pair_text("Élise VIT à Noël.") == ["élise", "vit", "à", "noël", "."]


@pytest.mark.parametrize(
    "text",
    [
        "I don't think it's 9:30.",
        '"Says who?" "Says me."',
        '"Look," she said.',
        "It's a girls' club in the U.S.!",
        "If you can't lick 'em, join 'em.",
        "He's open-minded (and well-liked), isn't he?",
        "It costs $5, not 50%; call 223-1374 at 7 o'clock and/or later...",
        "Stop it. I'm busy! Are you?",
    ],
)
def test_detokenize_inverts_tokenize(text: str) -> None:
    assert detokenize_english(tokenize_pair_text(text, lowercase=False)) == text
    assert detokenize_english(tokenize_pair_text(text)).lower() == text.lower()


def test_detokenize_capitalises_sentences_and_i() -> None:
    tokens = ["i", "think", "i", "'m", "late", ".", "are", "you", "?", "yes", "."]
    assert detokenize_english(tokens) == "I think I'm late. Are you? Yes."
    assert detokenize_english([]) == ""


def test_module_doctests_pass() -> None:
    result = doctest.testmod(translation_text)
    assert result.attempted >= 6 and result.failed == 0


@pytest.mark.skipif(not ENG_FRA.is_file(), reason="shared eng-fra data not present")
def test_round_trip_on_the_real_english_sentences() -> None:
    """detokenize(tokenize(s)) gives back normalise(s) for the English side of the file:
    exactly with case kept, and up to case with the default lowercasing."""
    english = sorted({pair.target for pair in read_pairs(ENG_FRA)})
    assert len(english) > 90_000
    cased = sum(
        detokenize_english(tokenize_pair_text(s, lowercase=False)) == normalise(s) for s in english
    )
    uncased = sum(
        detokenize_english(tokenize_pair_text(s)).lower() == normalise(s).lower() for s in english
    )
    assert cased / len(english) >= 0.995, cased / len(english)
    assert uncased / len(english) >= 0.995, uncased / len(english)


@pytest.mark.skipif(not ENG_FRA.is_file(), reason="shared eng-fra data not present")
def test_truecasing_restores_the_case_of_lower_cased_dev_sentences() -> None:
    """Lower-cased, a tenth of the file's English sentences lose the case of a name; the table
    of the other nine tenths gives it back to all but 1% (93.1% -> 99.3% when measured)."""
    train, dev = split_every_nth(read_pairs(ENG_FRA), n=10, offset=9)
    table = truecase_table(tokenize_pair_text(p.target, lowercase=False) for p in train)
    english = [p.target for p in dev]
    plain = sum(detokenize_english(tokenize_pair_text(s)) == normalise(s) for s in english)
    cased = sum(detokenize_english(tokenize_pair_text(s), table) == normalise(s) for s in english)
    assert plain / len(english) < 0.95 and cased / len(english) >= 0.99


# ----------------------------------------------------------------------------------- splits


def pairs_with_repeats() -> list[Pair]:
    """37 pairs: English sentence k (k = 0..11) with 1 + k % 4 French variants."""
    pairs = []
    for k in range(12):
        for v in range(1 + k % 4):
            pairs.append(Pair(f"fr {k} {v}", f"en {k}", len(pairs) + 1))
    return pairs


def test_split_every_nth() -> None:
    items = list(range(25))
    train, dev = split_every_nth(items)
    assert dev == [9, 19] and train == [i for i in items if i not in (9, 19)]
    train, dev = split_every_nth(items, n=5, offset=0)
    assert dev == [0, 5, 10, 15, 20] and len(train) == 20
    for bad in [{"n": 1}, {"n": 10, "offset": 10}, {"offset": -1}]:
        with pytest.raises(RnnkitError):
            split_every_nth(items, **bad)


def test_split_grouped_keeps_english_sentences_on_one_side() -> None:
    pairs = pairs_with_repeats()
    train, dev = split_grouped(pairs, fraction=0.25, seed=3)
    assert {p.target for p in train}.isdisjoint({p.target for p in dev})
    assert sorted(train + dev) == sorted(pairs)  # a partition
    assert train == [p for p in pairs if p in train] and dev == [p for p in pairs if p in dev]
    largest = 4
    assert round(0.25 * len(pairs)) <= len(dev) < round(0.25 * len(pairs)) + largest
    assert split_grouped(pairs, fraction=0.25, seed=3) == (train, dev)  # deterministic
    seeds = {tuple(split_grouped(pairs, 0.25, seed=s)[1]) for s in range(5)}
    assert len(seeds) > 1  # the seed matters
    by_source = split_grouped(pairs, 0.25, key=lambda p: p.source)[1]
    assert len(by_source) == round(0.25 * len(pairs))  # groups of one pair


def test_split_grouped_refuses_an_empty_side() -> None:
    with pytest.raises(RnnkitError, match="fraction"):
        split_grouped(pairs_with_repeats(), fraction=1.0)
    one_sentence = [Pair(f"fr {v}", "en", v + 1) for v in range(5)]
    with pytest.raises(RnnkitError, match="one side would be empty"):
        split_grouped(one_sentence, fraction=0.5)


@pytest.mark.skipif(not ENG_FRA.is_file(), reason="shared eng-fra data not present")
def test_splits_of_the_real_file() -> None:
    pairs = read_pairs(ENG_FRA)
    assert len(pairs) == 128_509
    assert pairs[0] == Pair("Va !", "Go.", 1)
    train, dev = split_grouped(pairs)
    assert {p.target for p in train}.isdisjoint({p.target for p in dev})
    assert 0.1 <= len(dev) / len(pairs) < 0.1001
    assert split_grouped(pairs) == (train, dev)
    train, dev = split_every_nth(pairs)
    assert len(dev) == 12_850 and dev[0].line == 10


# --------------------------------------------------------------------- vocabularies and ids


def test_build_vocabularies_and_encode_pair() -> None:
    pairs = [Pair("J'ai faim.", "I'm hungry.", 1), Pair("J'ai froid !", "I'm cold!", 2)]
    tokens = tokenize_pairs(pairs)
    assert tokens[0] == (["j'", "ai", "faim", "."], ["i", "'m", "hungry", "."])
    source_vocab, target_vocab = build_vocabularies(tokens, min_count=2)
    for vocab in (source_vocab, target_vocab):
        assert vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
        assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert source_vocab.tokens[4:] == ["j'", "ai"]  # faim, froid, ., ! seen once
    assert target_vocab.tokens[4:] == ["i", "'m"]
    x, y = encode_pair(*tokens[0], source_vocab, target_vocab)
    assert x.dtype == y.dtype == torch.int64
    assert x.tolist() == [4, 5, 1, 1]  # no <bos>, no <eos>
    assert y.tolist() == [4, 5, 1, 1, 3]  # ends with <eos>
    assert target_vocab.decode(y) == ["i", "'m"]
    small = build_vocabularies(tokens, max_size=1)
    assert [len(v) for v in small] == [5, 5]


def test_encode_pair_needs_an_eos() -> None:
    from rnnkit.data.vocab import Vocabulary

    vocab = Vocabulary(["a"])
    with pytest.raises(RnnkitError, match="<eos>"):
        encode_pair(["a"], ["a"], vocab, vocab)


def test_truecase_table_counts_only_words_inside_sentences() -> None:
    sentences = [
        ["Tom", "likes", "Paris", "."],
        ["I", "met", "Tom", ".", "He", "likes", "it", "."],
        ["He", "saw", "tom", "!", "Paris", "is", "big", "."],
        ["We", "saw", "US", "and", "us", "and", "us", "."],
    ]
    table = truecase_table(sentences)
    # tom: "Tom" once and "tom" once inside sentences -> a tie keeps lower case; paris: "Paris"
    # once inside ("Paris" after "!" is not counted); us: lower case is the majority
    assert table == {"paris": "Paris"}
    text = detokenize_english(["he", "saw", "paris", "."], table)
    assert text == "He saw Paris."
    assert detokenize_english(["he", "saw", "paris", "."]) == "He saw paris."
