"""Pieces from a chorale model: drawing them (one, or a batch at once), continuing a prime,
moving them to a key, and the files `rnnkit generate music` writes for each piece.

Several pieces (`samples` > 1) are drawn together as one batch
(`LanguageModel.generate_batch`) and written to numbered files: out.mid becomes out-1.mid ..
out-N.mid, and every other output (--png, --musicxml, --wav, --score) is numbered the same
way (`numbered`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from rnnkit.data.atomic import check_output_path
from rnnkit.data.bach_chorales import bach_chorale_files, parse_chorale
from rnnkit.data.midi import read_midi_pitches, write_midi
from rnnkit.data.musicxml import write_musicxml
from rnnkit.data.piano_roll import (
    PIANO_HIGH,
    PIANO_KEYS,
    PIANO_LOW,
    from_multihot,
    plot_piano_roll,
    to_multihot,
)
from rnnkit.data.score_image import write_score_png
from rnnkit.data.synth import fluidsynth_program, write_wav, write_wav_soundfont
from rnnkit.errors import RnnkitError
from rnnkit.metrics.music import estimate_key, tonic_of
from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks.harmony import harmonisations

KEYS = PIANO_KEYS
SAMPLE_STEPS = 64  # the length of the pieces `evaluate --samples` draws
Piece = list[list[int]]  # one list of MIDI pitches per step


def sample_steps(
    model: LanguageModel,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    prime: Piece | None = None,
) -> Piece:
    """`steps` frames sampled from the model (on its device) as lists of MIDI pitches; with
    `prime` (frames of MIDI pitches), the model first reads the prime after its start frame
    and the result is the prime, unchanged, followed by its continuation."""
    return sample_pieces(model, steps, temperature, top_k, seed, prime)[0]


def sample_pieces(
    model: LanguageModel,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    prime: Piece | None = None,
    samples: int = 1,
) -> list[Piece]:
    """`samples` pieces as `sample_steps` draws one, drawn together as one batch; one is
    `sample_steps`'s piece."""
    generator = torch.Generator().manual_seed(seed)
    given = to_multihot(prime) if prime else torch.zeros(0, KEYS)  # (T0, 88)
    start = torch.cat([torch.zeros(1, KEYS), given])  # (1 + T0, 88)
    frames = model.generate_batch(
        steps, [start] * samples, temperature, top_k, generator
    )  # (samples, steps, 88)
    return [[sorted(f) for f in prime or []] + from_multihot(piece) for piece in frames]


def transposed_to(chorale: list[list[int]], key: str) -> list[list[int]]:
    """The piece moved by the smallest interval (-6 .. +5 semitones) that puts its estimated
    key's tonic (`rnnkit.metrics.music.estimate_key`) on `key`'s (C, F#, Bb, ...). A key
    named with its mode ("G minor") must be in the piece's mode: moving notes cannot turn a
    major piece minor, so a mismatch is an error rather than a piece in the other mode."""
    try:
        wanted = tonic_of(key)
    except ValueError as e:
        raise RnnkitError(f"--key: {e}") from None
    found = estimate_key(chorale)
    if found is None:
        return chorale
    mode = key.lower().split()[1:2]  # "G minor" -> ["minor"]
    if mode and mode[0] != found.mode:
        raise RnnkitError(
            f"--key {key}: the piece is in {found}, and transposing moves its tonic, not its "
            f"mode: ask for a {found.mode} key, or give the tonic alone (--key {key.split()[0]})"
        )
    shift = (wanted - found.tonic + 6) % 12 - 6
    moved = [[p + shift for p in frame] for frame in chorale]
    if any(not PIANO_LOW <= p <= PIANO_HIGH for frame in moved for p in frame):
        raise RnnkitError(
            f"--key {key}: moving the piece from {found} by {shift:+d} semitones takes notes "
            f"off the piano's keys (MIDI {PIANO_LOW}-{PIANO_HIGH})"
        )
    return moved


def read_prime(prime: str) -> list[list[int]]:
    """The frames a continuation starts from: a MIDI file (one frame per beat, every track
    merged), or the name of a Bach chorale in music21's corpus (e.g. bwv66.6)."""
    path = Path(prime)
    if path.suffix.lower() in (".mid", ".midi") or path.exists():
        steps = read_midi_pitches(path)
    else:
        files = bach_chorale_files()
        if prime not in files:
            raise RnnkitError(
                f"--prime {prime}: no such MIDI file, and no Bach chorale of that name in "
                f"music21's corpus (names such as {', '.join(list(files)[:3])})"
            )
        from music21 import converter

        steps = parse_chorale(converter.parse(str(files[prime])))
    if not any(steps):
        raise RnnkitError(f"--prime {prime}: no notes to continue")
    to_multihot(steps)  # a pitch outside the piano's 88 keys: one clear error, now
    return [list(s) for s in steps]


