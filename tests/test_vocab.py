"""Vocabulary: ids, frequency order, sizing, OOV handling, one-hot, JSON persistence."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import DataError, RnnkitError

CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat", "on", "the", "log"],
    ["a", "cat", "and", "a", "dog"],
]


def test_specials_come_first_and_regular_tokens_by_frequency() -> None:
    vocab = Vocabulary.build(CORPUS)
    assert vocab.pad_id == 0 and vocab.unk_id == 1
    assert vocab.bos_id is None and vocab.eos_id is None
    counts = Counter(tok for sent in CORPUS for tok in sent)
    regular = vocab.tokens[2:]
    assert sorted(regular) == sorted(counts)  # every token, once
    # non-increasing frequency, ties in order of first occurrence
    first_seen = {tok: i for i, tok in reversed(list(enumerate(t for s in CORPUS for t in s)))}
    keys = [(-counts[t], first_seen[t]) for t in regular]
    assert keys == sorted(keys)
    assert regular[0] == "the"  # 4 occurrences
    assert regular[1:6] == ["cat", "sat", "on", "dog", "a"]  # count 2, by first occurrence


def test_bos_eos_when_asked() -> None:
    vocab = Vocabulary.build(CORPUS, specials=("<pad>", "<unk>", "<bos>", "<eos>"))
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.token(4) == "the"


def test_encode_decode_round_trip_and_oov() -> None:
    vocab = Vocabulary.build(CORPUS)
    sentence = ["the", "dog", "sat", "on", "a", "mat"]
    ids = vocab.encode(sentence)
    assert all(i >= 2 for i in ids)
    assert vocab.decode(ids) == sentence
    assert vocab.decode(torch.tensor(ids)) == sentence
    assert [vocab.token(i) for i in ids] == sentence

    oov = vocab.encode(["the", "zebra", "sat"])
    assert oov[1] == vocab.unk_id == vocab.index("zebra")
    assert "zebra" not in vocab and "cat" in vocab
    assert vocab.decode(oov) == ["the", "sat"]
    assert vocab.decode(oov, strip_special=False) == ["the", "<unk>", "sat"]
    assert vocab.decode([0, 0] + ids, strip_special=True) == sentence  # padding dropped


def test_max_size_and_min_count() -> None:
    vocab = Vocabulary.build(CORPUS, max_size=3)
    assert len(vocab) == 2 + 3
    assert vocab.tokens[2:] == ["the", "cat", "sat"]
    assert vocab.index("dog") == vocab.unk_id

    frequent = Vocabulary.build(CORPUS, min_count=2)
    counts = Counter(tok for sent in CORPUS for tok in sent)
    assert set(frequent.tokens[2:]) == {t for t, n in counts.items() if n >= 2}
    assert len(Vocabulary.build(CORPUS, min_count=5)) == 2  # only the specials

    with pytest.raises(RnnkitError, match="min_count"):
        Vocabulary.build(CORPUS, min_count=0)
    with pytest.raises(RnnkitError, match="tokenize"):
        Vocabulary.build(["the cat sat"])  # strings, not token lists


def test_lecture_dictionary_of_10000_words_plus_unk() -> None:
    # 12,000 distinct words; word w_k occurs (k % 7) + 1 times so frequencies tie a lot.
    words = [f"w{k}" for k in range(12_000)]
    corpus = [[w] * ((k % 7) + 1) for k, w in enumerate(words)]
    vocab = Vocabulary.build(corpus, max_size=10_000, specials=("<unk>",))
    assert len(vocab) == 10_001
    assert vocab.unk_id == 0 and vocab.pad_id is None
    # the most frequent words are kept: every word with count 7..3 (k % 7 in 2..6) is in
    kept = set(vocab.tokens[1:])
    assert all(w in kept for k, w in enumerate(words) if k % 7 >= 3)
    assert all(w not in kept for k, w in enumerate(words) if k % 7 == 0)
    # brute-force reference for the tie rule: count desc, then first occurrence
    counts = {w: (k % 7) + 1 for k, w in enumerate(words)}
    expected = sorted(words, key=lambda w: (-counts[w], int(w[1:])))[:10_000]
    assert vocab.tokens[1:] == expected
    x = vocab.one_hot(torch.tensor(vocab.encode(["w6", "never-seen"])))
    assert x.shape == (2, 10_001) and x[1, vocab.unk_id] == 1.0

    with_pad = Vocabulary.build(corpus, max_size=10_000)
    assert len(with_pad) == 10_002  # <pad> is extra, max_size counts regular words only


def test_one_hot_equals_identity_row_gather() -> None:
    vocab = Vocabulary.build(CORPUS)
    ids = torch.tensor([[2, 5, 0], [1, 3, 4]])  # (B, T)
    x = vocab.one_hot(ids)
    assert x.shape == (2, 3, len(vocab)) and x.dtype == torch.float32
    assert torch.equal(x, torch.eye(len(vocab))[ids])
    with pytest.raises(RnnkitError, match="integer"):
        vocab.one_hot(torch.tensor([0.0]))
    with pytest.raises(RnnkitError, match="ids must lie"):
        vocab.one_hot(torch.tensor([len(vocab)]))


def test_fixed_label_set_without_unk_rejects_unknown() -> None:
    tags = Vocabulary.from_tokens(["O", "B-PER", "I-PER", "B-LOC"])
    assert len(tags) == 4 and tags.index("O") == 0 and tags.index("B-LOC") == 3
    assert tags.unk_id is None and tags.pad_id is None
    assert tags.decode(tags.encode(["B-PER", "I-PER", "O"])) == ["B-PER", "I-PER", "O"]
    with pytest.raises(DataError, match="'B-MISC'"):
        tags.encode(["O", "B-MISC"])

    chars = Vocabulary.build([list("hello world")], specials=("<pad>",))
    assert chars.pad_id == 0 and chars.unk_id is None
    with pytest.raises(DataError, match="'Z'"):
        chars.index("Z")


def test_invalid_constructions() -> None:
    with pytest.raises(RnnkitError, match="twice"):
        Vocabulary.from_tokens(["O", "O"])
    with pytest.raises(RnnkitError, match="id 0"):
        Vocabulary(["a"], specials=("<unk>", "<pad>"))
    with pytest.raises(RnnkitError, match="outside the vocabulary"):
        Vocabulary.from_tokens(["a"]).token(1)


def test_json_round_trip(tmp_path: Path) -> None:
    vocab = Vocabulary.build(
        CORPUS + [["naïve", "café", "東京"]], specials=("<pad>", "<unk>", "<bos>", "<eos>")
    )
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab
    assert loaded.tokens == vocab.tokens and loaded.specials == vocab.specials
    assert loaded.encode(["東京", "cat", "??"]) == vocab.encode(["東京", "cat", "??"])
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    json.loads(path.read_text(encoding="utf-8"))  # plain JSON


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            '{"format": "rnnkit.vocabulary", "version": 1,\n "tokens": [',
            r"bad\.json:2: invalid JSON",
        ),
        ('["a", "b"]', r"bad\.json: expected a JSON object"),
        ('{"format": "other", "version": 1}', r"bad\.json: not an rnnkit vocabulary"),
        (
            '{"format": "rnnkit.vocabulary", "version": 1, "specials": [], "tokens": [1, 2]}',
            r"bad\.json: 'tokens' must be a list of strings",
        ),
        (
            '{"format": "rnnkit.vocabulary", "version": 1, "specials": [], "tokens": ["a", "a"]}',
            r"bad\.json: .*twice",
        ),
    ],
)
def test_malformed_json_names_the_file(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match) as info:
        Vocabulary.load(path)
    assert info.value.path == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        Vocabulary.load(tmp_path / "nope.json")
