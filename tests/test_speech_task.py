"""The speech recipe end to end on tiny recordings the tests write (each digit a chord of its
own): `rnnkit train speech` (digits and CTC), `rnnkit evaluate speech`, `rnnkit transcribe`
with --json and --plot, the FSDD splits, and the bad inputs a user meets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from speech_data import RATE, SPEAKERS, digit_sound, write_recordings, write_string

from rnnkit.cli import main
from rnnkit.data.audio import write_wav
from rnnkit.data.batch import mask_from_lengths
from rnnkit.data.fsdd import list_recordings, parse_name, split_recordings
from rnnkit.errors import DataError, RnnkitError
from rnnkit.models.ctc import ctc_greedy
from rnnkit.models.ctc_recognizer import CTCConfig, CTCRecognizer
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks import speech
from rnnkit.tasks.speech.inference import Transcriber, expand_inputs
from rnnkit.train import load_checkpoint, save_checkpoint

SMALL = ["--hidden-size", "24", "--num-layers", "1", "--quiet", "--ema-decay", "0"]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recordings(tmp_path_factory.mktemp("fsdd") / "recordings", takes=range(14))


@pytest.fixture(scope="module")
def digits_run(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits"
    args = ["train", "speech", "--data", str(recordings), "--out", str(out), *SMALL]
    assert main([*args, "--epochs", "12", "--batch-size", "8", "--lr", "0.01"]) == 0
    return out


@pytest.fixture(scope="module")
def ctc_run(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ctc"
    args = ["train", "speech", "--preset", "ctc", "--data", str(recordings), "--out", str(out)]
    options = ["--epochs", "30", "--batch-size", "8", "--lr", "0.01", "--train-strings", "128"]
    assert main([*args, *SMALL, *options, "--dev-strings", "24", "--max-digits", "4"]) == 0
    return out


def test_fsdd_names_and_splits(recordings: Path, tmp_path: Path) -> None:
    found = list_recordings(recordings.parent)  # the folder holding recordings/ works too
    assert len(found) == 10 * len(SPEAKERS) * 14
    r = parse_name(Path("7_jackson_32.wav"))
    assert (r.digit, r.speaker, r.take) == (7, "jackson", 32)
    takes = split_recordings(found)
    assert {r.take for r in takes["test"]} == set(range(5))
    assert {r.take for r in takes["dev"]} == set(range(5, 10))
    assert {r.take for r in takes["train"]} == {10, 11, 12, 13}
    held = split_recordings(found, "speaker", "bob")
    assert {r.speaker for r in held["dev"]} == {"bob"} and {r.take for r in held["dev"]} == set(
        range(5, 14)
    )
    assert {r.speaker for r in held["train"]} == {"ann"}
    with pytest.raises(RnnkitError, match="held-out-speaker must be one of ann, bob"):
        split_recordings(found, "speaker", "carol")
    (tmp_path / "hello.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"hello.wav: expected a name like 7_jackson_32.wav"):
        list_recordings(tmp_path)


def test_digit_classifier_learns_and_transcribes(
    digits_run: Path, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(digits_run / "best")
    capsys.readouterr()
    assert main(["evaluate", "speech", "--checkpoint", best, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] >= 0.95 and result["recordings"] == 100
    assert set(result) >= {"accuracy_ann", "accuracy_bob", "loss"}
    assert main(["evaluate", "speech", "--checkpoint", best, "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= 0.95

    files = [recordings / "3_ann_2.wav", recordings / "8_bob_4.wav"]
    assert main(["transcribe", "--checkpoint", best, *map(str, files)]) == 0
    assert capsys.readouterr().out == f"{files[0]}\t3\n{files[1]}\t8\n"
    listing = tmp_path / "files.txt"
    listing.write_text(f"# two recordings\n{files[0]}\n\n{files[1]}\n", encoding="utf-8")
    assert main(["transcribe", "--checkpoint", best, "--json", str(listing)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["3", "8"] and all(0.5 < r["score"] <= 1 for r in rows)


def test_ctc_transcribes_strings_with_times(
    ctc_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(ctc_run / "best")
    capsys.readouterr()
    assert main(["evaluate", "speech", "--checkpoint", best, "--json", "--beam", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["error_rate"] <= 0.1 and result["error_rate_beam"] <= 0.1
    wav = write_string(tmp_path / "4071.wav", [4, 0, 7, 1])
    plots = tmp_path / "plots"
    args = ["transcribe", "--checkpoint", best, "--json", "--beam", "4", "--plot", str(plots)]
    assert main([*args, str(wav)]) == 0
    out = capsys.readouterr().out.splitlines()
    row = json.loads(out[0])
    assert row["text"] == "4 0 7 1" and row["symbols"] == ["4", "0", "7", "1"]
    # each digit lasts about 0.27 s after a 0.15 s gap: the k-th is heard within its span
    for k, when in enumerate(row["times"]):
        start = 0.15 + k * (0.27 + 0.15)
        assert start - 0.05 <= when <= start + 0.32, (k, when)
    assert (plots / "4071.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctc_recognizer_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    encoder = EncoderConfig(num_features=2 * 6, cell="gru", hidden_size=24, bidirectional=True)
    model = CTCRecognizer(CTCConfig(encoder=encoder, num_symbols=3, subsample=2))
    lengths = torch.tensor([16, 12, 10])
    x = torch.randn(3, 16, 6) * mask_from_lengths(lengths, 16)[:, :, None]
    targets = torch.tensor([[1, 2, 2, 3], [3, 1, 0, 0], [2, 0, 0, 0]])
    target_lengths = torch.tensor([4, 2, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        out = model(x, lengths, targets, {"target_lengths": target_lengths})
        assert out.loss is not None and int(out.count) == 7
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    out = model(x, lengths)
    assert out.logits.shape == (3, 8, 4)
    found = ctc_greedy(out.logits, model.output_lengths(lengths))
    assert [h.labels for h in found] == [[1, 2, 2, 3], [3, 1], [2]]


def test_bad_inputs_are_one_line_errors(
    digits_run: Path, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(digits_run / "best")
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["transcribe", "--checkpoint", best, str(fake)]) == 1
    err = capsys.readouterr().err
    assert str(fake) in err and len(err.strip().splitlines()) == 1
    assert main(["transcribe", "--checkpoint", best, str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav: no such file or folder" in capsys.readouterr().err
    # another rate is resampled (with a note), and still heard right
    sound = digit_sound(5, 0, 7)
    slow = torch.nn.functional.interpolate(sound[None, None], scale_factor=2.0, mode="linear")
    write_wav(tmp_path / "five16k.wav", slow[0, 0], 2 * RATE)
    assert [t.text for t in Transcriber(best).transcribe([tmp_path / "five16k.wav"])] == ["5"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(RnnkitError, match="empty: no .wav files in this folder"):
        expand_inputs([tmp_path / "empty"])
    with pytest.raises(RnnkitError, match="--beam must be at least 1"):
        Transcriber(best, beam=0)
    assert main(["train", "speech", "--data", str(tmp_path / "nowhere"), "--quiet"]) == 1
    assert "nowhere: not a folder" in capsys.readouterr().err
    with pytest.raises(RnnkitError, match="--dev-split speaker needs --held-out-speaker NAME"):
        speech.SpeechDataConfig(dev_split="speaker")
    with pytest.raises(RnnkitError, match="need 1 <= --min-digits <= --max-digits, got 5 and 2"):
        speech.SpeechDataConfig(min_digits=5, max_digits=2)
    assert main(["train", "speech", "--preset", "ctc", "--metric", "accuracy", "--quiet"]) == 1
    assert "--metric must be loss or error_rate" in capsys.readouterr().err


def test_a_checkpoint_of_another_task_is_refused(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = load_checkpoint(digits_run / "best")
    model = speech.load(digits_run / "best").model
    save_checkpoint(tmp_path / "music", model, meta=replace(loaded.meta, task="music"))
    wav = write_string(tmp_path / "one.wav", [1])
    capsys.readouterr()
    assert main(["transcribe", "--checkpoint", str(tmp_path / "music"), str(wav)]) == 1
    assert "was made for task 'music', not 'speech'" in capsys.readouterr().err
    assert main(["translate", "--checkpoint", str(digits_run / "best"), "Va !"]) == 1
    assert "was made for task 'speech', not 'translate'" in capsys.readouterr().err
