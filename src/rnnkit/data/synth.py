"""Chorales as sound: a small additive synthesiser written to 16-bit mono WAV (`write_wav`), and
rendering through FluidSynth with a SoundFont where the user has both (`write_wav_soundfont`).

The synthesiser, for each note of `rnnkit.data.midi.held_notes` (the MIDI writer's rule: a
pitch on consecutive steps is ONE note), with f = 440 * 2^((p - 69) / 12) Hz (A4 = 440 Hz,
equal temperament) and t seconds since the note began:

    tone(t)  = sum_k a_k * exp(-(k - 1) t / TAU) * sin(2 pi k f t)     k = 1..5, k f < rate / 2
    env(t)   = attack(t) * release(t)          raised-cosine ramps: 0 -> 1 over ATTACK_S from
                                               the note's start, 1 -> 0 over RELEASE_S from its end
    note(t)  = env(t) * tone(t)

so the fundamental sustains while the overtones fade (bright onset, mellow hold), and every
note starts and ends at zero (no clicks). The notes are summed and the mix scaled so that its
peak is HEADROOM (-1 dBFS): it never clips. A piece of T steps at `bpm` lasts
T * 60 / bpm seconds plus a tail of RELEASE_S (0.08 s) in which the last notes fade out:
round(T * 60 / bpm * rate) + round(RELEASE_S * rate) samples. A piece of rests only is
silence of that length (all-zero samples), not an error.

NumPy only; the WAV is written with the standard library's `wave`, atomically.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.atomic import atomic_write, write_bytes
from rnnkit.data.midi import held_notes, write_midi
from rnnkit.data.programs import error_line, run_program
from rnnkit.errors import RnnkitError

HARMONICS = (1.0, 0.45, 0.25, 0.12, 0.06)
"""a_k: the amplitude of harmonic k = 1, 2, ... at the note's onset."""
TAU = 0.6
"""Seconds: harmonic k decays as exp(-(k - 1) t / TAU); the fundamental (k = 1) sustains."""
ATTACK_S = 0.01
"""Seconds a note takes to rise from silence to full level."""
RELEASE_S = 0.08
"""Seconds a note takes to fade out after its last step; also the tail added to the piece."""
HEADROOM = 10 ** (-1 / 20)
"""The mix's peak after normalising, as a fraction of full scale (-1 dBFS)."""
SAMPLE_RATE = 22050
"""Default samples per second."""

_FULL_SCALE = 32767  # largest 16-bit sample


def pitch_hz(pitch: int) -> float:
    """The equal-tempered frequency of MIDI `pitch`: 440 * 2^((pitch - 69) / 12) Hz."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def synthesize(
    steps: Sequence[Sequence[int]], *, bpm: float = 80.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """The chorale as float64 samples in [-HEADROOM, HEADROOM] (see the module docstring).

    steps: T lists of MIDI pitches, one step = one beat = 60 / bpm seconds
    ->  (N,) with N = round(T * 60 / bpm * sample_rate) + round(RELEASE_S * sample_rate).
    """
    _check(steps, bpm, sample_rate)
    step_samples = 60.0 / bpm * sample_rate
    tail = round(RELEASE_S * sample_rate)
    mix = np.zeros(round(len(steps) * step_samples) + tail)  # (N,)
    for note in held_notes(steps):
        begin = round(note.start * step_samples)
        end = round((note.start + note.length) * step_samples)
        sound = _note(pitch_hz(note.pitch), end - begin, tail, sample_rate)  # (end - begin + tail,)
        mix[begin : end + tail] += sound
    peak = float(np.abs(mix).max(initial=0.0))
    return mix * (HEADROOM / peak) if peak > 0 else mix


def _note(hz: float, held: int, tail: int, sample_rate: int) -> np.ndarray:
    """One note sounding for `held` samples, then fading over `tail` more: (held + tail,)."""
    n = np.arange(held + tail)
    t = n / sample_rate
    tone = np.zeros(held + tail)
    for k, a_k in enumerate(HARMONICS, start=1):
        if k * hz < sample_rate / 2:  # above Nyquist a harmonic would alias to a wrong pitch
            tone += a_k * np.exp(-(k - 1) * t / TAU) * np.sin(2 * np.pi * k * hz * t)
    attack = _ramp(t / ATTACK_S)  # 0 -> 1 over ATTACK_S, then 1
    release = 1.0 - _ramp((n - held + 1) / tail)  # 1 while held, then 1 -> 0, 0 on the last
    return attack * release * tone


def _ramp(x: np.ndarray) -> np.ndarray:
    """Raised cosine: 0 for x <= 0, rising smoothly to 1 at x >= 1."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _check(steps: Sequence[Sequence[int]], bpm: float, sample_rate: int) -> None:
    if not len(steps):
        raise RnnkitError("nothing to render: the piece has no steps")
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
        raise RnnkitError(f"bpm must be a positive number of beats per minute, got {bpm}")
    check_sample_rate(sample_rate)
    for t, pitches in enumerate(steps):
        for p in pitches:
            if not 0 <= p <= 127:
                raise RnnkitError(f"step {t} (0-based): pitch {p} is not a MIDI pitch 0..127")


