"""`rnnkit train TASK --print-config` and `--config FILE.(json|toml)`: a run's configuration as
a file, laid over the preset, with the command-line options winning over it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_distributed_cli import write_jsb

from rnnkit.cli import main
from rnnkit.config import read_config_file, to_dict
from rnnkit.errors import RnnkitError
from rnnkit.tasks import RECIPES


def printed(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, object]:
    assert main([*args, "--print-config"]) == 0
    config: dict[str, object] = json.loads(capsys.readouterr().out)
    return config


@pytest.mark.parametrize("task", sorted(RECIPES))
def test_print_config_is_the_preset_with_the_options(
    task: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # in an empty folder: where runs/<task> exists (after `make demo`), a new run's default
    # folder is the next free one, runs/<task>-2
    monkeypatch.chdir(tmp_path)
    config = printed(capsys, ["train", task, "--epochs", "3", "--seed", "7"])
    expected = to_dict(RECIPES[task].PRESETS["default"])
    expected["train"] = {**expected["train"], "epochs": 3, "seed": 7}  # type: ignore[dict-item]
    assert config == expected


def test_a_printed_config_read_back_gives_the_same_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    softmax = printed(capsys, ["train", "ner", "--preset", "softmax", "--hidden-size", "32"])
    path = tmp_path / "ner.json"
    path.write_text(json.dumps(softmax))
    # Read over the default (CRF) preset, the softmax tagger's model replaces the CRF's whole.
    assert printed(capsys, ["train", "ner", "--config", str(path)]) == softmax


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_a_partial_toml_file_and_options_win_over_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "music.toml"
    path.write_text('[train]\nepochs = 7\nlr = 0.01\n[model.encoder]\ncell = "gru"\n')
    config = printed(capsys, ["train", "music", "--config", str(path), "--lr", "0.02"])
    assert config["train"]["epochs"] == 7 and config["train"]["lr"] == 0.02  # type: ignore[index]
    assert config["model"]["encoder"]["cell"] == "gru"  # type: ignore[index]


def test_training_uses_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_jsb(tmp_path / "jsb")
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"data": {"source": "jsb", "path": str(data)}, "train": {
        "epochs": 1, "progress": False}, "model": {"encoder": {"hidden_size": 8}}}))  # fmt: skip
    assert main(["train", "music", "--config", str(path), "--out", str(tmp_path / "run")]) == 0
    assert "trained 1 epochs" in capsys.readouterr().out


def test_bad_config_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    base = RECIPES["music"].PRESETS["default"]
    typo = tmp_path / "typo.json"
    typo.write_text('{"train": {"epohcs": 3}}')
    with pytest.raises(RnnkitError, match=r"typo.json: TrainConfig: unknown field\(s\) 'epohcs'"):
        read_config_file(typo, base)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"train": {"epochs": "many"}}')
    with pytest.raises(RnnkitError, match="wrong.json: TrainConfig.epochs: expected int"):
        read_config_file(wrong, base)
    broken = tmp_path / "broken.json"
    broken.write_text('{"train": ')
    with pytest.raises(RnnkitError, match="broken.json: not a valid json file"):
        read_config_file(broken, base)
    with pytest.raises(RnnkitError, match="missing.json: cannot read"):
        read_config_file(tmp_path / "missing.json", base)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(RnnkitError, match="expected an object"):
        read_config_file(listed, base)
