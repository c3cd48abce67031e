"""The music recipe and the CLI end to end on tiny chorales written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest

from rnnkit.cli import main
from rnnkit.data.music import read_midi_pitches


def write_jsb(folder: Path, n_train: int = 6, n_valid: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    piece = [[60, 64, 67], [62, 65, 69], [64, 67, 71], [60, 64, 67], [], [59, 62, 67]]
    (folder / "train.json").write_text(json.dumps([piece * 2] * n_train))
    (folder / "valid.json").write_text(json.dumps([piece] * n_valid))
    return folder


TINY = [
    "--source",
    "jsb",
    "--hidden-size",
    "16",
    "--epochs",
    "3",
    "--batch-size",
    "2",
    "--lr",
    "0.01",
    "--quiet",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("music")
    data = write_jsb(root / "jsb")
    out = root / "run"
    assert main(["train", "music", "--data", str(data), "--out", str(out), *TINY]) == 0
    return data, out


def test_train_writes_checkpoints_log_and_curve(trained: tuple[Path, Path]) -> None:
    _, out = trained
    for name in (
        "best/model.safetensors",
        "best/checkpoint.json",
        "last/model.safetensors",
        "metrics.jsonl",
        "loss.png",
    ):
        assert (out / name).exists(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    assert len(epochs) == 3
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"], (
        "the tiny repeated chorale is learned"
    )


def test_evaluate_prints_the_nll(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    assert main(["evaluate", "music", "--checkpoint", str(out / "best"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["chorales"] == 2 and metrics["steps"] == 12
    assert 0 < metrics["nll_per_step"] < 88 * 0.7  # better than a coin per key


def test_evaluate_samples_sets_sample_statistics_beside_the_real_ones(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.metrics.music import chorale_statistics
    from rnnkit.tasks import music

    data, out = trained
    args = ["evaluate", "music", "--checkpoint", str(out / "best"), "--json", "--samples", "3"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"]["pieces"] == 3 and result["samples"]["frames"] == 3 * 64
    real = json.loads((data / "valid.json").read_text())
    assert result["valid"] == chorale_statistics(real)
    model = music.load(out / "best").model
    pieces = [music.sample_steps(model, 64, seed=i) for i in range(3)]
    assert result["samples"] == chorale_statistics(pieces)  # seeds 0..2, as documented
    assert main(args[:-1] + ["-1"]) == 1
    assert "--samples must be" in capsys.readouterr().err


def test_a_continuation_starts_with_its_prime_unchanged(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.data.midi import read_midi_pitches, write_midi

    _, out = trained
    prime = [[48, 55, 64, 72], [50, 57, 65, 74], [], [43, 59, 62, 67]]
    write_midi(prime, tmp_path / "prime.mid")
    args = ["generate", "music", "--checkpoint", str(out / "best"), "--steps", "6"]
    written = tmp_path / "cont.mid"
    assert main([*args, "--prime", str(tmp_path / "prime.mid"), "--out", str(written)]) == 0
    assert "(10 steps" in capsys.readouterr().out
    steps = read_midi_pitches(written)
    assert steps[:4] == prime and len(steps) == 10
    for bad, message in [
        (str(tmp_path / "none.mid"), "no such file"),
        ("bwv0.0", "no Bach chorale of that name"),
    ]:
        assert main([*args, "--prime", bad, "--out", str(tmp_path / "x.mid")]) == 1
        assert message in capsys.readouterr().err
    write_midi([[], []], tmp_path / "silent.mid")
    assert main([*args, "--prime", str(tmp_path / "silent.mid")]) == 1
    assert "no notes to continue" in capsys.readouterr().err


def test_key_transposes_the_piece_to_the_tonic_asked_for(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.errors import RnnkitError
    from rnnkit.metrics.music import estimate_key
    from rnnkit.tasks.music import transposed_to

    c_major = [[48, 64, 67, 72], [53, 65, 69, 72], [55, 62, 67, 71], [48, 64, 67, 72]]
    for key, shift in (("D", 2), ("Bb", -2), ("F#", -6), ("c", 0)):
        moved = transposed_to(c_major, key)
        assert moved == [[p + shift for p in frame] for frame in c_major]
        found = estimate_key(moved)
        assert found is not None and found.tonic == (shift % 12)
    assert transposed_to(c_major, "D major") == transposed_to(c_major, "D")
    with pytest.raises(RnnkitError, match="not a key name"):
        transposed_to(c_major, "D dorian")
    with pytest.raises(RnnkitError, match="in C major, and transposing moves its tonic, not"):
        transposed_to(c_major, "D minor")
    with pytest.raises(RnnkitError, match="off the piano's keys"):
        transposed_to([[101, 105, 108]], "A")  # F major up 4: 112 is past the top key (108)
    _, out = trained
    args = ["generate", "music", "--checkpoint", str(out / "best"), "--steps", "16"]
    assert main([*args, "--key", "H", "--out", str(tmp_path / "h.mid")]) == 1
    assert "--key: 'H' is not a key name" in capsys.readouterr().err
    assert not (tmp_path / "h.mid").exists()


def test_generate_writes_a_playable_midi_and_a_png(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = trained
    midi = tmp_path / "sample.mid"
    args = [
        "generate",
        "music",
        "--checkpoint",
        str(out / "best"),
        "--steps",
        "16",
        "--out",
        str(midi),
        "--seed",
        "3",
    ]
    assert main(args) == 0
    assert mido.MidiFile(str(midi)).length > 0
    assert (tmp_path / "sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = read_midi_pitches(midi)
    assert main(args) == 0
    assert read_midi_pitches(midi) == first, "the same seed gives the same piece"
    names = [t.name for t in mido.MidiFile(str(midi)).tracks]
    assert names == ["soprano", "alto", "tenor", "bass"]  # four voices by default
    xml = tmp_path / "sample.musicxml"
    assert main([*args, "--musicxml", str(xml)]) == 0
    assert b"<score-partwise" in xml.read_bytes()
    assert main([*args, "--one-track"]) == 0
    assert len(mido.MidiFile(str(midi)).tracks) == 1 and read_midi_pitches(midi) == first


def test_summary_of_a_checkpoint(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    assert main(["summary", "--checkpoint", str(out / "best")]) == 0
    text = capsys.readouterr().out
    assert "LSTM(16)" in text and "(B, T, 88)" in text


def test_resume_continues_to_more_epochs(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = trained
    import shutil

    run = tmp_path / "run"
    shutil.copytree(out, run)
    args = [
        "train",
        "music",
        "--data",
        str(data),
        "--out",
        str(run),
        *TINY[:-3],
        "--epochs",
        "4",
        "--quiet",
        "--resume",
    ]
    assert main(args) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r.get("kind") == "epoch"] == [1, 2, 3, 4]


def test_bad_inputs_give_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _data, out = trained

    def error_of(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        return err

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "valid.json").write_text("[[[60]]]")
    (bad / "train.json").write_text("[[[60, 64], [200]]]")
    assert "200" in error_of(
        ["train", "music", "--data", str(bad), "--out", str(tmp_path / "r"), *TINY]
    )
    (bad / "train.json").write_text("[[[60, 64], [62]], []]")
    assert "no time steps" in error_of(
        ["train", "music", "--data", str(bad), "--out", str(tmp_path / "r"), *TINY]
    )
    (bad / "train.json").write_text("[[[60, 64], [62]")
    assert "train.json" in error_of(
        ["train", "music", "--data", str(bad), "--out", str(tmp_path / "r"), *TINY]
    )

    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(out / "best", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "model.safetensors" in error_of(["generate", "music", "--checkpoint", str(broken)])

    other = tmp_path / "other"
    shutil.copytree(out / "best", other)
    meta = json.loads((other / "checkpoint.json").read_text())
    meta["task"] = "text"
    (other / "checkpoint.json").write_text(json.dumps(meta))
    err = error_of(["generate", "music", "--checkpoint", str(other)])
    assert "text" in err or "checkpoint.json" in err

    assert "steps" in error_of(
        ["generate", "music", "--checkpoint", str(out / "best"), "--steps", "0"]
    )


def test_lecture_summary_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary"]) == 0
    text = capsys.readouterr().out
    assert "1,000,000" in text and "1,110" in text and "Total params: 1,001,121" in text


def test_evaluate_reads_the_data_it_is_given(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data alone means a JSB folder: it is read (once ignored without --source jsb)."""
    _, out = trained
    best = str(out / "best")
    assert main(["evaluate", "music", "--checkpoint", best, "--data", str(tmp_path / "no")]) == 1
    assert str(tmp_path / "no") in capsys.readouterr().err
    other = write_jsb(tmp_path / "other", n_valid=3)
    assert main(["evaluate", "music", "--checkpoint", best, "--data", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chorales"] == 3


def test_evaluate_runs_where_it_is_told(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(trained[1] / "best")
    args = ["evaluate", "music", "--checkpoint", best, "--json"]
    assert main([*args, "--device", "cpu", "--num-threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["chorales"] == 2
    assert main([*args, "--device", "banana"]) == 1
    assert "--device 'banana'" in capsys.readouterr().err
