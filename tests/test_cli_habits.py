"""The command line as a PyTorch user expects it: python -m rnnkit, --device and --num-threads
on the inference verbs, predict's --input, SentimentClassifier, and the data a run names."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_music_task import TINY as MUSIC_TINY
from test_music_task import write_jsb
from test_sentiment_task import train_tiny_sentiment

from rnnkit.cli import main
from rnnkit.tasks import sentiment as S


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_sentiment(tmp_path_factory.mktemp("habits"))


def test_python_dash_m_rnnkit_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "data", "--help"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "fetch" in done.stdout


def test_sentiment_classifier_loads_once_and_agrees_with_predict(sentiment_run: Path) -> None:
    texts = ["The movie was good.", "Bad plot and bad acting."]
    classifier = S.SentimentClassifier(sentiment_run)
    first = classifier.predict(texts)
    assert classifier.predict(texts[::-1]) == first[::-1]
    assert S.predict(sentiment_run, texts) == first
    assert S.predict(sentiment_run, texts, device="cpu") == first


def test_predict_input_is_file_and_reads_stdin(
    sentiment_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("The movie was good.\nBad plot.\n", encoding="utf-8")
    base = ["predict", "sentiment", "--checkpoint", str(sentiment_run)]
    assert main([*base, "--file", str(reviews)]) == 0
    by_file = capsys.readouterr().out
    assert main([*base, "--input", str(reviews), "--num-threads", "1", "--device", "cpu"]) == 0
    assert capsys.readouterr().out == by_file
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(reviews.read_bytes())))
    assert main([*base, "--input", "-"]) == 0
    assert capsys.readouterr().out == by_file
    assert main([*base, "--input", str(reviews), "--num-threads", "0"]) == 1
    assert "--num-threads must be at least 1" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*base, "--input", str(reviews), "--device", "cuda"]) == 1
        assert "CUDA is not available" in capsys.readouterr().err


def test_generate_takes_device_and_threads_and_runs_name_their_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    data = write_jsb(tmp_path / "jsb")
    out = tmp_path / "run"
    tiny = [a if a != "3" else "1" for a in MUSIC_TINY]  # one epoch
    with caplog.at_level(logging.INFO, logger="rnnkit.tasks"):
        assert main(["train", "music", "--data", str(data), "--out", str(out), *tiny]) == 0
    assert f"music: training on {data}" in caplog.text
    threads = torch.get_num_threads()
    try:
        args = ["generate", "music", "--checkpoint", str(out / "best"), "--steps", "4"]
        args += ["--out", str(tmp_path / "a.mid"), "--device", "cpu", "--num-threads", "1"]
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)
    assert "wrote" in capsys.readouterr().out
    for verb in (["generate", "text"], ["tag"], ["predict", "sentiment"]):
        with pytest.raises(SystemExit):
            main([*verb, "--help"])
        assert "--num-threads" in capsys.readouterr().out
