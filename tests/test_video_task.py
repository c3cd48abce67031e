"""The video recipe end to end through the command line, on tiny clips the tests write or
generate: `rnnkit train video` (a user's labels TSV and the generated clips, both presets),
`rnnkit evaluate video`, `rnnkit predict video` on a video file and a frame folder, and the
bad inputs a user meets, each a one-line error."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("av")
pytest.importorskip("sklearn")

from rnnkit.cli import main
from rnnkit.data.moving_digits import MovingDigitsSpec, write_moving_digits
from rnnkit.data.video import decode_clip, write_frame_folder

SMALL_MODEL = ["--conv-layers", "2", "--conv-channels", "4", "--frame-features", "16"]
TINY = ["--height", "16", "--width", "16", *SMALL_MODEL, "--hidden-size", "16", "--quiet",
        "--num-threads", "1"]  # fmt: skip
SPEC = MovingDigitsSpec(frames=6, size=16, digit_size=10, min_speed=1.0, max_speed=1.4)


@pytest.fixture(scope="module")
def sideways(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's folder: clips of digits moving left or right, and their labels.tsv."""
    folder = tmp_path_factory.mktemp("sideways")
    tsv = write_moving_digits(folder, 72, seed=5, spec=SPEC)
    lines = tsv.read_text().splitlines()
    kept = [line for line in lines if line.split("\t")[1] in ("left", "right")]
    tsv.write_text("".join(f"{line}\n" for line in kept))
    return folder


@pytest.fixture(scope="module")
def sideways_run(sideways: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sideways"
    args = ["train", "video", "--data", str(sideways), "--out", str(out), *TINY]
    assert main([*args, "--epochs", "12", "--batch-size", "4", "--lr", "0.01"]) == 0
    return out


def test_a_users_clips_train_evaluate_and_predict(
    sideways: Path, sideways_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(sideways_run / "best")
    capsys.readouterr()
    assert main(["evaluate", "video", "--checkpoint", best, "--data", str(sideways), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "all" and result["clips"] == 24 and result["accuracy"] >= 0.9
    assert set(result["classes"]) == {"left", "right"} and len(result["confusion"]) == 2
    assert main(["evaluate", "video", "--checkpoint", best]) == 0  # its own dev clips, a table
    table = capsys.readouterr().out
    assert table.startswith("split      dev (") and "confusion matrix (rows: true label" in table

    labels = dict(line.split("\t") for line in (sideways / "labels.tsv").read_text().splitlines())
    name = min(labels)
    folder = write_frame_folder(tmp_path / "as-frames", decode_clip(sideways / name))
    clips = [str(sideways / name), str(folder)]
    assert main(["predict", "video", "--checkpoint", best, *clips]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == clips and [r[1] for r in rows] == [labels[name]] * 2
    assert all(0.5 < float(r[2]) <= 1 for r in rows)
    assert main(["predict", "video", "--checkpoint", best, "--json", clips[1]]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["labels"] == [labels[name]] and set(row["probabilities"][0]) == {"left", "right"}
    assert abs(sum(row["probabilities"][0].values()) - 1) < 1e-5


def test_generated_clips_and_the_per_frame_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rnnkit.tasks")
    sizes = ["--train-clips", "24", "--dev-clips", "12", "--test-clips", "18", "--frames", "8"]
    out = tmp_path / "frames"
    args = ["train", "video", "--preset", "frames", "--out", str(out), *TINY, *sizes]
    assert main([*args, "--epochs", "2", "--batch-size", "8"]) == 0
    said = "video: training on 24 clips generated in memory from scikit-learn's digits"
    assert said in caplog.text
    best = str(out / "best")
    capsys.readouterr()
    assert main(["evaluate", "video", "--checkpoint", best, "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 18 and result["frames"] == 18 * 8 and result["split"] == "test"
    assert 0 <= result["accuracy"] <= 1 and len(result["confusion"]) == 6

    tsv = write_moving_digits(tmp_path / "switching", 12, 1, spec=MovingDigitsSpec(
        frames=8, size=16, digit_size=10, switch=True))  # fmt: skip
    clip = str(tsv.parent / "clip_0000.mkv")
    assert main(["predict", "video", "--checkpoint", best, clip]) == 0
    path, labels, scores = capsys.readouterr().out.rstrip("\n").split("\t")
    assert path == clip and len(labels.split()) == 8 and len(scores.split()) == 8
    # a user's per-frame labels: one per frame, as write_moving_digits writes them
    user = ["train", "video", "--preset", "frames", "--data", str(tsv.parent), *TINY]
    assert main([*user, "--out", str(tmp_path / "user"), "--epochs", "1", "--dev-fraction",
                 "0.5"]) == 0  # fmt: skip


def bad_folder(tmp_path: Path, line: str) -> Path:
    """A labels.tsv with one good clip and `line`."""
    folder = tmp_path / "bad"
    tsv = write_moving_digits(folder, 1, 0, spec=SPEC)
    tsv.write_text(tsv.read_text() + line + "\n")
    return folder


def train_fails(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    args = ["train", "video", "--data", str(folder), "--out", str(folder / "run"), *TINY]
    assert main([*args, *extra]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_clips_in_a_labels_file_name_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = train_fails(bad_folder(tmp_path / "a", "gone.mkv\tleft"), capsys)
    assert "labels.tsv:2: clip gone.mkv: no such video file or frame folder" in err
    folder = bad_folder(tmp_path / "b", "x.mp4\tleft")
    (folder / "x.mp4").write_bytes(b"garbage bytes, not a video" * 10)
    err = train_fails(folder, capsys)
    assert "labels.tsv:2: " in err and "x.mp4: not a readable video" in err
    import av

    folder = bad_folder(tmp_path / "c", "empty.avi\tup")
    with av.open(str(folder / "empty.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        container.start_encoding()
    assert "labels.tsv:2: " in (err := train_fails(folder, capsys))
    assert "empty.avi: the clip has no frames" in err
    folder = bad_folder(tmp_path / "d", "clip_0000.mkv\tleft left")
    err = train_fails(folder, capsys)
    assert "labels.tsv:2: 2 labels: a clip classifier needs one label per clip" in err
    err = train_fails(folder, capsys, "--preset", "frames")
    assert "labels.tsv:1: 1 labels for the 6 frames of clip_0000.mkv" in err


def test_bad_predict_inputs(
    sideways_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(sideways_run / "best")
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(b"\x00garbage" * 50)
    capsys.readouterr()
    for clip, message in [
        (garbage, "x.mp4: not a readable video"),
        (tmp_path / "gone.mkv", "gone.mkv: no such video file or frame folder"),
        (tmp_path, "no frame images (.png, .jpg, .jpeg) in this folder"),
    ]:
        assert main(["predict", "video", "--checkpoint", best, str(clip)]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert main(["evaluate", "video", "--checkpoint", best, "--split", "test"]) == 1
    assert "--split must be all, dev or train for a labels file" in capsys.readouterr().err
