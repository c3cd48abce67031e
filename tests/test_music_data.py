"""Piano rolls, the JSB reader, music21 chorale parsing, the fixed split, MIDI and PNG output."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from conftest import shared_data

from rnnkit.data import bach_chorales
from rnnkit.data.bach_chorales import SPLITS, chorale_split, load_bach_chorales, parse_chorale
from rnnkit.data.jsb import read_jsb
from rnnkit.data.midi import read_midi_pitches, write_midi
from rnnkit.data.piano_roll import describe, from_multihot, plot_piano_roll, to_multihot
from rnnkit.errors import DataError, RnnkitError

JSB = shared_data() / "jsb-chorales"


def random_chorale(rng: random.Random, T: int, low: int = 21, high: int = 108) -> list[list[int]]:
    """Steps with 0..4 distinct pitches, some held across steps, some rests."""
    steps: list[list[int]] = []
    prev: list[int] = []
    for _ in range(T):
        if prev and rng.random() < 0.3:
            steps.append(prev)  # held
        else:
            steps.append(sorted(rng.sample(range(low, high + 1), rng.randint(0, 4))))
        prev = steps[-1]
    return steps


# --------------------------------------------------------------------------- piano roll


def test_multihot_sets_exactly_the_sounding_keys_and_round_trips() -> None:
    steps = [[21, 60, 108], [], [64, 67]]
    roll = to_multihot(steps)
    assert roll.shape == (3, 88) and roll.dtype == torch.float32
    expected = torch.zeros(3, 88)
    expected[0, 0] = expected[0, 39] = expected[0, 87] = 1  # 21-21, 60-21, 108-21
    expected[2, 43] = expected[2, 46] = 1
    assert torch.equal(roll, expected)
    assert from_multihot(roll) == steps

    rng = random.Random(0)
    for _ in range(20):
        c = random_chorale(rng, rng.randint(1, 30))
        assert from_multihot(to_multihot(c)) == c


def test_multihot_custom_range_threshold_and_errors() -> None:
    roll = to_multihot([[40, 42]], low=40, high=43)
    assert roll.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    probs = torch.tensor([[0.2, 0.7, 0.5, 0.49]])
    assert from_multihot(probs, low=40) == [[41, 42]]
    with pytest.raises(DataError, match=r"step 1 .*pitch 20 .*21\.\.108"):
        to_multihot([[60], [20]])
    with pytest.raises(DataError, match="pitch 109"):
        to_multihot([[109]])
    with pytest.raises(RnnkitError, match=r"shape \(T, P\)"):
        from_multihot(torch.zeros(88))


def test_describe_counts() -> None:
    d = describe([[[60, 64], [], [62]], [[48]]])
    assert d == {
        "count": 2,
        "steps": 4,
        "empty_steps": 1,
        "notes": 4,
        "min_length": 1,
        "max_length": 3,
        "min_pitch": 48,
        "max_pitch": 64,
    }
    assert describe([])["min_length"] is None


# --------------------------------------------------------------------------- JSB reader


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_jsb_list_and_combined_object(tmp_path: Path) -> None:
    chorales = [[[60, 64, 67], [], [62, 65]], [[48, 55]]]
    path = write(tmp_path, "one.json", json.dumps(chorales))
    assert read_jsb(path) == chorales

    # unsorted steps come back sorted
    path = write(tmp_path, "unsorted.json", "[[[67, 60, 64]]]")
    assert read_jsb(path) == [[[60, 64, 67]]]

    combined = {"train": chorales, "valid": [[[70]]], "test": [[[50], [51]]]}
    path = write(tmp_path, "all.json", json.dumps(combined))
    assert read_jsb(path, split="train") == chorales
    assert read_jsb(path, split="test") == [[[50], [51]]]
    with pytest.raises(DataError, match=r"all\.json: .*split="):
        read_jsb(path)
    with pytest.raises(DataError, match=r"all\.json: has no split 'dev'.*'train'"):
        read_jsb(path, split="dev")
    with pytest.raises(DataError, match=r"one\.json: .*single split"):
        read_jsb(tmp_path / "one.json", split="train")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("[[[60, 64]], [[62]\n  [67]]]", r"bad\.json:2: not valid JSON"),
        ("{not json", r"bad\.json:1: not valid JSON"),
        ('{"a": 1}', r"bad\.json: .*split="),
        ('"hello"', r"bad\.json: expected a JSON array of chorales, got str"),
        ("[[[60]], 5]", r"bad\.json: chorale 1 \(0-based\): expected an array of time steps"),
        ("[[[60]], [[62], 64]]", r"bad\.json: chorale 1, step 1 \(0-based\): expected an array"),
        ("[[[60]], [[62], [64.0]]]", r"chorale 1, step 1 .*integer MIDI pitches, got 64\.0"),
        ('[[["60"]]]', r"chorale 0, step 0 .*integer MIDI pitches, got \"60\""),
        ("[[[true]]]", r"chorale 0, step 0 .*integer MIDI pitches, got true"),
        ("[[[60]], [[62], [], [128]]]", r"bad\.json: chorale 1, step 2 .*pitch 128 .*0\.\.127"),
        ("[[[-1]]]", r"pitch -1 is outside 0\.\.127"),
        ("[[[60]], []]", r"bad\.json: chorale 1 \(0-based\): has no time steps"),
        ("[[[60, 60]]]", r"chorale 0, step 0 .*twice"),
    ],
)
def test_read_jsb_rejects_bad_input_naming_file_and_place(
    tmp_path: Path, text: str, pattern: str
) -> None:
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(DataError, match=pattern) as info:
        read_jsb(path)
    assert info.value.path == str(path)


def test_read_jsb_piano_range_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "low.json", "[[[60]], [[20, 60]]]")
    assert read_jsb(path)[1] == [[20, 60]]  # a MIDI pitch, fine by default
    with pytest.raises(DataError, match=r"low\.json: chorale 1, step 0 .*pitch 20 .*21\.\.108"):
        read_jsb(path, low=21, high=108)
    path = write(tmp_path, "c.json", json.dumps({"valid": [[[10]]]}))
    with pytest.raises(DataError, match=r"c\.json: split 'valid', chorale 0, step 0"):
        read_jsb(path, split="valid", low=21, high=108)
    with pytest.raises(DataError, match=r"nope\.json: file not found"):
        read_jsb(tmp_path / "nope.json")


def test_read_jsb_reads_gzip(tmp_path: Path) -> None:
    chorales = [[[60, 64, 67], [], [62, 65]], [[48, 55]]]
    data = gzip.compress(json.dumps({"train": chorales}).encode("utf-8"))
    for name in ("jsb.json.gz", "jsb.json"):  # recognised by its content, not its name
        path = tmp_path / name
        path.write_bytes(data)
        assert read_jsb(path, split="train") == chorales


def test_read_jsb_rejects_non_utf8_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    # a Latin-1 "é" in a JSON string on line 4
    path.write_bytes('[[[60]],\n [[62]],\n [[64]]] \n"caf\u00e9"'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.json:4: not valid UTF-8: byte 0xe9") as info:
        read_jsb(path)
    assert info.value.path == str(path) and info.value.line == 4


@pytest.mark.skipif(not JSB.is_dir(), reason="shared JSB Chorales data not present")
def test_real_jsb_files_match_their_readme() -> None:
    train = read_jsb(JSB / "train.json", low=21, high=108)
    valid = read_jsb(JSB / "valid.json", low=21, high=108)
    raw = json.loads((JSB / "train.json").read_text(encoding="utf-8"))
    assert train == raw  # the files are already sorted, so validation changes nothing
    assert describe(train) == {
        "count": 229,
        "steps": 13_807,
        "empty_steps": 18,
        "notes": sum(len(s) for c in raw for s in c),
        "min_length": 25,
        "max_length": 129,
        "min_pitch": 43,
        "max_pitch": 96,
    }
    d = describe(valid)
    assert (d["count"], d["steps"], d["min_length"], d["max_length"]) == (76, 4_602, 32, 144)
    assert (d["min_pitch"], d["max_pitch"]) == (48, 96)
    assert train[0][:3] == [[60, 72, 79, 88], [72, 79, 88], [67, 70, 76, 84]]
    roll = to_multihot(train[0])  # (T, 88)
    assert roll.shape == (len(train[0]), 88)
    assert from_multihot(roll) == train[0]


# --------------------------------------------------------------------------- music21


def m21() -> ModuleType:
    """music21 is an optional extra: skip the test when it is missing."""
    return pytest.importorskip("music21")


def hand_built_score() -> Any:
    """Two parts on a quarter grid (offsets in quarter lengths).

    upper: C4 half (0-2), rest (2-3), chord E4+G4 (3-4), D4 eighth (4-4.5), F4 eighth (4.5-5),
           grace B-4 then C5 quarter (5-6)
    lower: rest dotted half (0-3), C3 quarter tied to C3 quarter (3-5), C5 quarter (5-6)
    """
    m21()
    from music21 import chord, note, stream, tie

    upper = stream.Part()
    upper.append(note.Note(60, quarterLength=2))
    upper.append(note.Rest(quarterLength=1))
    upper.append(chord.Chord([64, 67], quarterLength=1))
    upper.append(note.Note(62, quarterLength=0.5))
    upper.append(note.Note(65, quarterLength=0.5))
    grace = note.Note(70, type="eighth").getGrace()
    assert grace.duration.isGrace and grace.duration.quarterLength == 0
    upper.append(grace)
    upper.append(note.Note(72, quarterLength=1))

    lower = stream.Part()
    lower.append(note.Rest(quarterLength=3))
    first, second = note.Note(48, quarterLength=1), note.Note(48, quarterLength=1)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    lower.append([first, second])
    lower.append(note.Note(72, quarterLength=1))

    score = stream.Score()
    score.insert(0, upper)
    score.insert(0, lower)
    return score


def test_parse_chorale_held_notes_rests_chords_grace_and_unisons() -> None:
    score = hand_built_score()
    assert parse_chorale(score) == [
        [60],  # t=0  C4 half
        [60],  # t=1  still held
        [],  # t=2  both parts rest
        [48, 64, 67],  # t=3  chord + tied C3 starts
        [48, 62],  # t=4  tie continues; D4 eighth at the grid point, F4 between points
        [72],  # t=5  grace note skipped; unison C5 in both parts collapses
    ]
    # an eighth grid sees the eighth notes and every half-step of the held ones
    assert parse_chorale(score, step=0.5) == [
        [60], [60], [60], [60], [], [], [48, 64, 67], [48, 64, 67], [48, 62], [48, 65], [72], [72]
    ]  # fmt: skip


def test_parse_chorale_aligns_grid_after_an_eighth_upbeat_and_drops_leading_rests() -> None:
    m21()
    from music21 import note, stream

    def part_with_pickup(pickup: float) -> Any:
        part = stream.Part()
        m0 = stream.Measure(number=0)
        m0.append(note.Note(60, quarterLength=pickup))
        m0.paddingLeft = 4 - pickup
        m1 = stream.Measure(number=1)
        m1.append([note.Note(62, quarterLength=1), note.Note(64, quarterLength=1)])
        part.append([m0, m1])
        score = stream.Score()
        score.insert(0, part)
        return score

    # upbeat of an eighth: beats fall at score times 0.5 and 1.5, where 62 and 64 sound
    assert parse_chorale(part_with_pickup(0.5)) == [[62], [64]]
    # upbeat of a quarter: beats at 0, 1, 2
    assert parse_chorale(part_with_pickup(1.0)) == [[60], [62], [64]]
    # nothing on a beat at all: no steps
    lone = stream.Measure(number=0)
    lone.append(note.Note(60, quarterLength=0.5))
    lone.paddingLeft = 3.5
    assert parse_chorale(stream.Part([lone])) == []

    part = stream.Part()
    part.append(
        [note.Rest(quarterLength=2), note.Note(67, quarterLength=1), note.Rest(), note.Note(69)]
    )
    assert parse_chorale(part) == [[67], [], [69]]


def sounding_by_beat(score: Any, T: int) -> list[list[int]]:
    """Reference: for each part, ask music21 which element is at or before each beat."""
    from music21 import note

    steps: list[set[int]] = [set() for _ in range(T)]
    for part in score.parts:
        flat = part.flatten().notesAndRests.stream()
        for k in range(T):
            el = flat.getElementAtOrBefore(k)
            if el is None or isinstance(el, note.Rest):
                continue
            if el.offset + el.quarterLength > k:
                steps[k].update(p.midi for p in el.pitches)
    return [sorted(s) for s in steps]


@pytest.mark.parametrize("name", ["bwv10.7", "bwv264"])
def test_parse_chorale_on_real_music21_chorales(name: str) -> None:
    m21()
    from music21 import converter, stream

    path = bach_chorales.bach_chorale_files()[name]
    score = converter.parse(path)
    assert len(score.parts) == 4
    first = score.parts[0].getElementsByClass(stream.Measure).first()
    assert first.paddingLeft % 1 == 0  # beats fall on integer score times, as the reference assumes
    steps = parse_chorale(score)
    T = math.ceil(score.highestTime)
    assert len(steps) == T
    assert steps == sounding_by_beat(score, T)
    assert all(len(s) <= 4 for s in steps)
    assert sum(len(s) == 4 for s in steps) > 0.8 * T


def test_split_is_a_fixed_hash_of_the_name_deterministic_and_disjoint() -> None:
    names = [f"bwv{i}.{j}" for i in range(1, 300) for j in range(1, 4)]
    for name in names[:50]:
        h = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10
        assert chorale_split(name) == ("test" if h == 0 else "valid" if h == 1 else "train")
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    assert {n: chorale_split(n) for n in shuffled} == {n: chorale_split(n) for n in names}
    groups = {s: {n for n in names if chorale_split(n) == s} for s in SPLITS}
    assert sum(len(g) for g in groups.values()) == len(set(names))  # each name in exactly one
    assert groups["train"].isdisjoint(groups["valid"] | groups["test"])
    assert groups["valid"].isdisjoint(groups["test"])
    assert 0.05 < len(groups["test"]) / len(names) < 0.15
    assert 0.05 < len(groups["valid"]) / len(names) < 0.15


def test_bach_files_cover_each_piece_once_in_every_split() -> None:
    m21()
    files = bach_chorales.bach_chorale_files()
    assert list(files) == sorted(files)
    assert files["bwv277"].suffix == ".mxl"  # also shipped as .krn: MusicXML wins
    assert all(p.suffix != ".rntxt" for p in files.values())
    assert {chorale_split(n) for n in files} == set(SPLITS)


def test_load_bach_chorales_caches_atomically_and_splits_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m21()
    rng = random.Random(3)
    names = [f"bwv{i}.6" for i in range(40)]
    pieces = {n: random_chorale(rng, 5, 40, 80) for n in names}
    calls: list[float] = []

    def fake_parse(step: float, progress: bool) -> dict[str, list[list[int]]]:
        calls.append(step)
        return pieces

    monkeypatch.setattr(bach_chorales, "_parse_corpus", fake_parse)
    first = load_bach_chorales(tmp_path / "cache", progress=False)
    assert calls == [1.0]
    for split in SPLITS:
        assert first[split] == [pieces[n] for n in sorted(names) if chorale_split(n) == split]
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"  # no temporary file left behind
    import music21 as m21mod

    assert m21mod.__version__ in files[0].name and "step1" in files[0].name

    def no_parse(step: float, progress: bool) -> dict[str, list[list[int]]]:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(bach_chorales, "_parse_corpus", no_parse)
    assert load_bach_chorales(tmp_path / "cache", progress=False) == first

    # another step is another cache entry; a corrupt cache is rebuilt
    monkeypatch.setattr(bach_chorales, "_parse_corpus", fake_parse)
    load_bach_chorales(tmp_path / "cache", step=0.5, progress=False)
    assert calls == [1.0, 0.5]
    assert any("step1_2" in p.name for p in (tmp_path / "cache").iterdir())
    files[0].write_text("{trunc", encoding="utf-8")
    assert load_bach_chorales(tmp_path / "cache", progress=False) == first
    assert calls == [1.0, 0.5, 1.0]

    with pytest.raises(RnnkitError, match="step"):
        load_bach_chorales(tmp_path / "cache", step=0)

    # without cache_dir, the cache goes to $RNNKIT_CACHE
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "env-cache"))
    assert load_bach_chorales(progress=False) == first
    assert len(list((tmp_path / "env-cache").glob("bach-chorales-*.json"))) == 1


def test_missing_music21_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "music21" or name.startswith("music21."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(RnnkitError, match=r"pip install 'rnnkit\[music\]'"):
        load_bach_chorales()


# --------------------------------------------------------------------------- MIDI and PNG


def test_midi_round_trip_holds_repeated_pitches_as_one_note(tmp_path: Path) -> None:
    mido = pytest.importorskip("mido")
    steps = [[60, 64], [60, 65], [], [60], [60, 72], [], []]  # trailing rests kept
    path = write_midi(steps, tmp_path / "c.mid", step_seconds=0.25, velocity=90)
    assert read_midi_pitches(path) == steps
    assert os.listdir(tmp_path) == ["c.mid"]

    midi = mido.MidiFile(str(path))
    ons = [m for m in midi if m.type == "note_on" and m.velocity > 0]
    # 60 held over steps 0-1, and 3-4; 64, 65, 72 once each
    assert sorted(m.note for m in ons) == [60, 60, 64, 65, 72]
    assert all(m.velocity == 90 for m in ons)
    assert midi.length == pytest.approx(len(steps) * 0.25)

    rng = random.Random(5)
    for i in range(10):
        c = random_chorale(rng, rng.randint(1, 40), 0, 127)
        c[-1] = c[-1] or [60]
        p = write_midi(c, tmp_path / f"r{i}.mid", bpm=120)
        assert read_midi_pitches(p) == c
    assert mido.MidiFile(str(p)).length == pytest.approx(len(c) * 0.5)


def test_midi_rejects_bad_arguments(tmp_path: Path) -> None:
    pytest.importorskip("mido")
    with pytest.raises(RnnkitError, match="not both"):
        write_midi([[60]], tmp_path / "a.mid", step_seconds=0.5, bpm=100)
    with pytest.raises(RnnkitError, match="pitch 128"):
        write_midi([[128]], tmp_path / "a.mid")
    with pytest.raises(RnnkitError, match="velocity"):
        write_midi([[60]], tmp_path / "a.mid", velocity=0)
    assert not (tmp_path / "a.mid").exists()
    bad = write(tmp_path, "bad.mid", "not midi at all")
    with pytest.raises(DataError, match=r"bad\.mid: not a readable MIDI file"):
        read_midi_pitches(bad)


def test_piano_roll_png_is_written_and_readable(tmp_path: Path) -> None:
    from matplotlib.image import imread

    steps = random_chorale(random.Random(7), 40, 48, 84)
    path = plot_piano_roll(steps, tmp_path / "roll.png", title="a chorale")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].min() < 0.2 and image[..., :3].max() > 0.9  # dark notes on light paper
    assert os.listdir(tmp_path) == ["roll.png"]
    plot_piano_roll([], tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
