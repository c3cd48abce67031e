"""The translation recipe and `rnnkit train/evaluate translate`, `rnnkit translate` end to end,
on a tiny pair file the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_recipes import PAIRS

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import translate
from rnnkit.tasks.translate import inference

TINY = [
    "--hidden-size", "32", "--source-embedding-dim", "16", "--target-embedding-dim", "16",
    "--dropout", "0", "--min-count", "1", "--batch-size", "4", "--lr", "0.01",
    "--lr-schedule", "constant", "--dev-bleu-sentences", "10", "--patience", "none", "--quiet",
    "--ema-decay", "0", "--label-smoothing", "0", "--clip-norm", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("translate")
    data = folder / "pairs.txt"
    # Every pair 10 times: the every-10th dev split then holds each pair once.
    data.write_text("".join(f"{en}\t{fr}\n" for en, fr in PAIRS * 10), encoding="utf-8")
    out = folder / "run"
    args = ["train", "translate", "--data", str(data), "--epochs", "30", "--out", str(out)]
    assert main([*args, *TINY]) == 0
    return data, out


def test_train_learns_the_pairs_and_translates_them(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    best = str(out / "best")
    capsys.readouterr()
    assert main(["translate", "--checkpoint", best, "--beam", "3", "Voulez-vous chanter ?"]) == 0
    assert capsys.readouterr().out == "Do you want to sing?\n"
    assert translate.translate(best, ["Je chante.", "Va !"], beam=1) == ["I sing.", "Go."]


def test_evaluate_reports_bleu_chrf_and_the_signature(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = trained
    capsys.readouterr()
    args = ["evaluate", "translate", "--checkpoint", str(out / "best"), "--json", "--beam", "2"]
    assert main([*args, "--data", str(data)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sentences"] == 50 and result["beam"] == 2
    assert result["bleu"] == pytest.approx(100.0) and result["chrf"] == pytest.approx(100.0)
    assert "BLEU" in result["signature"] and "case:mixed" in result["signature"]
    assert "case:lc" in result["signature_uncased"]
    assert main(args) == 0  # default: the dev split of its own training file
    assert json.loads(capsys.readouterr().out)["sentences"] == 5


def test_show_attention_writes_a_png(trained: tuple[Path, Path], tmp_path: Path) -> None:
    png = tmp_path / "attention.png"
    args = ["translate", "--checkpoint", str(trained[1] / "best"), "--show-attention", str(png)]
    assert main([*args, "Je chante."]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stdin_and_files_give_one_translation_a_line(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "in.txt"
    file.write_text("Va !\nJe chante.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["translate", "--checkpoint", str(trained[1] / "best"), "--input", str(file)]) == 0
    assert capsys.readouterr().out == "Go.\nI sing.\n"


def test_copy_unknowns_puts_source_words_as_written_in_place_of_unk(
    trained: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    translator = translate.Translator(trained[1] / "best")
    unk = translator.pipeline.target.unk_id
    with torch.no_grad():  # a model that writes nothing but <unk>
        translator.model.decoder.head.b_y[unk] += 1000.0
    text = "Nous chantons avec Zoé ."
    plain = translator.translate([text], beam=2)[0]
    assert set(plain.split()) == {"<unk>"}
    copied = translator.translate([text], beam=2, copy_unknowns=True)[0]
    assert "<unk>" not in copied and set(copied) <= set(text)  # source characters only
    # where the attention points, as written (the model reads "zoé")
    alpha = torch.zeros(2, 5)
    alpha[0, 3] = alpha[1, 0] = 1.0
    found = [([unk, unk], alpha)]
    monkeypatch.setattr(inference, "decode_with_attention", lambda *args: found)
    assert translator.translate([text], copy_unknowns=True) == ["Zoé Nous"]


def test_bad_inputs_are_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = str(trained[1] / "best")

    def error_of(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        return err

    no_tab = tmp_path / "no_tab.txt"
    no_tab.write_text("Go.\tVa !\nRun!\n", encoding="utf-8")
    assert f"{no_tab}:2:" in error_of(["evaluate", "translate", "--checkpoint", best,
                                       "--data", str(no_tab)])  # fmt: skip
    assert "empty" in error_of(["translate", "--checkpoint", best, " "])
    long = " ".join(["chante"] * 101)
    assert "more than the model's limit of 100" in error_of(
        ["translate", "--checkpoint", best, long]
    )
    assert "--beam must be at least 1" in error_of(["translate", "--checkpoint", best, "--beam",
                                                    "0", "Va !"])  # fmt: skip
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Go.\tVa !\nSing.\tChantez, s'il vous pla\xeet.\n".encode("latin-1"))
    assert f"{latin1}:2:" in error_of(["evaluate", "translate", "--checkpoint", best,
                                       "--data", str(latin1)])  # fmt: skip


def test_a_checkpoint_of_another_task_is_refused(trained: tuple[Path, Path]) -> None:
    from rnnkit.tasks import music

    with pytest.raises(RnnkitError, match="translate"):
        music.load(trained[1] / "best")


def test_without_data_the_message_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RnnkitError, match="rnnkit data fetch eng-fra"):
        translate.data_file(translate.TranslateDataConfig())