def check_sample_rate(sample_rate: int) -> None:
    """Refuse a sample rate outside 8000..192000 Hz (telephone to studio rates)."""
    if not (isinstance(sample_rate, int) and 8000 <= sample_rate <= 192000):
        raise RnnkitError(
            f"--sample-rate must be a whole number of Hz in [8000, 192000], got {sample_rate}"
        )


def write_wav(
    steps: Sequence[Sequence[int]],
    path: str | Path,
    *,
    bpm: float = 80.0,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """Render the chorale with `synthesize` and write it as a 16-bit PCM mono WAV at
    `sample_rate`, atomically (a temporary file beside it, then a rename). Returns the path."""
    samples = synthesize(steps, bpm=bpm, sample_rate=sample_rate)  # (N,)
    pcm = np.round(samples * _FULL_SCALE).astype("<i2")  # (N,) little-endian, as WAV wants
    path = Path(path)
    with atomic_write(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


def fluidsynth_program(soundfont: str | Path) -> str:
    """The `fluidsynth` program to render with `soundfont`, after checking that both are
    there: a one-line error when the program is not on PATH or the file is not a SoundFont 2
    (FluidSynth itself only warns, and writes silence)."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise RnnkitError(
            "--soundfont needs the fluidsynth program, which is not on PATH "
            "(Debian/Ubuntu: apt install fluidsynth); leave out --soundfont for the built-in synth"
        )
    sf2 = Path(soundfont)
    if not sf2.is_file():
        raise RnnkitError(f"{sf2}: no such SoundFont file")
    with open(sf2, "rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RnnkitError(f"{sf2}: not a SoundFont 2 file (.sf2)")
    return program


def write_wav_soundfont(
    steps: Sequence[Sequence[int]],
    path: str | Path,
    soundfont: str | Path,
    *,
    bpm: float = 80.0,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """Render the chorale through FluidSynth with `soundfont`: the four-voice MIDI file that
    `write_midi` writes, played into a 16-bit WAV at `sample_rate` (stereo, as FluidSynth
    renders it, with its reverb tail). FluidSynth runs in a temporary folder with its output
    captured (`run_program`); a failure is a one-line error with its log's error line.
    Returns the path."""
    program = fluidsynth_program(soundfont)
    _check(steps, bpm, sample_rate)
    with tempfile.TemporaryDirectory(prefix="rnnkit-fluidsynth-") as tmp:
        midi = write_midi(steps, Path(tmp) / "piece.mid", bpm=bpm, voices=True)
        rendered = Path(tmp) / "piece.wav"
        options = ["-ni", "-q", "-F", str(rendered), "-T", "wav", "-r", str(sample_rate)]
        sf2 = str(Path(soundfont).resolve())
        log = run_program(
            [program, *options, sf2, str(midi)], cwd=Path(tmp), name="FluidSynth", target=path
        )
        if not rendered.is_file():
            raise RnnkitError(f"{path}: FluidSynth wrote no sound: {error_line(log)}")
        write_bytes(path, rendered.read_bytes())
    return Path(path)


__all__ = [
    "ATTACK_S",
    "HARMONICS",
    "HEADROOM",
    "RELEASE_S",
    "SAMPLE_RATE",
    "TAU",
    "check_sample_rate",
    "fluidsynth_program",
    "pitch_hz",
    "synthesize",
    "write_wav",
    "write_wav_soundfont",
]
