"""`rnnkit export`: ONNX graphs checked against eager PyTorch with onnxruntime on new batch
sizes and lengths, `torch.export` of the same graphs, and a review classified and a sentence
tagged from the exported files alone (numpy, onnxruntime and the JSON; no rnnkit model)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ner_data import TINY as NER_TINY
from ner_data import sentences, write_conll
from test_sentiment_task import train_tiny_sentiment

from rnnkit.cli import main
from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.tasks.export import export_checkpoint, export_graph, torch_export
from rnnkit.tasks.ner import NERTagger
from rnnkit.tasks.sentiment import SentimentClassifier

ort = pytest.importorskip("onnxruntime")
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_sentiment(
        tmp_path_factory.mktemp("export-sentiment"), "--cell", "lstm", "--bidirectional"
    )


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export-ner")
    train = write_conll(root / "train.conll", sentences(24, seed=10))
    dev = write_conll(root / "dev.conll", sentences(8, seed=11))
    out = root / "run"
    args = ["train", "ner", "--train-file", str(train), "--dev-file", str(dev)]
    assert main([*args, "--out", str(out), *NER_TINY]) == 0
    return out / "best"


@pytest.fixture(scope="module")
def sentiment_files(sentiment_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentiment model exported by the command: model.onnx (returned) and model.json."""
    out = tmp_path_factory.mktemp("sentiment-onnx") / "model.onnx"
    assert main(["export", "--checkpoint", str(sentiment_run), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def ner_files(ner_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ner-onnx") / "ner.onnx"
    assert main(["export", "--checkpoint", str(ner_run), "--out", str(out)]) == 0
    return out


def random_inputs(B: int, T: int, V: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids in [2, V) padded with 0 past varied lengths (the longest is T)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[B // 2] = T
    ids = torch.randint(2, V, (B, T), generator=g)
    ids[torch.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


def char_inputs(ids: torch.Tensor, W: int, C: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, W) char ids and (B, T) word lengths: 0 for padding words (ids == 0)."""
    g = torch.Generator().manual_seed(seed)
    word_lengths = torch.randint(1, W + 1, ids.shape, generator=g) * (ids > 0)
    chars = torch.randint(2, C, (*ids.shape, W), generator=g)
    chars[torch.arange(W)[None, None, :] >= word_lengths[..., None]] = 0
    return chars, word_lengths


def onnx_session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_sentiment_onnx_and_torch_export_equal_eager_on_new_shapes(
    sentiment_run: Path, sentiment_files: Path
) -> None:
    onnx_path = sentiment_files
    meta = json.loads(onnx_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert [i["name"] for i in meta["inputs"]] == ["ids", "lengths"]
    assert meta["inputs"][0]["shape"] == ["B", "T"]
    exported = export_graph(sentiment_run)
    session = onnx_session(onnx_path)
    program = torch_export(exported).module()
    classifier = SentimentClassifier(sentiment_run)
    V = len(meta["vocabulary"]["tokens"])
    worst = 0.0
    for B, T, seed in [(5, 9, 0), (1, 1, 1), (7, 13, 2)]:  # not the (3, 4) exported with
        ids, lengths = random_inputs(B, T, V, seed)
        logits, probabilities = session.run(None, {"ids": ids.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            eager = exported.module(ids, lengths)
            # the model itself, through its fused kernels
            reference = classifier.model(Batch(ids, lengths, mask_from_lengths(lengths, T)))
            traced = program(ids, lengths)
        assert logits.shape == (B, 1) and probabilities.shape == (B, 2)
        worst = max(worst, float(np.abs(logits[:, 0] - reference.logits.numpy()).max()))
        worst = max(worst, float(np.abs(probabilities - eager[1].numpy()).max()))
        torch.testing.assert_close(traced[0], eager[0], rtol=0, atol=TOLERANCE)
    assert worst <= TOLERANCE


def tokenize_from_json(text: str, pre: dict[str, Any]) -> list[str]:
    """The JSON's preprocessing steps, written from their description alone."""
    text = unicodedata.normalize("NFC", text).lower()
    text = html.unescape(re.sub(pre["html_tag_pattern"], " ", text, flags=re.IGNORECASE))
    text = text.replace("\u2019", "'").replace("\u2026", "...").replace("\x85", "...")
    return re.findall(pre["token_pattern"], text)[-pre["keep_last"] :]


def test_export_cli_then_classify_from_the_files_alone(
    sentiment_run: Path, sentiment_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = sentiment_files
    texts = ["The movie was good.", "Bad plot and bad acting!<br />Awful &amp; dull."]
    assert main(["predict", "sentiment", "--checkpoint", str(sentiment_run), *texts]) == 0
    expected = capsys.readouterr().out
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    vocab = meta["vocabulary"]
    index = {token: i for i, token in enumerate(vocab["tokens"])}
    tokens = [tokenize_from_json(x, meta["preprocessing"]) for x in texts]
    rows = [[index.get(t, vocab["unk_id"]) for t in ts] for ts in tokens]
    T = max(len(r) for r in rows)
    ids = np.array([r + [vocab["pad_id"]] * (T - len(r)) for r in rows])
    lengths = np.array([len(r) for r in rows])
    _, probabilities = onnx_session(out).run(None, {"ids": ids, "lengths": lengths})
    best = probabilities.argmax(1)
    lines = [f"{meta['labels'][k]}\t{p[k]:.4f}\n" for k, p in zip(best, probabilities)]
    assert "".join(lines) == expected


def viterbi(e: np.ndarray, v: dict[str, Any]) -> list[int]:
    """The JSON's decoding procedure in numpy: e (T, C) emissions of one sentence."""
    forbid = np.float32(-np.inf)
    A = np.where(v["allowed_transitions"], np.array(v["transitions"], np.float32), forbid)
    start = np.where(v["allowed_start"], np.array(v["start"], np.float32), forbid)
    end = np.where(v["allowed_end"], np.array(v["end"], np.float32), forbid)
    delta = start + e[0]
    back = []
    for t in range(1, len(e)):
        scores = delta[:, None] + A  # (C, C): from i to j
        back.append(scores.argmax(0))
        delta = scores.max(0) + e[t]
    tags = [int((delta + end).argmax())]
    for b in reversed(back):
        tags.append(int(b[tags[-1]]))
    return tags[::-1]


def test_ner_onnx_and_torch_export_equal_eager_on_new_shapes(ner_run: Path, tmp_path: Path) -> None:
    onnx_path, json_path = export_checkpoint(ner_run, tmp_path / "ner.onnx")
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    exported = export_graph(ner_run)
    session = onnx_session(onnx_path)
    program = torch_export(exported).module()
    V, C = len(meta["words"]["tokens"]), len(meta["chars"]["tokens"])
    worst = 0.0
    for B, T, W, seed in [(4, 6, 5, 0), (1, 1, 1, 1), (6, 11, 9, 2)]:
        ids, lengths = random_inputs(B, T, V, seed)
        chars, word_lengths = char_inputs(ids, W, C, seed)
        inputs = (ids, lengths, chars)
        feed = dict(zip(("ids", "lengths", "chars"), (x.numpy() for x in inputs)))
        (scores,) = session.run(None, feed)
        batch = Batch(ids, lengths, mask_from_lengths(lengths, T))
        batch.extras.update(chars=chars, word_lengths=word_lengths)
        with torch.no_grad():
            reference = exported.module.model.emissions(batch)  # the model's own path
            traced = program(*inputs)
        mask = batch.mask[..., None].numpy()
        worst = max(worst, float(np.abs((scores - reference.numpy()) * mask).max()))
        torch.testing.assert_close(
            traced * batch.mask[..., None],
            reference * batch.mask[..., None],
            rtol=0,
            atol=TOLERANCE,
        )
    assert worst <= TOLERANCE


def test_export_cli_then_tag_from_the_files_alone(ner_run: Path, ner_files: Path) -> None:
    out = ner_files
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    pre = meta["preprocessing"]
    text = "Yesterday, Harry Potter met Hermione Granger."
    tokens = re.findall(pre["token_pattern"], unicodedata.normalize("NFC", text))
    words = {w: i for i, w in enumerate(meta["words"]["tokens"])}
    chars = {c: i for i, c in enumerate(meta["chars"]["tokens"])}
    keys = [re.sub(r"\d", "0", t.lower()) for t in tokens]
    W = max(len(t) for t in tokens)
    feed = {
        "ids": np.array([[words.get(k, meta["words"]["unk_id"]) for k in keys]]),
        "lengths": np.array([len(tokens)]),
        "chars": np.array(
            [
                [
                    [chars.get(c, meta["chars"]["unk_id"]) for c in t] + [0] * (W - len(t))
                    for t in tokens
                ]
            ]
        ),
    }
    (scores,) = onnx_session(out).run(None, feed)
    tags = [meta["tags"][k] for k in viterbi(scores[0], meta["viterbi"])]
    assert tags == NERTagger(ner_run).tag_tokens([tokens])[0]
    assert "B-PER" in tags  # the tiny model has learnt the names: a decoding that can fail


@pytest.fixture
def error_of(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    def run(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("rnnkit: error: "), err
        return err

    return run


def test_careless_exports_give_one_line_errors(
    sentiment_run: Path, tmp_path: Path, error_of: Callable[[list[str]], str]
) -> None:
    good = str(sentiment_run)
    assert "no such directory" in error_of(
        ["export", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "m.onnx")]
    )
    assert "no folder" in error_of(
        ["export", "--checkpoint", good, "--out", str(tmp_path / "x" / "m.onnx")]
    )
    taken = tmp_path / "taken.onnx"
    taken.write_bytes(b"keep me")
    assert "--overwrite" in error_of(["export", "--checkpoint", good, "--out", str(taken)])
    assert taken.read_bytes() == b"keep me"
    assert "checkpoint" in error_of(
        ["export", "--checkpoint", good, "--out", str(sentiment_run / "m.onnx")]
    )
    assert main(["export", "--checkpoint", good, "--out", str(taken), "--overwrite"]) == 0
    assert taken.read_bytes()[:8] != b"keep me"


def test_other_tasks_and_missing_packages_are_refused_in_one_line(
    sentiment_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error_of: Callable[[list[str]], str],
) -> None:
    from rnnkit.models import ClassifierConfig, EncoderConfig, SequenceClassifier
    from rnnkit.train.loading import save_model

    frames = SequenceClassifier(ClassifierConfig(encoder=EncoderConfig(num_features=3)))
    other = save_model(frames, tmp_path / "video", task="video")
    err = error_of(["export", "--checkpoint", str(other), "--out", str(tmp_path / "a.onnx")])
    assert "task 'video'" in err and "sentiment, ner" in err
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    err = error_of(
        ["export", "--checkpoint", str(sentiment_run), "--out", str(tmp_path / "s.onnx")]
    )
    assert "pip install 'rnnkit[export]'" in err
    assert not (tmp_path / "s.onnx").exists() and not (tmp_path / "s.json").exists()


def language_model_checkpoint(tmp_path: Path, task: str) -> tuple[Path, Any]:
    """An untrained text (LSTM x 2 over ids) or music (GRU over frames, NADE) checkpoint."""
    from rnnkit.data.vocab import BOS, PAD, Vocabulary
    from rnnkit.models.encoder import EncoderConfig
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
    from rnnkit.train.loading import save_model

    torch.manual_seed(0)
    if task == "text":
        vocab = Vocabulary(list("abcdefg"), specials=(PAD, BOS))
        encoder = EncoderConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=6, num_layers=2)
        model = LanguageModel(LanguageModelConfig(encoder=encoder))
        extras = {"vocab": vocab.to_dict()}
    else:
        encoder = EncoderConfig(num_features=5, cell="gru", hidden_size=6)
        config = LanguageModelConfig(encoder=encoder, within_frame=True, nade_hidden=3)
        model = LanguageModel(config)
        extras = {}
    return save_model(model, tmp_path / task, task=task, extras=extras), model.eval()


@pytest.mark.parametrize("task", ["text", "music"])
def test_language_model_step_carries_the_state_like_the_whole_sequence(
    task: str, tmp_path: Path
) -> None:
    checkpoint, model = language_model_checkpoint(tmp_path, task)
    onnx_path, json_path = export_checkpoint(checkpoint, tmp_path / f"{task}.onnx")
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    names = [i["name"] for i in meta["inputs"]]
    assert names == (["x", "h", "c"] if task == "text" else ["x", "h"])
    session = onnx_session(onnx_path)
    program = torch_export(export_graph(checkpoint)).module()
    B, T = 3, 4  # the graph was exported with B = 2
    g = torch.Generator().manual_seed(1)
    if task == "text":
        x = torch.randint(1, 9, (B, T), generator=g)
    else:
        x = (torch.rand(B, T, 5, generator=g) < 0.4).float()
    with torch.no_grad():
        whole, _ = model.run(x)  # (B, T, V | D + N_h): every step at once
    state = [np.zeros((meta["num_layers"], B, meta["hidden_size"]), np.float32) for _ in names[1:]]
    traced_state = [torch.from_numpy(s) for s in state]
    worst = 0.0
    for t in range(T):
        logits, *state = session.run(
            None, {"x": x[:, t : t + 1].numpy(), **dict(zip(names[1:], state))}
        )
        traced, *traced_state = program(x[:, t : t + 1], *traced_state)
        worst = max(worst, float(np.abs(logits - whole[:, t].numpy()).max()))
        torch.testing.assert_close(traced, whole[:, t], rtol=0, atol=TOLERANCE)
    assert worst <= TOLERANCE
    if task == "music":
        assert "within-frame" in meta["not_exported"]


def test_the_readme_snippet_runs_as_shown(
    sentiment_run: Path, sentiment_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Export to ONNX") :]
    begin = section.index("```python\n") + len("```python\n")
    (tmp_path / "snippet.py").write_text(section[begin : section.index("```", begin)])
    for path in (sentiment_files, sentiment_files.with_suffix(".json")):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    run = [sys.executable, "snippet.py"]
    done = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    review = "A wonderful film!"
    assert main(["predict", "sentiment", "--checkpoint", str(sentiment_run), review]) == 0
    assert done.stdout == capsys.readouterr().out


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_translation_encoder_and_decoder_step_decode_like_greedy(cell: str, tmp_path: Path) -> None:
    from rnnkit.data.vocab import BOS, EOS, PAD, UNK, Vocabulary
    from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from rnnkit.tasks.translate.pipeline import TranslationPipeline
    from rnnkit.train.loading import save_model

    torch.manual_seed(0)
    source = Vocabulary(list("abcdefgh"), specials=(PAD, UNK))
    target = Vocabulary(list("uvwxyz"), specials=(PAD, UNK, BOS, EOS))
    sizes = {"source_embedding_dim": 6, "target_embedding_dim": 5, "hidden_size": 7}
    config = Seq2SeqConfig(len(source), len(target), cell=cell, decoder_layers=2, **sizes)
    model = Seq2Seq(config).eval()
    pipeline = TranslationPipeline(source, target, True, "fr-en", 50)
    checkpoint = save_model(model, tmp_path / "ckpt", task="translate", extras=pipeline.to_extras())
    written = export_checkpoint(checkpoint, tmp_path / "mt.onnx")
    assert [p.name for p in written] == ["mt.encoder.onnx", "mt.decoder.onnx", "mt.json"]
    json_path = written[-1]
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    encoder = onnx_session(tmp_path / meta["graphs"]["encoder"]["onnx"])
    decoder = onnx_session(tmp_path / meta["graphs"]["decoder"]["onnx"])
    src, lengths = random_inputs(3, 5, len(source), seed=4)  # exported with (2, 3)
    memory, keys, *start = encoder.run(None, {"src": src.numpy(), "lengths": lengths.numpy()})
    names = [i["name"] for i in meta["graphs"]["decoder"]["inputs"]][4:]  # feed, h [, c]
    source_feeds = {"lengths": lengths.numpy(), "memory": memory, "keys": keys}
    y, state, steps, first_logits = np.full(3, meta["bos_id"]), start, [], None
    for _ in range(6):
        logits, _, *state = decoder.run(
            None, {"y_prev": y, **source_feeds, **dict(zip(names, state))}
        )
        first_logits = logits if first_logits is None else first_logits
        y = logits.argmax(-1)
        steps.append(y)
    rows = np.stack(steps, 1).tolist()
    ours = [row[: row.index(meta["eos_id"])] if meta["eos_id"] in row else row for row in rows]
    assert ours == model.greedy(src, lengths, max_len=6)
    with torch.no_grad():  # the first step's logits against eager
        mem, first = model.encode(src, lengths)
        eager = model.decoder.step(torch.full((3,), config.bos_id), first, mem).logits
    assert float(np.abs(first_logits - eager.numpy()).max()) <= TOLERANCE


@pytest.mark.parametrize("task", ["activity", "dna"])
def test_frame_and_id_classifiers_of_other_tasks_equal_eager(task: str, tmp_path: Path) -> None:
    from rnnkit.models import ClassifierConfig, EncoderConfig, SequenceClassifier
    from rnnkit.train.loading import save_model

    torch.manual_seed(0)
    inputs = {"num_features": 3} if task == "activity" else {"vocab_size": 6}
    encoder = EncoderConfig(
        **inputs, embedding_dim=4, cell="gru", hidden_size=5, bidirectional=True
    )
    model = SequenceClassifier(ClassifierConfig(encoder=encoder, num_classes=3, pooling="mean"))
    extras = {"classes": ["a", "b", "c"], "channels": ["x", "y", "z"]}
    checkpoint = save_model(model.eval(), tmp_path / task, task=task, extras=extras)
    onnx_path, json_path = export_checkpoint(checkpoint, tmp_path / f"{task}.onnx")
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    assert meta["labels"] == ["a", "b", "c"] and meta["pipeline"]["channels"] == ["x", "y", "z"]
    name = meta["inputs"][0]["name"]
    assert name == ("frames" if task == "activity" else "ids")
    ids, lengths = random_inputs(4, 7, 6, seed=5)  # exported with (2, 3)
    x = torch.randn(4, 7, 3) * (ids > 0)[..., None] if task == "activity" else ids
    _, p = onnx_session(onnx_path).run(None, {name: x.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        logits = model(Batch(x, lengths, mask_from_lengths(lengths, 7))).logits
    assert float(np.abs(p - torch.softmax(logits, -1).numpy()).max()) <= TOLERANCE
