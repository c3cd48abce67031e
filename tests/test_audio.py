"""The WAV reader and writer, on small files the tests write with soundfile."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.data.audio import Audio, read_wav, write_wav
from rnnkit.errors import RnnkitError

sf = pytest.importorskip("soundfile")
pytest.importorskip("soxr")

RATE = 8000


def tone(n: int, rate: int = RATE, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """(n,) float64 sine wave."""
    return amplitude * np.sin(2 * np.pi * hz * np.arange(n) / rate)


# Each subtype with the largest error its quantisation allows (half a step is the least).
SUBTYPES = {
    "PCM_U8": 2.0**-7,
    "PCM_16": 2.0**-15,
    "PCM_24": 2.0**-23,
    "PCM_32": 2.0**-31 + 1e-7,  # read as float32: its rounding dominates
    "FLOAT": 1e-7,
    "DOUBLE": 1e-7,
}


@pytest.mark.parametrize("subtype", SUBTYPES)
def test_every_sample_format_reads_as_float32_in_range(tmp_path: Path, subtype: str) -> None:
    x = tone(1000)
    x[:3] = [-1.0, 0.0, 0.75]
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, RATE, subtype=subtype)
    audio = read_wav(path)
    assert isinstance(audio, Audio)
    assert audio.samples.dtype == torch.float32 and audio.samples.shape == (1000,)
    assert (audio.rate, audio.source_rate, audio.path) == (RATE, RATE, str(path))
    assert np.abs(audio.samples.numpy() - x).max() <= SUBTYPES[subtype]
    assert audio.seconds == pytest.approx(1000 / RATE)


@pytest.mark.parametrize("channels", [2, 3])
def test_channels_are_mixed_down_by_their_mean(tmp_path: Path, channels: int) -> None:
    x = np.stack([tone(500, hz=300.0 * (c + 1), amplitude=0.9 - 0.3 * c) for c in range(channels)])
    path = tmp_path / "multi.wav"
    sf.write(path, x.T, RATE, subtype="FLOAT")  # soundfile takes (N, C)
    audio = read_wav(path)
    assert audio.samples.shape == (500,)
    np.testing.assert_allclose(audio.samples.numpy(), x.mean(axis=0), atol=1e-6)
    assert np.abs(audio.samples.numpy() - x[0]).max() > 0.1  # not just the first channel


def test_another_rate_is_resampled_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = 22050  # 0.5 s at 44.1 kHz
    path = tmp_path / "cd.wav"
    sf.write(path, tone(n, rate=44100, hz=440.0), 44100, subtype="PCM_16")
    with caplog.at_level(logging.INFO, logger="rnnkit.data.audio"):
        audio = read_wav(path, rate=RATE)
    assert (audio.rate, audio.source_rate) == (RATE, 44100)
    assert abs(audio.samples.shape[0] - n * RATE / 44100) <= 1
    spectrum = np.abs(np.fft.rfft(audio.samples.numpy()))
    peak_hz = np.argmax(spectrum) * RATE / audio.samples.shape[0]
    assert abs(peak_hz - 440.0) <= RATE / audio.samples.shape[0]  # within one bin (2 Hz)
    assert np.abs(audio.samples.numpy()).max() == pytest.approx(0.5, abs=0.02)
    messages = [r.getMessage() for r in caplog.records if r.name == "rnnkit.data.audio"]
    assert len(messages) == 1 and all(s in messages[0] for s in (str(path), "44100", "8000"))


def test_the_same_rate_is_left_alone_and_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(800), RATE, subtype="FLOAT")
    with caplog.at_level(logging.INFO, logger="rnnkit.data.audio"):
        same = read_wav(path, rate=RATE)
    assert not caplog.records
    assert torch.equal(same.samples, read_wav(path).samples)


def test_a_truncated_file_is_read_as_far_as_it_goes_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full, cut = tmp_path / "full.wav", tmp_path / "cut.wav"
    sf.write(full, tone(8000), RATE, subtype="PCM_24")
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="rnnkit.data.audio"):
        audio = read_wav(cut)
    n = audio.samples.shape[0]
    assert 3900 < n < 4000  # the whole frames left of the first half
    assert torch.equal(audio.samples, read_wav(full).samples[:n])
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1
    assert all(s in messages[0] for s in (str(cut), "truncated", "8000", str(n)))


def test_a_complete_file_gives_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(8000), RATE, subtype="PCM_16")
    with caplog.at_level(logging.WARNING, logger="rnnkit.data.audio"):
        read_wav(path)
    assert not caplog.records


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a part of the expected message)."""
    wav = tmp_path / "ok.wav"
    sf.write(wav, tone(100), RATE, subtype="PCM_16")
    files = {
        "missing": (tmp_path / "missing.wav", "no such file"),
        "folder": (tmp_path / "folder.wav", "is a folder"),
        "empty": (tmp_path / "empty.wav", "empty (0 bytes)"),
        "text": (tmp_path / "text.wav", "not a readable WAV file"),
        "no frames": (tmp_path / "none.wav", "0 frames"),
        "header only": (tmp_path / "header.wav", "0 frames"),
        "flac": (tmp_path / "flac.wav", "is a FLAC file"),
    }
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("one two three\n" * 20)
    sf.write(tmp_path / "none.wav", np.zeros(0), RATE, subtype="PCM_16")
    (tmp_path / "header.wav").write_bytes(wav.read_bytes()[:44])  # the data chunk's header
    sf.write(tmp_path / "flac.wav", tone(100), RATE, format="FLAC")
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        x = tone(100)
        x[37] = value
        sf.write(tmp_path / f"{name}.wav", x, RATE, subtype="FLOAT")
        files[name] = (tmp_path / f"{name}.wav", "contains NaN/inf samples at sample 37")
    return files


