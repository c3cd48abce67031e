"""The time-series readers (.ts, UCI HAR, NPZ, CSV cases and streams) on small files written
here, their errors (each naming file:line), missing values, the per-channel normalisation
against numpy on the training part only, and sliding windows against hand-written cases."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from activity_data import write_har

from rnnkit.data.splits import stratified_split
from rnnkit.data.timeseries import (
    ChannelStats,
    per_step,
    read_csv_cases,
    read_har,
    read_npz,
    read_series,
    read_stream,
    read_ts,
    window_starts,
    windows,
)
from rnnkit.errors import DataError, RnnkitError

HEADER = """# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down
@data
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_ts_equal_length(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ts", HEADER + "1,2,3:4,5,6:up\n\n0.5,-1,2e1:7,8,9:down\n")
    found = read_ts(path)
    assert found.classes == ("up", "down") and found.labels == ["up", "down"]
    assert found.channels == ("dim_0", "dim_1") and found.lines == [11, 13]
    assert found.targets() == [0, 1] and found.groups is None
    assert torch.equal(found.series[0], torch.tensor([[1.0, 4], [2, 5], [3, 6]]))
    assert torch.equal(found.series[1], torch.tensor([[0.5, 7], [-1, 8], [20, 9]]))


def test_ts_unequal_length_and_case_insensitive_keys(tmp_path: Path) -> None:
    text = "@PROBLEMNAME v\n@Dimension 2\n@EqualLength false\n@classlabel TRUE 1 2 3\n@DATA\n"
    path = write(tmp_path / "v.ts", text + "1,2:3,4:2\n1,2,3,4,5:5,6,7,8,9:3\n7:8:1\n")
    found = read_ts(path)
    assert found.lengths == [2, 5, 1] and found.labels == ["2", "3", "1"]
    assert found.classes == ("1", "2", "3")
    assert torch.equal(found.series[1][:, 1], torch.tensor([5.0, 6, 7, 8, 9]))


def test_ts_unlabelled_cases(tmp_path: Path) -> None:
    found = read_ts(write(tmp_path / "u.ts", "@classLabel false\n@data\n1,2:3,4\n"))
    assert found.labels is None and found.classes == () and found.lengths == [2]
    with pytest.raises(DataError, match="have no labels"):
        found.targets()


def test_missing_values_refused_or_filled(tmp_path: Path) -> None:
    path = write(tmp_path / "m.ts", HEADER + "1,2,3:4,5,6:up\n1,?,5:NaN,?,3:down\n")
    with pytest.raises(DataError, match=r"m\.ts:12: missing value .* step 1, channel 2"):
        read_ts(path)
    filled = read_ts(path, missing="interpolate").series[1]
    # channel 1: 1, (1+5)/2, 5; channel 2: the first real value (3) held back to the start
    assert torch.equal(filled, torch.tensor([[1.0, 3], [3, 3], [5, 3]]))
    zero = read_ts(path, missing="zero").series[1]
    assert torch.equal(zero, torch.tensor([[1.0, 0], [0, 0], [5, 3]]))
    lost = write(tmp_path / "lost.ts", HEADER + "1,2,3:?,?,?:up\n")
    with pytest.raises(DataError, match=r"lost\.ts:11: channel 2 has no value at all"):
        read_ts(lost, missing="interpolate")
    with pytest.raises(RnnkitError, match="missing must be one of error, interpolate, zero"):
        read_series(path, missing="mean")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"e\.ts: empty file"),
        ("@problemName x\n@dimensions 2\n1,2:3,4:up\n", r"e\.ts:3: expected a # comment or an @"),
        ("@problemName x\n# no data\n", r"e\.ts: no @data line"),
        ("@classLabel true a\n@data\n\n", r"e\.ts:2: no cases after @data"),
        (HEADER + "1,2,3:up\n", r"e\.ts:11: 1 channels, expected 2 \(@dimensions\)"),
        ("@classLabel true a\n@data\n1:2:a\n1:a\n", r"e\.ts:4: 1 channels, expected 2 \(the first"),
        (HEADER + "1,2,3:4,5,6:sideways\n", r"e\.ts:11: label 'sideways' is not one of"),
        (HEADER + "1,x,3:4,5,6:up\n", r"e\.ts:11: channel 1, step 2: expected a number or \?"),
        (HEADER + "1,2,3:4,5,inf:up\n", r"e\.ts:11: channel 2, step 3: 'inf' is not a finite"),
        (HEADER + "1,2,3:4,5:up\n", r"e\.ts:11: channel 1 has 3 values but channel 2 has 2"),
        (HEADER + "1,2:4,5:up\n", r"e\.ts:11: 2 steps, expected @seriesLength 3"),
        ("@timeStamps true\n@data\n(0,1),(1,2):a\n", r"e\.ts:2: @timeStamps true: timestamped"),
        ("@classLabel false\n@data\n(0,1),(1,2)\n", r"e\.ts:3: timestamped \(time,value\)"),
        ("@targetLabel true\n@data\n1,2:0.5\n", r"e\.ts:2: @targetLabel true: a regression"),
        ("@colour blue\n@data\n", r"e\.ts:1: unknown header @colour"),
        ("@dimensions two\n@data\n", r"e\.ts:1: @dimensions must be a positive integer"),
        ("@missing maybe\n@data\n", r"e\.ts:1: @missing must be true or false"),
    ],
)
def test_ts_bad_inputs_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_ts(write(tmp_path / "e.ts", text))