def numbered(path: str | Path, i: int, n: int) -> Path:
    """The file of piece i (1-based) of n: `path` itself when n = 1, else with -i before its
    suffix (out.mid -> out-2.mid)."""
    path = Path(path)
    return path if n == 1 else path.with_name(f"{path.stem}-{i}{path.suffix}")


def compose(
    model: LanguageModel,
    steps: int,
    sampling: tuple[float, int | None, int],
    prime: Piece | None,
    melody: list[int | None] | None,
    samples: int = 1,
) -> tuple[list[Piece], str]:
    """The pieces `generate` writes and the words their pictures' titles say about them: the
    melody harmonised, or `steps` sampled after the prime (if any), `samples` of them.
    sampling: (temperature, top_k, seed)."""
    if melody is not None:
        pieces = harmonisations(model, melody, *sampling, samples=samples)
        return pieces, f"{len(melody)} steps harmonising a melody"
    pieces = sample_pieces(model, steps, *sampling, prime, samples)
    return pieces, f"{steps} steps" + (f" after a {len(prime)}-step prime" if prime else "")


def check_piece_options(steps: int | None, prime: str | None, melody: str | None) -> None:
    """--steps, --prime and --melody: a melody sets the piece's length and is not continued."""
    if steps is not None and steps < 1:
        raise RnnkitError(f"--steps must be at least 1, got {steps}")
    if melody is not None and prime is not None:
        raise RnnkitError("give --prime (continue a piece) or --melody (harmonise one), not both")
    if melody is not None and steps is not None:
        raise RnnkitError("--melody sets the piece's length (one step per beat): drop --steps")


def check_outputs(
    paths: Mapping[str, str | Path | None], soundfont: str | Path | None, samples: int = 1
) -> None:
    """Refuse, before any sampling, output paths that cannot be written (a folder, a missing
    folder), named by their option (`out` -> --out), each of the `samples` numbered files
    (`numbered`), and a soundfont that cannot be used."""
    for name, path in paths.items():
        for i in range(1, samples + 1):
            if path is not None:
                check_output_path(numbered(path, i, samples), f"--{name}")
    if soundfont is not None and paths["wav"] is None:
        raise RnnkitError("--soundfont renders the --wav file: give --wav FILE too")
    if soundfont is not None:
        fluidsynth_program(soundfont)  # the program and the file are there


def write_piece(
    chorale: Piece,
    files: Mapping[str, Path | None],
    title: str,
    bpm: float,
    voices: bool,
    soundfont: str | Path | None,
    sample_rate: int,
) -> None:
    """One piece's files: files["out"] (MIDI), its piano roll at files["png"] (default: beside
    the MIDI file) unless the score takes that path, and MusicXML, WAV and score when given."""
    out = files["out"]
    assert out is not None
    write_midi(chorale, out, bpm=bpm, voices=voices)
    if files["musicxml"] is not None:
        write_musicxml(chorale, files["musicxml"], bpm=bpm)
    roll = files["png"] or out.with_suffix(".png")
    score = files["score"]
    if score is None or score.resolve() != roll.resolve():  # else the score takes its place
        plot_piano_roll(chorale, roll, title=title)
    _write_sound_and_score(chorale, files["wav"], score, soundfont, bpm, sample_rate, title)


def _write_sound_and_score(
    chorale: list[list[int]],
    wav: str | Path | None,
    score: str | Path | None,
    soundfont: str | Path | None,
    bpm: float,
    sample_rate: int,
    title: str,
) -> None:
    """`generate`'s WAV (synthesised, or through FluidSynth with a soundfont) and score PNG
    (a piano roll without LilyPond, said in one logged line)."""
    if wav is not None and soundfont is not None:
        write_wav_soundfont(chorale, wav, soundfont, bpm=bpm, sample_rate=sample_rate)
    elif wav is not None:
        write_wav(chorale, wav, bpm=bpm, sample_rate=sample_rate)
    if score is not None and write_score_png(chorale, score, bpm=bpm, title=title) != "score":
        logging.getLogger("rnnkit.tasks").info(
            "%s: wrote the piano roll instead of the score: LilyPond is not installed (no "
            "lilypond and musicxml2ly on PATH; Debian/Ubuntu: apt install lilypond)",
            score,
        )