BAD = ["missing", "folder", "empty", "text", "no frames", "header only", "flac", "nan", "inf"]


@pytest.mark.parametrize("name", BAD)
def test_bad_files_raise_one_line_naming_the_file(tmp_path: Path, name: str) -> None:
    path, expected = _bad_files(tmp_path)[name]
    with pytest.raises(RnnkitError) as caught:
        read_wav(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message


def test_a_nan_in_one_channel_names_its_frame(tmp_path: Path) -> None:
    x = np.zeros((50, 2))
    x[12, 1] = np.nan
    sf.write(tmp_path / "s.wav", x, RATE, subtype="DOUBLE")
    with pytest.raises(RnnkitError, match="at sample 12 "):
        read_wav(tmp_path / "s.wav")


@pytest.mark.parametrize("rate", [0, -8000, 8000.0, True])
def test_a_bad_rate_is_refused(tmp_path: Path, rate: object) -> None:
    sf.write(tmp_path / "a.wav", tone(100), RATE)
    with pytest.raises(RnnkitError, match="rate must be a positive integer"):
        read_wav(tmp_path / "a.wav", rate=rate)  # type: ignore[arg-type]


def test_too_short_to_resample(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", tone(1, rate=48000), 48000, subtype="FLOAT")
    with pytest.raises(RnnkitError, match="too short to resample"):
        read_wav(tmp_path / "a.wav", rate=RATE)


@pytest.mark.parametrize("module", ["soundfile", "soxr"])
def test_without_the_speech_extra_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    sf.write(tmp_path / "a.wav", tone(441, rate=44100), 44100)
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(RnnkitError, match=r"pip install 'rnnkit\[speech\]'"):
        read_wav(tmp_path / "a.wav", rate=RATE)


def test_write_wav_round_trip_clips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    x = tone(1000)
    x[:2] = [1.7, -3.0]
    path = tmp_path / "out.wav"
    write_wav(path, torch.tensor(x, dtype=torch.float32), RATE)
    info = sf.info(path)
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", 8000, 1)
    back = read_wav(path).samples.numpy()
    assert back[0] == pytest.approx(1.0, abs=2.0**-14) and back[1] == -1.0
    np.testing.assert_allclose(back[2:], x[2:], atol=2.0**-15)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    write_wav(path, np.zeros(10), RATE)  # numpy arrays too; replaces the file
    assert read_wav(path).samples.shape == (10,)


@pytest.mark.parametrize(
    "samples, rate, expected",
    [
        (np.zeros((10, 2)), RATE, "expected samples of shape"),
        (np.zeros(0), RATE, "expected samples of shape"),
        (np.array([0.0, np.nan]), RATE, "NaN/inf samples (at sample 1)"),
        (np.zeros(10), 0, "rate must be a positive integer"),
    ],
)
def test_write_wav_refuses_bad_input(
    tmp_path: Path, samples: np.ndarray, rate: int, expected: str
) -> None:
    path = tmp_path / "out.wav"
    with pytest.raises(RnnkitError) as caught:
        write_wav(path, samples, rate)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)
    assert not list(tmp_path.iterdir())
