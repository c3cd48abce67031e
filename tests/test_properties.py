"""Property-based tests (hypothesis): malformed inputs through every reader and the RNN layer.

Each generated input either works or raises rnnkit's own error (RnnkitError or a subclass)
naming the file or the argument; no other exception escapes. Over 1,000 inputs in all, drawn
deterministically (derandomize) so that CI sees the same ones every time.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.classification import load_labelled, load_sentiment
from rnnkit.data.conll import read_binary, read_conll, read_token_tags
from rnnkit.data.jsb import read_jsb
from rnnkit.data.text import read_text
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.layers.rnn import RNN
from rnnkit.train.checkpoint import META_FILE, CheckpointMeta, load_checkpoint, save_checkpoint

FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None)

# Text that looks a little like the formats: their separators, tags, labels, brackets.
PIECES = st.sampled_from(
    ["\t", " ", ",", "\n", "\n\n", '"', "{", "}", "[", "]", ":", "B-PER", "I-LOC", "O", "E-X",
     "0", "1", "pos", "neg", "text", "label", "-DOCSTART-", "\r", "\x00", "é", "\ufeff", "60"]
)  # fmt: skip
TEXTS = st.one_of(st.text(max_size=80), st.lists(PIECES, max_size=30).map("".join))
BYTES = st.one_of(
    st.binary(max_size=80),
    TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass")),
    TEXTS.map(lambda t: gzip.compress(t.encode("utf-8", "surrogatepass"))[: len(t) + 10]),
)


def check_reader(read: Callable[[Path], Any], data: bytes, name: str) -> None:
    """`read` on a file holding `data` succeeds or raises RnnkitError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            read(path)
        except RnnkitError as e:
            assert str(path) in str(e), str(e)


@FAST
@given(BYTES, st.sampled_from(["a.txt", "a.txt.gz"]))
def test_read_text(data: bytes, name: str) -> None:
    check_reader(read_text, data, name)


@FAST
@given(BYTES, st.sampled_from(["r.tsv", "r.csv", "r.jsonl", "r.txt"]))
def test_load_labelled(data: bytes, name: str) -> None:
    check_reader(load_labelled, data, name)


@FAST
@given(BYTES, st.sampled_from(["r.tsv", "r.csv", "r.jsonl"]))
def test_load_sentiment(data: bytes, name: str) -> None:
    check_reader(load_sentiment, data, name)


@FAST
@given(BYTES, st.sampled_from([read_conll, read_token_tags, read_binary]))
def test_conll_readers(data: bytes, read: Callable[[Path], Any]) -> None:
    check_reader(read, data, "s.conll")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-200, 200) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
JSON_BYTES = st.one_of(BYTES, JSON_VALUES.map(lambda v: json.dumps(v).encode()))


@FAST
@given(JSON_BYTES, st.sampled_from([None, "train", "valid"]))
def test_read_jsb(data: bytes, split: str | None) -> None:
    check_reader(lambda p: read_jsb(p, split), data, "train.json")


VOCAB_DICTS = st.fixed_dictionaries(
    {},
    optional={
        "tokens": st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=5),
        "specials": st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
        "unk": st.one_of(st.none(), st.text(max_size=5), st.integers()),
        "counts": JSON_VALUES,
    },
)


@FAST
@given(st.one_of(JSON_BYTES, VOCAB_DICTS.map(lambda d: json.dumps(d).encode())))
def test_vocabulary_load(data: bytes) -> None:
    check_reader(Vocabulary.load, data, "vocab.json")


@FAST
@given(st.one_of(JSON_VALUES, VOCAB_DICTS))
def test_vocabulary_from_dict(data: Any) -> None:
    try:
        Vocabulary.from_dict(data, source="vocab.json")
    except RnnkitError as e:
        assert "vocab.json" in str(e), str(e)


@pytest.fixture(scope="module")
def checkpoint_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("ckpt") / "last"
    save_checkpoint(
        path, torch.nn.Linear(2, 1), meta=CheckpointMeta(task="t", epoch=1, global_step=3)
    )
    return dict(json.loads((path / META_FILE).read_text()))


def corrupt(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A valid checkpoint.json with fields removed, replaced or added; or any bytes."""
    edited = st.builds(
        lambda drop, change: json.dumps(
            {**{k: v for k, v in valid.items() if k not in drop}, **change}
        ).encode(),
        st.sets(st.sampled_from(sorted(valid))),
        st.dictionaries(st.sampled_from([*sorted(valid), "x"]), JSON_VALUES, max_size=3),
    )
    return st.one_of(edited, JSON_BYTES)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_load_checkpoint_with_corrupt_json(checkpoint_json: dict[str, Any], data: Any) -> None:
    blob = data.draw(corrupt(checkpoint_json))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last"
        save_checkpoint(path, torch.nn.Linear(2, 1))
        (path / META_FILE).write_bytes(blob)
        try:
            load_checkpoint(path)
        except RnnkitError as e:
            assert str(path) in str(e), str(e)


RNNS = {
    (cell, bidirectional): RNN(cell, 3, 4, num_layers=2, bidirectional=bidirectional).double()
    for cell in ("rnn", "gru", "lstm")
    for bidirectional in (False, True)
}
LENGTH_DTYPES = [torch.int64, torch.int32, torch.uint8, torch.float32, torch.bool]


@st.composite
def rnn_inputs(draw: Any) -> tuple[Any, Any]:
    """x of random rank, sizes and dtype; lengths of random shape, dtype and values."""
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    if draw(st.booleans()):  # often well-formed, so that both executions get compared
        shape = [draw(st.integers(1, 3)), draw(st.integers(1, 5)), 3]
    dtype = draw(st.sampled_from([torch.float64, torch.float64, torch.float32, torch.int64]))
    x = torch.randn(shape, dtype=torch.float64).to(dtype)
    if draw(st.booleans()):
        return x, None
    n = draw(st.integers(0, 4)) if draw(st.booleans()) else (shape[0] if shape else 1)
    values = draw(st.lists(st.integers(-2, 7), min_size=n, max_size=n))
    lengths = torch.tensor(values).clamp(min=0).to(draw(st.sampled_from(LENGTH_DTYPES)))
    if draw(st.booleans()):
        lengths = torch.tensor(values)  # negative values kept
    if draw(st.integers(0, 9)) == 0:
        return x, values  # a list, not a tensor
    return x, lengths


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(rnn_inputs(), st.sampled_from(sorted(RNNS)))
def test_rnn_inputs(inputs: tuple[Any, Any], key: tuple[str, bool]) -> None:
    """Bad inputs raise an error naming the argument; good ones give the same outputs,
    final states and gradients in both executions."""
    x, lengths = inputs
    rnn = RNNS[key]
    try:
        reference, ref_state = rnn(x, lengths, execution="reference")
    except RnnkitError as e:
        assert "x" in str(e) or "lengths" in str(e), str(e)
        with pytest.raises(RnnkitError):
            rnn(x, lengths, execution="fused")
        return
    fused, fused_state = rnn(x, lengths, execution="fused")
    torch.testing.assert_close(fused, reference)
    for a, b in zip(
        torch.utils._pytree.tree_leaves(fused_state), torch.utils._pytree.tree_leaves(ref_state)
    ):
        torch.testing.assert_close(a, b)
    auto, _ = rnn(x, lengths)
    torch.testing.assert_close(auto, reference)
