"""Chorales as standard MIDI files: `write_midi` (playable, via mido) and `read_midi_pitches`.

mido is imported inside the functions, so this module imports without the `music` extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rnnkit.data.atomic import atomic_write
from rnnkit.data.piano_roll import Steps
from rnnkit.errors import DataError, RnnkitError

_TICKS_PER_STEP = 480


def write_midi(
    steps: Sequence[Sequence[int]],
    path: str | Path,
    *,
    step_seconds: float | None = None,
    bpm: float | None = None,
    velocity: int = 80,
    voices: bool = False,
) -> Path:
    """Write a chorale as a playable standard MIDI file (type 1, piano): one track on channel
    0, or with `voices` four tracks named soprano, alto, tenor and bass on channels 0-3, the
    notes of each step dealt to them by pitch (`split_voices`).

    One step lasts step_seconds (default 0.5 s), or 60 / bpm seconds when bpm is given (one
    step = one beat, as for quarter-note chorales); in the file a step is one beat of 480 ticks.

    Held notes: a pitch present on consecutive steps is written as ONE note spanning them.
    A step list cannot tell a held note from a repeated one (the JSB data do not either), and
    holding is what the chorales do far more often. Trailing rests are kept by ending the track
    at T steps. Written atomically (temporary file + os.replace). Returns the path.
    """
    import mido

    if step_seconds is not None and bpm is not None:
        raise RnnkitError("give step_seconds or bpm, not both")
    seconds = 60.0 / bpm if bpm is not None else 0.5 if step_seconds is None else step_seconds
    if not seconds > 0 or not math.isfinite(seconds):
        raise RnnkitError(f"a step must last a positive time, got {seconds} s")
    if not 1 <= velocity <= 127:
        raise RnnkitError(f"velocity must be in 1..127, got {velocity}")
    for t, pitches in enumerate(steps):
        for p in pitches:
            if not 0 <= p <= 127:
                raise RnnkitError(f"step {t} (0-based): pitch {p} is not a MIDI pitch 0..127")

    midi = mido.MidiFile(type=1, ticks_per_beat=_TICKS_PER_STEP)
    parts: dict[str, Sequence[Sequence[int]]] = {"": steps}
    if voices:
        parts = dict(split_voices(steps))
    for channel, (name, part) in enumerate(parts.items()):
        track = _track(part, channel, name, velocity)
        if channel == 0:
            track.insert(0, mido.MetaMessage("set_tempo", tempo=round(seconds * 1e6), time=0))
        midi.tracks.append(track)

    path = Path(path)
    with atomic_write(path) as f:
        midi.save(file=f)
    return path


VOICES = ("soprano", "alto", "tenor", "bass")


def split_voices(steps: Sequence[Sequence[int]]) -> dict[str, list[list[int]]]:
    """The four voices of a chorale, by pitch order in each step: the highest note is the
    soprano's, the lowest the bass's (with one note only, the soprano sings), and the notes
    between go to the alto (the upper half, rounded up) and the tenor (the rest). So four
    notes give one to each voice, three leave the tenor silent, and a fifth or sixth note
    doubles the alto and then the tenor."""
    parts: dict[str, list[list[int]]] = {v: [] for v in VOICES}
    for pitches in steps:
        notes = sorted(set(pitches), reverse=True)
        inner = notes[1:-1]
        upper = (len(inner) + 1) // 2
        parts["soprano"].append(notes[:1])
        parts["alto"].append(inner[:upper])
        parts["tenor"].append(inner[upper:])
        parts["bass"].append(notes[-1:] if len(notes) > 1 else [])
    return parts


class HeldNote(NamedTuple):
    """One note of a chorale: `pitch` sounds from step `start` for `length` steps."""

    pitch: int  # MIDI pitch 0..127
    start: int  # first step it sounds on (0-based)
    length: int  # steps it is held, >= 1


def held_notes(steps: Sequence[Sequence[int]]) -> list[HeldNote]:
    """The notes of a chorale under the held-note rule every writer shares: a pitch present
    on consecutive steps is ONE note spanning them (a step list cannot tell a held note from
    a repeated one, and the chorales hold far more often than they repeat). Sorted by start,
    then pitch.

        [[60, 64], [60, 65], [], [60]]  ->  C4 from 0 for 2, E4 from 0 for 1, F4 from 1 for 1,
                                            C4 from 3 for 1
    """
    notes: list[HeldNote] = []
    started: dict[int, int] = {}  # pitch -> step where its current note began
    for t, pitches in enumerate([*steps, []]):  # the extra empty step closes every note
        now = set(pitches)
        for p in sorted(set(started) - now):
            start = started.pop(p)
            notes.append(HeldNote(p, start, t - start))
        for p in sorted(now - set(started)):
            started[p] = t
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def _track(steps: Sequence[Sequence[int]], channel: int, name: str, velocity: int) -> Any:
    """One MIDI track of `steps`, a pitch held over consecutive steps written as one note."""
    import mido

    # (tick, order, message): at equal ticks note_off (order 0) goes before note_on (order 1).
    events: list[tuple[int, int, str, int]] = []
    for note in held_notes(steps):
        events.append((note.start * _TICKS_PER_STEP, 1, "note_on", note.pitch))
        events.append(((note.start + note.length) * _TICKS_PER_STEP, 0, "note_off", note.pitch))
    events.sort()
    track = mido.MidiTrack()
    if name:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", program=0, channel=channel, time=0))
    last = 0
    for tick, _, kind, p in events:
        vel = velocity if kind == "note_on" else 0
        track.append(mido.Message(kind, note=p, velocity=vel, channel=channel, time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=len(steps) * _TICKS_PER_STEP - last))
    return track


def read_midi_pitches(path: str | Path) -> Steps:
    """Read a MIDI file back onto a grid of one step per beat (ticks_per_beat ticks).

    Step k holds every pitch whose note covers tick k * ticks_per_beat (on <= tick < off),
    all tracks and channels merged; a note_on with velocity 0 counts as a note_off. The
    number of steps is the file's length in beats, rounded up, so trailing rests written by
    `write_midi` survive. Mainly for checking `write_midi` by a round trip.
    """
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except FileNotFoundError:
        raise DataError("no such file", path=path) from None
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise DataError(f"not a readable MIDI file: {e}", path=path) from None
    tpb = midi.ticks_per_beat
    notes: list[tuple[int, int, int]] = []  # (on tick, off tick, pitch)
    length = 0
    for track in midi.tracks:
        tick = 0
        open_notes: dict[tuple[int, int], int] = {}  # (channel, pitch) -> on tick
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), tick)
            elif msg.type in ("note_off", "note_on"):
                on = open_notes.pop((msg.channel, msg.note), None)
                if on is not None:
                    notes.append((on, tick, msg.note))
        for (_, p), on in open_notes.items():  # never switched off: sound to the track's end
            notes.append((on, tick, p))
        length = max(length, tick)
    T = -(-length // tpb)
    steps: list[set[int]] = [set() for _ in range(T)]
    for on, off, p in notes:
        for k in range(-(-on // tpb), -(-off // tpb)):  # k * tpb in [on, off)
            steps[k].add(p)
    return [sorted(s) for s in steps]


__all__ = [
    "VOICES",
    "HeldNote",
    "held_notes",
    "read_midi_pitches",
    "split_voices",
    "write_midi",
]
