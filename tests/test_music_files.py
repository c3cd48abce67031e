"""Chorale files a musician can use: the four-voice MIDI tracks and the MusicXML score, read
back through music21 (an independent reader)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rnnkit.data.midi import read_midi_pitches, write_midi
from rnnkit.errors import RnnkitError


def test_four_voice_midi_deals_each_step_by_pitch_and_reads_back_in_music21(
    tmp_path: Path,
) -> None:
    from rnnkit.data.midi import split_voices

    music21 = pytest.importorskip("music21")
    steps = [[48, 55, 64, 72], [48, 55, 64, 72], [50, 65, 74], [43, 59, 62, 67, 71], [67], []]
    parts = split_voices(steps)
    assert parts == {
        "soprano": [[72], [72], [74], [71], [67], []],
        "alto": [[64], [64], [65], [67, 62], [], []],
        "tenor": [[55], [55], [], [59], [], []],
        "bass": [[48], [48], [50], [43], [], []],
    }
    path = write_midi(steps, tmp_path / "v.mid", bpm=60, voices=True)
    assert read_midi_pitches(path) == steps  # the tracks together are the chorale
    score = music21.converter.parse(str(path))
    assert len(score.parts) == 4
    names = [p.partName for p in score.parts]
    assert [n.lower() if n else n for n in names] == ["soprano", "alto", "tenor", "bass"]
    soprano = [(n.pitch.midi, float(n.quarterLength)) for n in score.parts[0].flatten().notes]
    assert soprano == [(72, 2.0), (74, 1.0), (71, 1.0), (67, 1.0)]  # the held C5 is one note
    bass = [(n.pitch.midi, float(n.quarterLength)) for n in score.parts[3].flatten().notes]
    assert bass == [(48, 2.0), (50, 1.0), (43, 1.0)]


def test_musicxml_has_the_four_voices_with_their_notes(tmp_path: Path) -> None:
    from rnnkit.data.midi import split_voices
    from rnnkit.data.musicxml import write_musicxml

    music21 = pytest.importorskip("music21")
    steps = [[48, 55, 64, 72], [48, 55, 64, 72], [50, 65, 74], [43, 59, 62, 67], [67], []]
    path = write_musicxml(steps, tmp_path / "s.musicxml", bpm=60)
    assert os.listdir(tmp_path) == ["s.musicxml"]
    score = music21.converter.parse(str(path)).stripTies()  # notes split at a barline: one
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    for part, (_, voice) in zip(score.parts, split_voices(steps).items(), strict=True):
        got = []
        for n in part.flatten().notesAndRests:
            pitches = [] if n.isRest else [p.midi for p in n.pitches]
            got += [sorted(pitches)] * int(n.quarterLength)
        assert got == [sorted(v) for v in voice]  # the voice's steps, one per quarter
    with pytest.raises(RnnkitError, match="no folder"):
        write_musicxml(steps, tmp_path / "missing" / "s.musicxml")
