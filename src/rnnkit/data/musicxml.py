"""Chorales as MusicXML scores (through music21), which MuseScore and other notation programs
open: four parts, soprano to bass (`rnnkit.data.midi.split_voices`) in treble, treble,
tenor (treble an octave down) and bass clefs, under the key signature of the key music21's
analysis finds, one quarter note a step, a voice's repeated step written as one longer
note. music21 is imported inside the function, so this module imports without the `music`
extra."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.data.atomic import write_bytes
from rnnkit.data.midi import split_voices
from rnnkit.errors import RnnkitError

_INSTALL = "pip install 'rnnkit[music]'"


def _runs(steps: Sequence[Sequence[int]]) -> list[tuple[list[int], int]]:
    """(notes, length) for each run of equal consecutive steps."""
    runs: list[tuple[list[int], int]] = []
    for notes in steps:
        if runs and runs[-1][0] == list(notes):
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((list(notes), 1))
    return runs


def _key_signature(steps: Sequence[Sequence[int]]) -> int | None:
    """Sharps (> 0) or flats (< 0) of the key music21's analysis finds in the piece (None
    for a piece of rests): the score's key signature."""
    from music21 import chord, stream

    flat: Any = stream.Stream()
    for notes in steps:
        if notes:
            flat.append(chord.Chord(list(notes), quarterLength=1))
    if not flat.notes:
        return None
    return int(flat.analyze("key").sharps)


def write_musicxml(steps: Sequence[Sequence[int]], path: str | Path, bpm: float = 80.0) -> Path:
    """Write the chorale as a four-part MusicXML score at `bpm` quarter notes a minute,
    atomically (`rnnkit.data.atomic`). Returns the path."""
    try:
        from music21 import chord, clef, key, meter, note, stream, tempo
    except ImportError:
        raise RnnkitError(f"MusicXML needs music21: {_INSTALL}") from None
    score = stream.Score()
    clefs = {"soprano": clef.TrebleClef, "alto": clef.TrebleClef, "tenor": clef.Treble8vbClef}
    signature = _key_signature(steps)
    for i, (name, part_steps) in enumerate(split_voices(steps).items()):
        part = stream.Part(id=name)
        part.partName = name.title()
        part.append(clefs.get(name, clef.BassClef)())
        if signature is not None:
            part.append(key.KeySignature(signature))
        if i == 0:
            part.append(tempo.MetronomeMark(number=bpm))
        part.append(meter.TimeSignature("4/4"))
        for notes, length in _runs(part_steps):
            element: Any
            if not notes:
                element = note.Rest(quarterLength=length)
            elif len(notes) == 1:
                element = note.Note(notes[0], quarterLength=length)
            else:
                element = chord.Chord(notes, quarterLength=length)
            part.append(element)
        score.insert(0, part)
    path = Path(path)
    if not path.parent.is_dir():
        raise RnnkitError(f"{path}: cannot write: no folder {path.parent}")
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    write_bytes(path, GeneralObjectExporter(score).parse())  # what score.write("musicxml") writes
    return path


__all__ = ["write_musicxml"]
