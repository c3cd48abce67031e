"""The activity recipe end to end on synthetic sensor data the tests write (three clearly
separable activities): `rnnkit train activity`, `rnnkit evaluate activity` (--json, the
confusion PNG), `rnnkit predict activity` on files of cases and on a long recording with
--stride, cross-validation, and the bad inputs a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from activity_data import write_cases_csv, write_cases_ts, write_har, write_stream

from rnnkit.cli import main
from rnnkit.data.batching import make_batch
from rnnkit.data.timeseries import read_series
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks import activity
from rnnkit.tasks.activity.data import split_cases

SMALL = ["--hidden-size", "16", "--num-layers", "1", "--quiet", "--batch-size", "8"]
FAST = ["--epochs", "15", "--lr", "0.01", "--num-threads", "1"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cases_ts(tmp_path_factory.mktemp("data") / "Synthetic_TRAIN.ts")


@pytest.fixture(scope="module")
def run(cases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "activity"
    assert main(["train", "activity", "--data", str(cases), "--out", str(out), *SMALL, *FAST]) == 0
    return out


def test_classifier_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    encoder = EncoderConfig(num_features=3, cell="gru", hidden_size=16, bidirectional=True)
    model = SequenceClassifier(ClassifierConfig(encoder=encoder, num_classes=4, pooling="mean"))
    x = [torch.randn(t, 3) for t in (9, 5, 7, 3)]
    batch = make_batch(x, torch.tensor([0, 1, 2, 3]))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        out = model(batch)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    assert model.predict(model(batch).logits).tolist() == [0, 1, 2, 3]
    with torch.no_grad():
        loss = model(batch).loss
    assert loss is not None and float(loss) < 0.05


def test_train_and_evaluate(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    best = str(run / "best")
    capsys.readouterr()
    png = tmp_path / "confusion.png"
    assert (
        main(["evaluate", "activity", "--checkpoint", best, "--json", "--confusion", str(png)]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == 1.0 and result["split"] == "dev" and result["cases"] == 6
    assert set(result["classes"]) == {"still", "wave", "tilt"}
    assert result["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result["confusion_png"] == str(png)
    assert main(["evaluate", "activity", "--checkpoint", best, "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "(train): 18 cases" in out and "confusion matrix (rows: true class" in out
    loaded = activity.load(best)
    assert loaded.pipeline.classes == ("still", "wave", "tilt") and loaded.pipeline.window == 24
    assert loaded.model.config.encoder.num_features == 3


def test_predict_cases(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    best = str(run / "best")
    path = write_cases_csv(tmp_path / "new.csv", ["tilt", "still", "wave"])
    capsys.readouterr()
    assert main(["predict", "activity", "--checkpoint", best, str(path)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[:2] for r in rows] == [
        [f"{path}:2", "tilt"],
        [f"{path}:22", "still"],
        [f"{path}:42", "wave"],
    ]
    assert all(0.5 < float(r[2]) <= 1 for r in rows)
    assert main(["predict", "activity", "--checkpoint", best, "--json", str(path)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[1]["label"] == "still" and set(records[1]["probabilities"]) == {
        "still",
        "wave",
        "tilt",
    }
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in records)


def test_predict_a_recording_with_stride(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(run / "best")
    stream = write_stream(tmp_path / "day.csv", [("still", 60), ("wave", 60)])
    capsys.readouterr()
    assert main(["predict", "activity", "--checkpoint", best, "--stride", "4", str(stream)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [int(r[0]) for r in rows] == list(range(120))
    labels = [r[1] for r in rows]
    # the windows are 24 steps: the steps far from the boundary (step 60) are called right,
    # and the label switches once, within a window of it
    assert set(labels[:40]) == {"still"} and set(labels[80:]) == {"wave"}
    switches = [t for t in range(1, 120) if labels[t] != labels[t - 1]]
    assert len(switches) == 1 and 40 <= switches[0] <= 80, switches
    args = ["predict", "activity", "--checkpoint", best, "--stride", "24", "--json", str(stream)]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["window"] == 24 and [w["start"] for w in record["windows"]] == [0, 24, 48, 72, 96]
    assert [w["label"] for w in record["windows"]][::4] == ["still", "wave"]
    assert len(record["steps"]) == 120 and len(record["steps"][0]["probabilities"]) == 3


def test_crossval(cases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cv"
    args = ["crossval", "activity", "--folds", "2", "--data", str(cases), "--out", str(out)]
    assert main([*args, *SMALL, *FAST[:2], "--epochs", "6"]) == 0
    printed = capsys.readouterr().out
    assert "fold 1  accuracy" in printed and "2-fold accuracy:" in printed
    assert json.loads((out / "crossval.json").read_text())["folds"] == 2


def test_har_folder_subjects_and_test_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_har(tmp_path / "UCI HAR Dataset", windows=24)
    write_har(root, "test", windows=6)
    cases = read_series(root)
    config = activity.ActivityDataConfig(dataset="none", dev_fraction=0.3)
    train, dev = split_cases(cases, config)
    assert train.groups is not None and dev.groups is not None and len(dev) > 0
    assert not set(train.groups) & set(dev.groups)  # a subject's windows on one side
    out = tmp_path / "run"
    args = ["train", "activity", "--preset", "har", "--data", str(tmp_path), "--out", str(out)]
    assert main([*args, *SMALL, "--epochs", "2"]) == 0
    capsys.readouterr()
    assert (
        main(
            ["evaluate", "activity", "--checkpoint", str(out / "best"), "--split", "test", "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["cases"] == 6 and len(result["confusion"]) == 3


def test_bad_inputs_are_one_line_errors(
    run: Path, cases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(run / "best")
    capsys.readouterr()

    def fails(args: list[str], message: str) -> None:
        assert main(args) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err

    bad = tmp_path / "bad.ts"
    bad.write_text("@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n", encoding="utf-8")
    fails(["train", "activity", "--data", str(bad), "--quiet"], f"{bad}:4: 1 channels, expected 2")
    fails(["train", "activity", "--data", str(tmp_path / "none.ts"), "--quiet"], "none.ts: no such")
    fails(["train", "activity", "--dataset", "none", "--quiet"], "no data: pass --data PATH")
    fails(["train", "activity", "--folds", "3", "--fold", "3", "--quiet"], "--fold must be between")
    gap = write_stream(tmp_path / "gap.csv", [("still", 30)])
    lines = gap.read_text().splitlines()
    lines[5] = "4,0.1,?,0.2"
    gap.write_text("\n".join(lines) + "\n")
    predict = ["predict", "activity", "--checkpoint", best, "--stride", "8"]
    fails([*predict, str(gap)], f"{gap}:6: missing value (? or NaN) at step 5, channel 2")
    assert main([*predict, "--missing", "interpolate", str(gap)]) == 0
    capsys.readouterr()
    short = write_stream(tmp_path / "short.csv", [("still", 10)])
    fails([*predict, str(short)], "10 steps, shorter than the model's window (24 steps)")
    two = tmp_path / "two.csv"
    two.write_text("ax,ay\n1,2\n" * 1, encoding="utf-8")
    fails([*predict, str(two)], "2 channels, but the model reads 3")
    fails([*predict[:-1], "0", str(short)], "--stride must be at least 1")
    fails([*predict[:-2], str(cases.with_name("x.txt"))], "x.txt: cannot tell the format")
    fails(["evaluate", "activity", "--checkpoint", best, "--split", "test"], "_TEST.ts: no such")
    other = write_cases_ts(tmp_path / "other.ts")
    other.write_text(other.read_text().replace("tilt", "jump"))
    fails(
        ["evaluate", "activity", "--checkpoint", best, "--data", str(other)],
        "labels ['jump'] are not classes of the model",
    )


def test_training_on_windows_of_long_cases(
    cases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "windows"
    args = ["train", "activity", "--data", str(cases), "--out", str(out), "--window", "12"]
    assert main([*args, *SMALL, *FAST]) == 0
    loaded = activity.load(out / "best")
    assert loaded.pipeline.window == 12 and loaded.pipeline.windowed
    assert loaded.pipeline.stride == 6
    capsys.readouterr()
    assert main(["evaluate", "activity", "--checkpoint", str(out / "best"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # every case of 16-24 steps gives two or three windows of 12
    assert result["cases"] == 6 and 12 <= result["examples"] <= 18
    assert result["accuracy"] >= 0.9
    path = write_cases_csv(tmp_path / "new.csv", ["wave", "tilt"], steps=30)
    assert main(["predict", "activity", "--checkpoint", str(out / "best"), str(path)]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == [
        "wave",
        "tilt",
    ]