def test_har_folder(tmp_path: Path) -> None:
    root = write_har(tmp_path / "UCI HAR Dataset")
    write_har(root, "test", windows=2)
    for given in (root, tmp_path):  # the dataset folder, or the folder holding it
        found = read_series(given)
        assert len(found) == 5 and found.num_channels == 9 and found.lengths == [8] * 5
        assert found.classes == ("WALKING", "SITTING", "LAYING")
        assert found.labels == ["WALKING", "SITTING", "LAYING", "WALKING", "SITTING"]
        assert found.groups == ["subject 7", "subject 7", "subject 9", "subject 9", "subject 11"]
        assert found.channels[0] == "body_acc_x" and found.channels[-1] == "total_acc_z"
    expected = 100 * torch.arange(9.0)[None, :] + 3 + torch.arange(8.0)[:, None] / 10
    assert torch.allclose(found.series[3], expected)
    assert len(read_har(root, "test")) == 2


def test_har_errors(tmp_path: Path) -> None:
    root = write_har(tmp_path / "har")
    signals = root / "train" / "Inertial Signals"
    write(root / "train" / "y_train.txt", "1\n2\n3\n1\n")
    with pytest.raises(DataError, match=r"y_train.txt: 4 rows, but .*body_acc_x_train.txt has 5"):
        read_har(root)
    write(root / "train" / "y_train.txt", "1\n2\n3\n1\n4\n")
    with pytest.raises(DataError, match=r"y_train.txt:5: activity id 4 is not in activity_labels"):
        read_har(root)
    write(root / "train" / "y_train.txt", "1\n2\n3\n1\n2\n")
    lines = (signals / "body_gyro_y_train.txt").read_text().splitlines()
    write(signals / "body_gyro_y_train.txt", "\n".join([*lines[:2], "1 2 3", *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=r"body_gyro_y_train.txt:3: 3 values, expected 8"):
        read_har(root)
    write(signals / "body_gyro_y_train.txt", "\n".join([*lines[:2], "1 ? 3 4 5 6 7 8", *lines[3:]]))
    with pytest.raises(DataError, match=r"body_gyro_y_train.txt:3: missing value .* step 2"):
        read_har(root)
    assert float(read_har(root, missing="zero").series[2][1, 4]) == 0.0
    (signals / "total_acc_z_train.txt").unlink()
    with pytest.raises(DataError, match=r"total_acc_z_train.txt: missing file of the UCI HAR"):
        read_har(root)
    with pytest.raises(DataError, match=r"not a UCI HAR Dataset folder"):
        read_series(tmp_path / "har" / "train" / "Inertial Signals", format="har")


def test_npz_cases(tmp_path: Path) -> None:
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    np.savez(
        tmp_path / "a.npz",
        x=x,
        y=np.array([1, 0]),
        lengths=np.array([4, 2]),
        label_names=np.array(["walk", "run"]),
        groups=np.array([3, 4]),
    )
    found = read_npz(tmp_path / "a.npz")
    assert found.labels == ["run", "walk"] and found.classes == ("walk", "run")
    assert found.lengths == [4, 2] and found.groups == ["3", "4"] and found.lines is None
    assert torch.equal(found.series[1], torch.from_numpy(x[1, :2]))
    np.savez(tmp_path / "s.npz", x=x, y=np.array(["b", "a"]))
    found = read_series(tmp_path / "s.npz")
    assert found.classes == ("a", "b") and found.lengths == [4, 4]


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((2, 3))}, r"x must have shape \(N, T, C\) for cases"),
        ({"x": np.zeros((2, 3, 1)), "y": np.array([0, 1], dtype=object)}, "holds an object array"),
        ({"x": np.zeros((2, 3, 1)), "labels": np.array([0, 1])}, "unexpected arrays"),
        ({"x": np.zeros((2, 3, 1)), "lengths": np.array([3, 4])}, "case 1: length 4 is not"),
        ({"x": np.zeros((2, 3, 1)), "y": np.array([0, 1, 1])}, "y has 3 labels for 2 cases"),
        (
            {"x": np.zeros((2, 3, 1)), "y": np.array([0, 2]), "label_names": np.array(["a", "b"])},
            "case 1: y = 2 indexes no entry",
        ),
        (
            {"x": np.full((2, 3, 1), np.nan), "lengths": np.array([1, 1])},
            r"case 0: missing value .* step 1, channel 1",
        ),
        ({"y": np.array([0])}, "no array 'x'"),
    ],
)
def test_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=f"bad.npz: {message}"):
        read_npz(path)


