"""Music a musician can hear and read: the WAV synthesiser (`rnnkit.data.synth`), FluidSynth
rendering, the engraved score PNG (`rnnkit.data.score_image`) and their CLI options.

The sound is checked against the physics it should have (length in samples from the tempo,
the equal-tempered frequency from an FFT, one attack per held note from the envelope), read
back with the standard library's `wave`. LilyPond and FluidSynth are exercised where
installed; their failure handling is tested with stand-in programs that always exist."""

from __future__ import annotations

import json
import logging
import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data import synth
from rnnkit.data.midi import HeldNote, held_notes
from rnnkit.data.programs import error_line
from rnnkit.data.score_image import lilypond_programs, write_score_png
from rnnkit.errors import RnnkitError

PNG = b"\x89PNG\r\n\x1a\n"
CHORALE = [[48, 55, 64, 72], [48, 55, 64, 72], [50, 57, 65, 74], [43, 59, 62, 67, 71], [], [60]]


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """(samples as fractions of full scale, (N,) or (N, channels), sample rate, channels)."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2  # 16-bit PCM
        channels, rate = w.getnchannels(), w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    samples = pcm.reshape(-1, channels) if channels > 1 else pcm
    return samples / 32768.0, rate, channels


def envelope(x: np.ndarray, rate: int, window_s: float = 0.01) -> np.ndarray:
    """Peak |x| over consecutive windows of `window_s`, relative to the loudest window."""
    n = int(rate * window_s)
    peaks = np.abs(x[: len(x) // n * n]).reshape(-1, n).max(axis=1)
    return peaks / peaks.max()


def attacks(env: np.ndarray, level: float = 0.3) -> int:
    """How many times the envelope rises through `level` (a note coming in from silence)."""
    above = env >= level
    return int(above[0]) + int(np.sum(above[1:] & ~above[:-1]))


def test_held_notes_is_the_rule_the_midi_writer_and_the_synth_share() -> None:
    assert held_notes([[60, 64], [60, 65], [], [60]]) == [
        HeldNote(60, 0, 2),
        HeldNote(64, 0, 1),
        HeldNote(65, 1, 1),
        HeldNote(60, 3, 1),
    ]
    assert held_notes([[], []]) == []
    assert held_notes([[67]] * 3) == [HeldNote(67, 0, 3)]


@pytest.mark.parametrize(
    ("steps", "bpm", "rate", "seconds"), [(6, 90, 22050, 4.0), (7, 80, 16000, 5.25)]
)
def test_wav_lasts_steps_times_the_beat_plus_the_release_tail(
    tmp_path: Path, steps: int, bpm: float, rate: int, seconds: float
) -> None:
    piece = (CHORALE * 2)[:steps]
    path = synth.write_wav(piece, tmp_path / "p.wav", bpm=bpm, sample_rate=rate)
    samples, got_rate, channels = read_wav(path)
    assert (got_rate, channels) == (rate, 1)
    assert synth.RELEASE_S == 0.08  # the tail the docstring states
    assert len(samples) == round(seconds * rate) + round(0.08 * rate)


def test_wav_is_audible_never_clips_and_starts_and_ends_at_zero(tmp_path: Path) -> None:
    loud = [[36, 48, 55, 60, 64, 67, 72, 76, 79, 84]] * 2 + CHORALE  # ten notes at once
    samples, _, _ = read_wav(synth.write_wav(loud, tmp_path / "p.wav", bpm=120))
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 0.1, rms
    peak = int(np.abs(np.round(samples * 32768)).max())
    assert peak == round(synth.HEADROOM * 32767) < 32767  # normalised to -1 dBFS, no clipping
    assert samples[0] == 0 and samples[-1] == 0  # fades in and out: no click at either end
    assert np.abs(samples[:10]).max() < 0.01


@pytest.mark.parametrize(("pitch", "hz"), [(69, 440.0), (60, 261.6256), (76, 659.2551)])
def test_a_held_notes_spectrum_peaks_at_its_equal_tempered_frequency(
    tmp_path: Path, pitch: int, hz: float
) -> None:
    rate = 22050
    samples, _, _ = read_wav(synth.write_wav([[pitch]] * 8, tmp_path / "n.wav", bpm=60))
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)  # bins 1 / 8.08 s apart
    assert abs(freqs[np.argmax(spectrum)] - hz) < 0.25
    second = spectrum[np.argmin(np.abs(freqs - 2 * hz))]
    assert 0.01 * spectrum.max() < second < spectrum.max()  # an overtone, weaker


def test_a_held_note_is_one_attack_and_a_repeated_one_two(tmp_path: Path) -> None:
    rate = 22050
    held, _, _ = read_wav(synth.write_wav([[69]] * 4, tmp_path / "h.wav", bpm=120))
    env = envelope(held, rate)
    assert attacks(env) == 1
    top = int(np.argmax(env))
    assert top <= 2  # the peak is the onset (10 ms attack, then only decays)
    sustained = env[top : int(2.0 / 0.01) - 1]  # until the release at 2 s
    assert np.all(np.diff(sustained) <= 0.02), "the note is never struck again while held"
    assert sustained.min() > 0.4  # and the fundamental sustains
    again, _, _ = read_wav(synth.write_wav([[69], [], [69], [69]], tmp_path / "a.wav", bpm=120))
    assert attacks(envelope(again, rate)) == 2


def test_a_piece_of_rests_is_silence_of_its_length(tmp_path: Path) -> None:
    samples, rate, _ = read_wav(synth.write_wav([[], [], []], tmp_path / "r.wav", bpm=60))
    assert len(samples) == 3 * rate + round(0.08 * rate) and not samples.any()
    with pytest.raises(RnnkitError, match="no steps"):
        synth.write_wav([], tmp_path / "e.wav")
    with pytest.raises(RnnkitError, match="sample-rate"):
        synth.write_wav(CHORALE, tmp_path / "e.wav", sample_rate=100)
    with pytest.raises(RnnkitError, match="pitch 130"):
        synth.write_wav([[130]], tmp_path / "e.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.wav"]


def find_soundfont() -> Path | None:
    for folder in (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts")):
        if folder.is_dir():
            found = sorted(folder.glob("*.sf2"))
            if found:
                return found[0]
    return None


def test_fluidsynth_renders_the_piece_with_a_soundfont(tmp_path: Path) -> None:
    soundfont = find_soundfont()
    if shutil.which("fluidsynth") is None or soundfont is None:
        pytest.skip("needs the fluidsynth program and a .sf2 SoundFont")
    path = synth.write_wav_soundfont(
        CHORALE, tmp_path / "f.wav", soundfont, bpm=120, sample_rate=22050
    )
    samples, rate, _ = read_wav(path)
    assert rate == 22050 and len(samples) >= 3 * rate  # 6 beats at 120 bpm, then reverb
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 0.005
    assert [p.name for p in tmp_path.iterdir()] == ["f.wav"]


def test_soundfont_problems_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("fluidsynth") is not None:
        with pytest.raises(RnnkitError, match="no such SoundFont file"):
            synth.fluidsynth_program(tmp_path / "none.sf2")
        (tmp_path / "not.sf2").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
        with pytest.raises(RnnkitError, match="not a SoundFont 2 file"):
            synth.fluidsynth_program(tmp_path / "not.sf2")
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth here
    with pytest.raises(RnnkitError, match="needs the fluidsynth program"):
        synth.fluidsynth_program(tmp_path / "none.sf2")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_without_lilypond_the_score_is_the_piano_roll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # lilypond is looked up on PATH
    assert lilypond_programs() is None
    assert write_score_png(CHORALE, tmp_path / "s.png", title="t") == "piano roll"
    assert png_size(tmp_path / "s.png")[0] > 100


def test_lilypond_engraves_the_four_part_score(tmp_path: Path) -> None:
    if lilypond_programs() is None:
        pytest.skip("needs LilyPond (lilypond and musicxml2ly on PATH)")
    path = tmp_path / "score.png"
    assert write_score_png(CHORALE * 4, path, bpm=80, title='a "quoted" \\ title') == "score"
    width, height = png_size(path)
    assert 600 < width < 2000 and 200 < height < 3000, (width, height)  # one page, cropped
    assert path.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["score.png"]  # LilyPond's files elsewhere


def fake_program(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\n{script}\n")
    (folder / name).chmod(0o755)


def test_a_lilypond_failure_is_one_line_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_ = tmp_path / "bin"
    fake_program(bin_, "musicxml2ly", "echo converting; : > score.ly")
    fake_program(
        bin_,
        "lilypond",
        "echo Processing; echo 'score.ly:3:1: error: unknown escaped string' >&2; "
        "echo 'fatal error: failed files: \"score.ly\"' >&2; exit 1",
    )
    monkeypatch.setenv("PATH", f"{bin_}:/usr/bin:/bin")
    with pytest.raises(RnnkitError) as caught:
        write_score_png(CHORALE, tmp_path / "s.png")
    message = str(caught.value)
    assert (
        message
        == f"{tmp_path / 's.png'}: LilyPond failed: score.ly:3:1: error: unknown escaped string"
    )
    assert not (tmp_path / "s.png").exists()
    assert error_line("a\nlast\n\n") == "last" and error_line("") == ""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render")
    (root / "jsb").mkdir()
    piece = [[60, 64, 67], [62, 65, 69], [64, 67, 71], [60, 64, 67], [], [59, 62, 67]]
    (root / "jsb" / "train.json").write_text(json.dumps([piece * 2] * 4))
    (root / "jsb" / "valid.json").write_text(json.dumps([piece]))
    args = ["train", "music", "--data", str(root / "jsb"), "--out", str(root / "run")]
    tiny = ["--source", "jsb", "--hidden-size", "8", "--epochs", "1", "--batch-size", "2"]
    assert main([*args, *tiny, "--quiet", "--num-threads", "1"]) == 0
    return root / "run" / "best"


def test_generate_writes_the_wav_and_the_score_and_names_every_file(
    checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no LilyPond: the piano roll
    caplog.set_level(logging.INFO, logger="rnnkit")
    out, wav, score = tmp_path / "s.mid", tmp_path / "s.wav", tmp_path / "score.png"
    args = ["generate", "music", "--checkpoint", str(checkpoint), "--steps", "8", "--bpm", "120"]
    files = ["--out", str(out), "--wav", str(wav), "--score", str(score)]
    assert main([*args, *files, "--sample-rate", "16000"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"wrote {out} (8 steps, " + printed.split(" (8 steps, ")[1]
    for path in (out, wav, score, tmp_path / "s.png"):
        assert str(path) in printed
    samples, rate, _ = read_wav(wav)
    assert rate == 16000 and len(samples) == 8 * 8000 + round(0.08 * 16000)
    assert png_size(score)[0] > 100
    fallback = [r.getMessage() for r in caplog.records if "piano roll" in r.getMessage()]
    assert len(fallback) == 1 and fallback[0].startswith(f"{score}: ")
    assert "LilyPond is not installed" in fallback[0]


def test_bad_output_paths_are_refused_before_sampling(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new.mid"
    args = ["generate", "music", "--checkpoint", str(checkpoint), "--out", str(out)]
    (tmp_path / "folder").mkdir()
    cases = [
        (["--wav", str(tmp_path / "folder")], "is a folder"),
        (["--score", str(tmp_path / "none" / "s.png")], "no folder"),
        (["--soundfont", str(tmp_path / "a.sf2")], "give --wav FILE too"),
        # FluidSynth installed: the missing file; else: the missing program
        (
            ["--wav", str(tmp_path / "a.wav"), "--soundfont", str(tmp_path / "a.sf2")],
            "a.sf2|fluidsynth",
        ),
        (["--wav", str(tmp_path / "a.wav"), "--sample-rate", "44"], "--sample-rate"),
    ]
    for extra, message in cases:
        assert main([*args, *extra]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        assert any(m in err for m in message.split("|")), err
        assert not out.exists(), "refused before sampling: no MIDI written"


def test_generate_renders_the_wav_through_fluidsynth_when_given_a_soundfont(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soundfont = find_soundfont()
    if shutil.which("fluidsynth") is None or soundfont is None:
        pytest.skip("needs the fluidsynth program and a .sf2 SoundFont")
    out, wav = tmp_path / "s.mid", tmp_path / "s.wav"
    args = ["generate", "music", "--checkpoint", str(checkpoint), "--steps", "4", "--bpm", "120"]
    assert main([*args, "--out", str(out), "--wav", str(wav), "--soundfont", str(soundfont)]) == 0
    assert f", {wav} and" in capsys.readouterr().out
    samples, rate, channels = read_wav(wav)
    assert rate == 22050 and channels == 2  # FluidSynth renders stereo
    assert len(samples) >= 2 * rate  # 4 beats at 120 bpm, then FluidSynth's reverb
