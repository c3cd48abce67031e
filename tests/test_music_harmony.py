"""Harmonising a melody: the melody parser, the melody stays exactly the top voice, the
harmony NLL is the model's conditional, and `generate music --melody` end to end."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
from test_music_task import TINY, write_jsb

from rnnkit.cli import main
from rnnkit.data.melody import parse_melody, top_voice
from rnnkit.data.music import read_midi_pitches
from rnnkit.data.sequences import epoch_batches
from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks.harmony import harmonise, harmony_nll, melody_keys
from rnnkit.tasks.music import evaluate_nll, frame_examples


def test_note_names_parse_to_midi_pitches_one_per_beat() -> None:
    assert parse_melody("C4 c#4 Db4 B3 Bb3 A0 C8 F##4") == [60, 61, 61, 59, 58, 21, 108, 67]
    assert parse_melody("G4:2 r A4 r:2 B-1") == [67, 67, None, 69, None, None, 11]
    for bad, where in [("G4 H4", "note 2 'H4'"), ("G", "note 1 'G'"), ("G4:0", "at least one")]:
        with pytest.raises(RnnkitError, match=where):
            parse_melody(bad)
    with pytest.raises(RnnkitError, match="0..127"):
        parse_melody("G#9")
    with pytest.raises(RnnkitError, match="no notes"):
        parse_melody("r r:2")
    assert top_voice([[48, 60, 64], [], [67]]) == [64, None, 67]


def test_melody_keys_fix_the_melody_and_the_keys_above_it() -> None:
    fixed = melody_keys([60, None])
    assert fixed.shape == (2, 88)
    assert fixed[0, 60 - 21] == 1 and torch.all(fixed[0, 60 - 21 + 1 :] == 0)
    assert torch.all(torch.isnan(fixed[0, : 60 - 21]))
    assert torch.all(fixed[1] == 0), "a rest in the melody is a rest for every voice"


def chorale_model(order: str = "descending") -> LanguageModel:
    torch.manual_seed(0)
    enc = EncoderConfig(num_features=88, cell="gru", hidden_size=8)
    config = LanguageModelConfig(encoder=enc, within_frame=True, nade_hidden=4, key_order=order)
    model = LanguageModel(config)
    with torch.no_grad():  # every key likely enough that the lower voices fill in
        model.head.b_y.fill_(-0.5)
        model.nade.U.normal_()  # type: ignore[union-attr]
    return model


def test_the_melody_is_exactly_the_top_voice_of_every_harmonisation() -> None:
    model = chorale_model()
    melody = parse_melody("G4 G4 A4 B4:2 r D5 C5 B4 A4:2 G4")
    for seed in range(3):
        piece = harmonise(model, melody, seed=seed, top_k=4)
        assert top_voice(piece) == melody
        assert max(len(step) for step in piece) <= 4
        assert sum(len(step) for step in piece) > len(melody), "voices were added below"
    with pytest.raises(RnnkitError, match="--key-order descending"):
        harmonise(chorale_model("ascending"), melody)


def test_harmony_nll_is_the_full_nll_less_the_melody_marginal() -> None:
    model = chorale_model()
    # One frame whose melody is MIDI 24 (key 3): its lower part is keys 0-2, 8 completions.
    chorale = [[21, 24]]
    batches = epoch_batches(frame_examples([chorale]), 1, 0, False)(0)
    parts = harmony_nll(model, batches)
    full = evaluate_nll(model, batches)["loss"]
    assert parts["nll_per_step"] == pytest.approx(full, rel=1e-5)
    assert parts["melody_nll_per_step"] + parts["harmony_nll_per_step"] == pytest.approx(full)
    # P(melody part) by marginalising the joint over every completion of the lower keys
    marginal = 0.0
    for lower in itertools.product([False, True], repeat=3):
        frame = [21 + k for k in range(3) if lower[k]] + [24]
        batches = epoch_batches(frame_examples([[frame]]), 1, 0, False)(0)
        marginal += math.exp(-evaluate_nll(model, batches)["loss"])
    assert parts["melody_nll_per_step"] == pytest.approx(-math.log(marginal), rel=1e-4)


@pytest.fixture(scope="module")
def harmoniser(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("harmony")
    data = write_jsb(root / "jsb")
    out = root / "run"
    assert main(["train", "music", "--data", str(data), "--out", str(out), *TINY]) == 0
    return out / "best"


def test_generate_harmonises_a_melody_from_the_command_line(
    harmoniser: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h.mid"
    melody = "C5 B4 A4:2 G4 r E4 D4 C4:2"
    args = ["generate", "music", "--checkpoint", str(harmoniser), "--out", str(out)]
    assert main([*args, "--melody", melody, "--max-notes", "4", "--seed", "3"]) == 0
    assert "10 steps" in capsys.readouterr().out
    assert top_voice(read_midi_pitches(out)) == parse_melody(melody)
    midi = tmp_path / "tune.mid"  # the melody from a MIDI file: its highest note each beat
    assert main([*args, "--melody", str(out), "--out", str(midi)]) == 0
    assert top_voice(read_midi_pitches(midi)) == parse_melody(melody)
    for bad, message in [
        (["--melody", "C5 X4"], "melody note 2 'X4'"),
        (["--melody", "C5", "--steps", "4"], "drop --steps"),
        (["--melody", "C5", "--prime", str(out)], "not both"),
        (["--melody", "C0"], "outside the piano"),
        (["--melody", "bwv999.9"], "not a MIDI file, a chorale of music21's corpus"),
    ]:
        assert main([*args, *bad]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


def test_evaluate_splits_the_nll_into_melody_and_harmony(
    harmoniser: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "music", "--checkpoint", str(harmoniser), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    total = metrics["melody_nll_per_step"] + metrics["harmony_nll_per_step"]
    assert total == pytest.approx(metrics["nll_per_step"], rel=1e-5)
    assert 0 < metrics["harmony_nll_per_step"] < metrics["nll_per_step"]


def test_evaluate_scores_an_ensemble_of_checkpoints(
    harmoniser: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def evaluate(*extra: str) -> dict[str, float]:
        assert main(["evaluate", "music", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]

    best, last = str(harmoniser), str(harmoniser.parent / "last")
    both = evaluate("--checkpoint", best, "--ensemble", last)
    alone = [evaluate("--checkpoint", c)["nll_per_step"] for c in (best, last)]
    assert both["ensemble_size"] == 2 and both["nll_per_step"] == pytest.approx(alone[0])
    # -log of a mean of probabilities is at most the mean of the -logs (Jensen)
    assert both["ensemble_nll_per_step"] <= sum(alone) / 2 + 1e-9
    assert main(["evaluate", "music", "--checkpoint", best, "--ensemble", "nowhere"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_a_score_at_the_piano_rolls_path_takes_its_place(
    harmoniser: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "h.mid", tmp_path / "h.png"
    args = ["generate", "music", "--checkpoint", str(harmoniser), "--out", str(out)]
    assert main([*args, "--melody", "C5 B4", "--score", str(png)]) == 0
    said = capsys.readouterr().out
    assert said.count("h.png") == 1 and png.stat().st_size > 1000, said