def test_npz_that_is_not_an_archive(tmp_path: Path) -> None:
    write(tmp_path / "text.npz", "hello")
    with pytest.raises(DataError, match=r"text.npz: not an .npz archive"):
        read_npz(tmp_path / "text.npz")


CSV = """case,t,acc_x,acc_y,label,subject
w1,0,1.0,2.0,walk,ann
w1,1,1.5,?,walk,ann
w1,2,2.0,3.0,walk,ann
r1,0,5,6,run,bob
"""


def test_csv_cases(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CSV)
    with pytest.raises(DataError, match=r"c.csv:3: missing value .* step 2, channel 2"):
        read_csv_cases(path)
    found = read_series(path, missing="interpolate")
    assert found.channels == ("acc_x", "acc_y") and found.labels == ["walk", "run"]
    assert found.classes == ("run", "walk") and found.groups == ["ann", "bob"]
    assert found.lines == [2, 5] and found.lengths == [3, 1]
    assert torch.equal(found.series[0], torch.tensor([[1.0, 2], [1.5, 2.5], [2, 3]]))
    bare = read_csv_cases(write(tmp_path / "bare.csv", "case,x\na,1\na,2\nb,3\n"))
    assert bare.labels is None and bare.lengths == [2, 1]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"x.csv: empty file"),
        ("case,t,v,label\n", r"x.csv: no rows after the header"),
        ("t,v,label\n0,1,a\n", r"x.csv:1: no `case` column"),
        ("case,t,v,label\na,0,1,x\na,2,1,x\n", r"x.csv:3: t = '2', expected 1"),
        ("case,v,label\na,1,x\nb,1,y\na,2,x\n", r"x.csv:4: case 'a' continues here"),
        ("case,v,label\na,1,x\na,2,y\n", r"x.csv:3: label 'y' differs from 'x'"),
        ("case,v,label\na,1,x\na,2\n", r"x.csv:3: 2 columns, expected 3"),
        ("case,v,w,label\na,1,oops,x\n", r"x.csv:2: column 'w': expected a number"),
        ("case,label\na,x\n", r"x.csv:1: no channel columns"),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_csv_cases(write(tmp_path / "x.csv", text))


def test_streams(tmp_path: Path) -> None:
    values, names = read_stream(write(tmp_path / "s.csv", "t,ax,ay\n0,1,2\n1,3,4\n2,5,6\n"))
    assert names == ("ax", "ay") and values.tolist() == [[1, 2], [3, 4], [5, 6]]
    gap = write(tmp_path / "gap.csv", "ax,ay\n1,2\n3,\n5,6\n")
    with pytest.raises(DataError, match=r"gap.csv:3: missing value .* step 2, channel 2"):
        read_stream(gap)
    assert read_stream(gap, missing="interpolate")[0][1].tolist() == [3, 4]
    np.savez(tmp_path / "s.npz", x=np.ones((1, 5, 3)))
    assert read_stream(tmp_path / "s.npz")[0].shape == (5, 3)
    with pytest.raises(DataError, match=r"cases.csv:1: a file of cases"):
        read_stream(write(tmp_path / "cases.csv", CSV))
    with pytest.raises(DataError, match=r"s.txt: a recording must be a .csv"):
        read_stream(write(tmp_path / "s.txt", "1 2\n"))


