"""Issue 9's checks at the boundary: config fields named by their CLI flags, --mode following
--metric, the metric checked before training, --help listing choices, generation options,
files that are not files, NFC tokens, writes naming the user's path, one-class reviews."""

from __future__ import annotations

import errno
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rnnkit.cli import build_parser, main
from rnnkit.cli.configargs import apply_overrides
from rnnkit.data.text import read_text, tokenize, tokenize_with_offsets
from rnnkit.errors import DataError, RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.crf_tagger import CRFTaggerConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks import RECIPES, music, sentiment, text
from rnnkit.tasks.recipe import run_training
from rnnkit.train.config import TrainConfig

NAN = math.nan


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EncoderConfig(vocab_size=5, dropout=1.5), r"--dropout .* \[0, 1\), got 1\.5"),
        (lambda: EncoderConfig(vocab_size=5, num_layers=2, dropout=7.0), "--dropout"),
        (lambda: EncoderConfig(vocab_size=5, embedding_dim=0), "--embedding-dim .* >= 1, got 0"),
        (lambda: EncoderConfig(vocab_size=5, embedding_dim=-3), "--embedding-dim"),
        (lambda: EncoderConfig(vocab_size=5, execution="banana"), "--execution .*'banana'"),
        (lambda: EncoderConfig(vocab_size=5, merge="banana"), "--merge .*'banana'"),
        (lambda: EncoderConfig(vocab_size=5, input_dropout=2.0), "--input-dropout"),
        (lambda: EncoderConfig(vocab_size=5, input_dropout=NAN), "--input-dropout .*nan"),
        (lambda: ClassifierConfig(output_dropout=NAN), "--output-dropout .*nan"),
        (lambda: TaggerConfig(output_dropout=1.0), "--output-dropout"),
        (lambda: LanguageModelConfig(output_dropout=-0.1), "--output-dropout"),
        (lambda: CRFTaggerConfig(output_dropout=NAN), "--output-dropout"),
        (lambda: TrainConfig(epochs=0), "--epochs .* >= 1, got 0"),
        (lambda: TrainConfig(lr=NAN), "--lr .*nan"),
        (lambda: TrainConfig(weight_decay=math.inf), "--weight-decay"),
        (lambda: TrainConfig(seed=99999999999999999999), "--seed"),
        (lambda: TrainConfig(mode="best"), "--mode .*'best'"),
    ],
)
def test_config_fields_are_checked_naming_the_flag(build: Any, message: str) -> None:
    with pytest.raises(RnnkitError, match=message):
        build()


@pytest.mark.parametrize(
    "args",
    [
        ["--dropout", "1.5"],
        ["--embedding-dim", "0"],
        ["--input-dropout", "2"],
        ["--output-dropout", "nan"],
        ["--num-layers", "2", "--dropout", "7"],
        ["--embedding-dim", "-3"],
        ["--epochs", "0"],
        ["--seed", "99999999999999999999"],
    ],
)
def test_cli_refuses_bad_values_in_one_line_naming_the_flag(
    args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["train", "sentiment", *args, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rnnkit: error: {args[-2]} ") and "\n" not in err, err


@pytest.mark.parametrize("args", [["--execution", "banana"], ["--merge", "banana"]])
def test_cli_refuses_unknown_choices(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["train", "sentiment", *args])
    assert exit.value.code == 2
    assert f"argument {args[0]}: invalid choice: 'banana'" in capsys.readouterr().err


def test_mode_follows_the_metric_unless_given() -> None:
    preset = sentiment.PRESETS["default"]
    assert preset.train.best_mode == "max"  # accuracy
    assert apply_overrides(preset, {"metric": "loss"}).train.best_mode == "min"
    assert replace(preset.train, metric="loss").best_mode == "min"
    assert replace(preset.train, metric="loss", mode="max").best_mode == "max"
    assert TrainConfig(metric="bits_per_char").best_mode == "min"
    assert TrainConfig(metric="f1").best_mode == "max"


def test_every_recipe_lists_its_metrics_and_the_presets_use_one() -> None:
    for recipe in RECIPES.values():
        assert "loss" in recipe.METRICS
        for preset in recipe.PRESETS.values():
            assert preset.train.metric in recipe.METRICS


def test_an_unknown_metric_is_refused_before_any_data_is_read() -> None:
    def never(*args: Any) -> Any:
        raise AssertionError("training started")

    config = replace(
        sentiment.PRESETS["default"], train=replace(sentiment.PRESETS["default"].train, metric="f2")
    )
    with pytest.raises(RnnkitError, match="--metric must be one of loss, accuracy.*got 'f2'"):
        run_training("sentiment", config, never, never)


def test_help_lists_the_metrics_and_every_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "sentiment", "--help"])
    out = capsys.readouterr().out
    for choices in (
        "{loss,accuracy,precision,recall,f1}",
        "{auto,fused,reference}",
        "{concat,sum}",
        "{rnn,rnn_relu,gru,lstm}",
        "{adam,adamw,sgd}",
        "{constant,cosine,plateau}",
        "{last,mean,max}",
    ):
        assert choices in out, choices


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"top_k": 0}, "--top-k"),
        ({"temperature": NAN}, "--temperature"),
        ({"temperature": 0.0}, "--temperature"),
        ({"seed": 99999999999999999999}, "--seed"),
        ({"bpm": 0.0}, "--bpm"),
        ({"bpm": NAN}, "--bpm"),
    ],
)
def test_music_generation_options_are_checked_before_loading(
    options: dict[str, Any], flag: str, tmp_path: Path
) -> None:
    with pytest.raises(RnnkitError, match=f"^{flag} must be"):
        music.generate(tmp_path / "no-checkpoint", out=tmp_path / "x.mid", **options)


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"temperature": NAN}, "--temperature"),
        ({"seed": 2**70}, "--seed"),
        ({"top_k": 0}, "--top-k"),
    ],
)
def test_text_generation_options_are_checked_before_loading(
    options: dict[str, Any], flag: str, tmp_path: Path
) -> None:
    with pytest.raises(RnnkitError, match=f"^{flag} must be"):
        text.generate(tmp_path / "no-checkpoint", **options)


def test_read_text_refuses_what_is_not_a_file() -> None:
    with pytest.raises(DataError, match="/dev/null: is not a regular file"):
        read_text("/dev/null")


def test_tokenizers_keep_decomposed_accents_in_their_word() -> None:
    raw = "Mu\u0308nchen and Zu\u0308rich."
    tokens = tokenize_with_offsets(raw)
    assert [t.text for t in tokens] == ["München", "and", "Zürich", "."]
    assert [(t.start, t.end) for t in tokens] == [(0, 8), (9, 12), (13, 20), (20, 21)]
    assert tokenize(raw) == ["münchen", "and", "zürich", "."]


def test_a_failed_write_names_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit.data.atomic import write_bytes  # new in issue 9

    target = tmp_path / "tagged.conll"

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no filename, as from write()

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(RnnkitError, match=f"^{target}: cannot write: No space left"):
        write_bytes(target, b"x")
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone
    with pytest.raises(RnnkitError, match=f"^{tmp_path / 'none' / 'x'}: cannot write"):
        write_bytes(tmp_path / "none" / "x", b"x")


def test_one_class_reviews_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "reviews.tsv"
    path.write_text("".join(f"pos\tgood film number {i}\n" for i in range(40)), encoding="utf-8")
    config = replace(
        sentiment.PRESETS["default"],
        data=replace(sentiment.PRESETS["default"].data, path=str(path)),
    )
    with pytest.raises(DataError, match=f"^{path}: every review has the same label \\('pos'\\)"):
        sentiment.prepare(config)