def test_format_from_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"s.txt: cannot tell the format"):
        read_series(write(tmp_path / "s.txt", "1\n"))
    with pytest.raises(DataError, match=r"none.ts: no such file"):
        read_series(tmp_path / "none.ts")
    cases = read_series(write(tmp_path / "cases.txt", CSV), format="csv", missing="zero")
    assert len(cases) == 2


def test_normalisation_uses_the_training_cases_only() -> None:
    generator = torch.Generator().manual_seed(0)
    lengths = [5, 9, 3, 7, 4, 8, 6, 2]
    series = [
        torch.randn(t, 3, generator=generator) * torch.tensor([1.0, 10, 0.1]) + 4 for t in lengths
    ]
    labels = [0, 1] * 4
    train, dev = stratified_split(labels, 0.25, seed=0)
    stats = ChannelStats.fit([series[i] for i in train])
    steps = np.concatenate([series[i].numpy().astype(np.float64) for i in train])
    assert np.allclose(stats.mean, steps.mean(0)) and np.allclose(stats.std, steps.std(0))
    everything = np.concatenate([s.numpy() for s in series])
    assert not np.allclose(stats.mean, everything.mean(0))  # dev steps are left out
    z = stats.apply(series[dev[0]])
    assert torch.allclose(
        z,
        torch.from_numpy(
            ((series[dev[0]].numpy() - steps.mean(0)) / steps.std(0)).astype(np.float32)
        ),
        atol=1e-5,
    )
    assert ChannelStats.from_dict(stats.to_dict()) == stats
    constant = ChannelStats.fit([torch.ones(4, 2)])
    assert constant.std == (1.0, 1.0) and torch.equal(
        constant.apply(torch.ones(1, 2)), torch.zeros(1, 2)
    )


def test_sliding_windows_by_hand() -> None:
    assert window_starts(10, 4, 3) == [0, 3, 6]  # 6 + 4 = 10: the steps are covered
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]  # one more, aligned to the end
    assert window_starts(4, 4, 2) == [0] and window_starts(5, 4, 10) == [0, 1]
    stream = torch.arange(22.0).reshape(11, 2)
    cut = windows(stream, 4, 3)
    assert cut.shape == (4, 4, 2)
    assert cut[1].tolist() == [[6, 7], [8, 9], [10, 11], [12, 13]]
    assert cut[3].tolist() == [[14, 15], [16, 17], [18, 19], [20, 21]]
    with pytest.raises(RnnkitError, match="3 steps is shorter than the window"):
        windows(stream[:3], 4, 1)
    # T = 6, L = 4, stride 2: windows at 0 and 2; steps 2 and 3 are in both
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert per_step(p, 6, 4, 2).tolist() == [[1, 0], [1, 0], [0.5, 0.5], [0.5, 0.5], [0, 1], [0, 1]]
    # T = 5, L = 2, stride 2: windows at 0, 2 and the end-aligned 3
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    assert per_step(p, 5, 2, 2)[2:].tolist() == [[0, 1], [0.25, 0.75], [0.5, 0.5]]
    with pytest.raises(RnnkitError, match="2 windows' probabilities, expected 3"):
        per_step(p[:2], 5, 2, 2)


SHARED = Path(os.environ.get("RNNKIT_SHARED_DATA", "/nonexistent"))


@pytest.mark.skipif(not (SHARED / "basicmotions").is_dir(), reason="no shared data")
def test_real_basicmotions() -> None:
    found = read_ts(SHARED / "basicmotions" / "BasicMotions_TRAIN.ts")
    assert len(found) == 40 and found.num_channels == 6 and set(found.lengths) == {100}
    assert found.classes == ("Standing", "Running", "Walking", "Badminton")
    assert sorted(found.targets()) == sorted(list(range(4)) * 10)


@pytest.mark.skipif(not (SHARED / "japanese-vowels").is_dir(), reason="no shared data")
def test_real_japanese_vowels() -> None:
    found = read_ts(SHARED / "japanese-vowels" / "JapaneseVowels_TRAIN.ts")
    assert len(found) == 270 and found.num_channels == 12
    assert min(found.lengths) == 7 and max(found.lengths) <= 29  # 7-26 in TRAIN
    assert found.classes == tuple("123456789")
    assert all(found.labels.count(c) == 30 for c in found.classes)  # type: ignore[union-attr]
