"""Polyphonic music as piano rolls: Bach chorales for the one-to-many (generation) task.

A **chorale** is a list of time steps; a time step is the sorted list of MIDI pitches
(ints 0..127) sounding at that step, empty for a rest:

    [[60, 72, 79, 88], [72, 79, 88], [], [67, 70, 76, 84]]      # T = 4 steps

The model sees it as a multi-hot **piano roll** x<1..T>, one frame per step over the
88 piano keys MIDI 21..108 (the literature's roll):

    x<t>[p - 21] = 1  if pitch p sounds at step t   else 0        roll: (T, 88)

and the usual metric is the negative log-likelihood per time step of the next frame,
ŷ<t> = sigmoid(W_ya a<t> + b_y), one Bernoulli per key.

Sources, each validated at the boundary:

- `read_jsb`: the JSB Chorales benchmark files of Boulanger-Lewandowski et al. (2012), as
  JSON (list of chorales -> list of steps -> sorted list of pitches), either one split per
  file or the combined object {"train": ..., "valid": ..., "test": ...}.
- `load_bach_chorales`: the Bach chorales shipped inside music21, parsed offline by
  `parse_chorale` onto a fixed grid, split by a fixed hash of the piece name
  (`chorale_split`), and cached as JSON.

Output: `write_midi` (a playable standard MIDI file, via mido), `read_midi_pitches` (back
onto the beat grid), `plot_piano_roll` (PNG, time on x, pitch on y) and `describe`.

music21, mido and matplotlib are imported inside the functions that need them, so this
module imports without the `music` extra.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import torch
from torch import Tensor

from rnnkit.data.paths import cache_dir as default_cache_dir
from rnnkit.errors import DataError, RnnkitError

if TYPE_CHECKING:
    from music21.stream import Stream

Steps = list[list[int]]
"""One chorale: steps -> sorted MIDI pitches sounding at that step (empty list = rest)."""

PIANO_LOW = 21
"""Lowest key of the 88-key piano roll (A0)."""
PIANO_HIGH = 108
"""Highest key of the 88-key piano roll (C8)."""
SPLITS = ("train", "valid", "test")

_INSTALL_MUSIC = "pip install 'rnnkit[music]'"
# Bump when parse_chorale's output changes, so caches written by older code are not reused.
_PARSER_VERSION = 1


# --------------------------------------------------------------------------- piano roll


def to_multihot(
    steps: Sequence[Sequence[int]], low: int = PIANO_LOW, high: int = PIANO_HIGH
) -> Tensor:
    """Chorale -> multi-hot piano roll over MIDI low..high (inclusive), float32.

    roll[t, p - low] = 1 for every pitch p sounding at step t.    steps: T lists -> (T, P),
    P = high - low + 1 (88 with the defaults). A pitch outside low..high raises DataError
    naming the step, since silently dropping notes would change the music being modelled.
    """
    if not 0 <= low <= high <= 127:
        raise RnnkitError(
            f"piano-roll range must satisfy 0 <= low <= high <= 127, got {low}..{high}"
        )
    P = high - low + 1
    roll = torch.zeros(len(steps), P)  # (T, P)
    for t, pitches in enumerate(steps):
        for p in pitches:
            if not low <= p <= high:
                raise DataError(
                    f"step {t} (0-based): pitch {p} is outside the piano-roll range {low}..{high}"
                )
            roll[t, p - low] = 1.0
    return roll


def from_multihot(frames: Tensor, low: int = PIANO_LOW, threshold: float = 0.5) -> Steps:
    """Piano roll (T, P) -> chorale: step t holds low + k for every k with frames[t, k] >= threshold.

    Works on binary rolls and on sampled model output alike; probabilities need sampling
    (or thresholding, which is what `threshold` does) first.
    """
    if frames.dim() != 2:
        raise RnnkitError(f"expected a piano roll of shape (T, P), got {tuple(frames.shape)}")
    on = frames.detach().cpu() >= threshold  # (T, P) bool
    return [[low + int(k) for k in torch.nonzero(row).flatten().tolist()] for row in on]


def describe(chorales: Sequence[Sequence[Sequence[int]]]) -> dict[str, int | None]:
    """Summary counts for a list of chorales (what `rnnkit data` prints).

    Keys: count (chorales), steps (total time steps), empty_steps (rests), notes (pitch
    occurrences over all steps), min_length / max_length (steps per chorale), min_pitch /
    max_pitch (MIDI). Lengths and pitches are None when there is nothing to measure.
    """
    lengths = [len(c) for c in chorales]
    pitches = [p for c in chorales for s in c for p in s]
    return {
        "count": len(chorales),
        "steps": sum(lengths),
        "empty_steps": sum(1 for c in chorales for s in c if not s),
        "notes": len(pitches),
        "min_length": min(lengths) if lengths else None,
        "max_length": max(lengths) if lengths else None,
        "min_pitch": min(pitches) if pitches else None,
        "max_pitch": max(pitches) if pitches else None,
    }


# --------------------------------------------------------------------------- JSB reader


def read_jsb(
    path: str | Path, split: str | None = None, *, low: int = 0, high: int = 127
) -> list[Steps]:
    """Read JSB Chorales JSON: list of chorales -> list of steps -> list of MIDI pitches.

    path:  a file holding one split as a JSON array (train.json, valid.json), or the original
           combined file, a JSON object {"train": [...], "valid": [...], "test": [...]}, in
           which case `split` names the part to return.
    low, high: the accepted pitch range, inclusive. The default 0..127 accepts any MIDI
           pitch; pass low=21, high=108 to insist on the 88-key roll that `to_multihot` builds.

    Each step comes back sorted (pitch order carries no meaning; the benchmark files are
    sorted already). Raises DataError naming the file and the 0-based chorale and step for:
    invalid JSON (with its line), wrong nesting, a non-integer pitch, a pitch outside
    low..high, a duplicated pitch within a step, an empty chorale (zero steps).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the file: {e}", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"not valid JSON: {e.msg} (column {e.colno})", path=path, line=e.lineno
        ) from None

    where = ""
    if isinstance(data, dict):
        if split is None:
            raise DataError(
                f"holds a JSON object with keys {sorted(data)}; pass split= one of them "
                "(e.g. read_jsb(path, split='train'))",
                path=path,
            )
        if split not in data:
            raise DataError(f"has no split {split!r}; its keys are {sorted(data)}", path=path)
        data = data[split]
        where = f"split {split!r}, "
    elif split is not None:
        raise DataError(
            f"holds a single split (a JSON array), not an object with a {split!r} key; "
            "call read_jsb without split=",
            path=path,
        )
    return _validate_chorales(data, path, where, low, high)


def _validate_chorales(data: object, path: Path, where: str, low: int, high: int) -> list[Steps]:
    if not isinstance(data, list):
        raise DataError(
            f"{where}expected a JSON array of chorales, got {type(data).__name__}", path=path
        )
    chorales: list[Steps] = []
    for i, chorale in enumerate(data):
        if not isinstance(chorale, list):
            raise DataError(
                f"{where}chorale {i} (0-based): expected an array of time steps, "
                f"got {type(chorale).__name__}",
                path=path,
            )
        if not chorale:
            raise DataError(f"{where}chorale {i} (0-based): has no time steps", path=path)
        steps: Steps = []
        for t, step in enumerate(chorale):
            at = f"{where}chorale {i}, step {t} (0-based)"
            if not isinstance(step, list):
                raise DataError(
                    f"{at}: expected an array of MIDI pitches, got {type(step).__name__} "
                    f"{_short(step)}",
                    path=path,
                )
            for p in step:
                # bool is an int subclass in Python; true/false is never a pitch.
                if not isinstance(p, int) or isinstance(p, bool):
                    raise DataError(
                        f"{at}: expected integer MIDI pitches, got {_short(p)} "
                        f"({type(p).__name__})",
                        path=path,
                    )
                if not low <= p <= high:
                    raise DataError(f"{at}: pitch {p} is outside {low}..{high}", path=path)
            if len(set(step)) != len(step):
                raise DataError(f"{at}: a pitch appears twice in {step}", path=path)
            steps.append(sorted(step))
        chorales.append(steps)
    return chorales


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- music21 corpus


def chorale_split(name: str) -> str:
    """The fixed split of a music21 Bach piece, from its corpus file name alone.

    name is the file stem, e.g. "bwv10.7" for .../corpus/bach/bwv10.7.mxl. With
    h = int(sha256(name as UTF-8).hexdigest(), 16):  h % 10 == 0 -> "test",
    h % 10 == 1 -> "valid", otherwise "train" (about 10 / 10 / 80 %). The rule depends on
    neither file order on disk nor the music21 version, only on the name.
    """
    h = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % 10
    return "test" if h == 0 else "valid" if h == 1 else "train"


def parse_chorale(score: Stream, step: float = 1.0) -> Steps:
    """Sample a music21 score onto a grid of `step` quarter lengths (1.0 = quarter notes, as JSB).

    Grid point k sits at score time g_k = phase + k * step, and step k holds every pitch
    sounding at g_k: a note with onset o and duration d sounds at g_k iff o <= g_k < o + d.
    So a held (or tied) note appears on every grid point it covers, a note that starts and
    ends between two grid points (a passing eighth on a quarter grid) does not appear, a
    grid point where every voice rests is an empty step, chords contribute all their
    pitches, unisons between voices collapse to one pitch, and grace notes (zero duration)
    are skipped. All parts are merged; nothing is transposed; repeats are not expanded.

    phase aligns the grid with the bar: for a pickup measure padded by paddingLeft quarter
    lengths, grid points fall where (score time + paddingLeft) is a multiple of step, so a
    quarter grid lands on beats even after an eighth-note upbeat. Without measures phase = 0.
    The grid runs from the first grid point where something sounds (leading all-voice rests,
    some editions' way of writing an upbeat, are dropped) to the end of the last note; rests
    written inside the piece (several editions rest all voices at phrase ends) stay as empty
    steps.
    """
    from music21 import stream  # lazily: the `music` extra

    if not step > 0:
        raise RnnkitError(f"step must be a positive quarter length, got {step}")
    q = _quarter(step)
    phase = Fraction(0)
    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    first = parts[0].getElementsByClass(stream.Measure).first() if parts else None
    if first is not None and first.paddingLeft:
        phase = (-_quarter(first.paddingLeft)) % q

    notes: list[tuple[Fraction, Fraction, list[int]]] = []
    for el in score.flatten().notes:  # offsets in the flat stream are score times
        if el.duration.isGrace or el.duration.quarterLength == 0:
            continue
        onset = _quarter(el.offset)
        notes.append(
            (onset, onset + _quarter(el.duration.quarterLength), [p.midi for p in el.pitches])
        )
    if not notes:
        return []
    end = max(stop for _, stop, _ in notes)
    T = max(math.ceil((end - phase) / q), 0)
    steps: list[set[int]] = [set() for _ in range(T)]
    for onset, stop, pitches in notes:
        # grid points k with onset <= phase + k q < stop
        for k in range(max(math.ceil((onset - phase) / q), 0), math.ceil((stop - phase) / q)):
            steps[k].update(pitches)
    first_sound = next((k for k, s in enumerate(steps) if s), len(steps))
    return [sorted(s) for s in steps[first_sound:]]


def _quarter(x: float | Fraction) -> Fraction:
    # music21 offsets are floats for binary fractions and Fractions for tuplets.
    return Fraction(x).limit_denominator(10_000)


def bach_chorale_files() -> dict[str, Path]:
    """music21's bundled Bach scores by name (file stem), sorted by name.

    Score formats only (.mxl, .musicxml, .xml, .krn; the RomanText analyses are not scores).
    Where a piece ships in two formats (bwv277, bwv281, bwv366 as .krn and .mxl), MusicXML wins.
    """
    try:
        from music21 import corpus
    except ImportError:
        raise RnnkitError(f"the Bach chorales need music21: {_INSTALL_MUSIC}") from None
    preference = {".mxl": 0, ".musicxml": 1, ".xml": 2, ".krn": 3}
    best: dict[str, Path] = {}
    for p in corpus.getComposer("bach"):
        path = Path(p)
        if path.suffix not in preference:
            continue
        old = best.get(path.stem)
        if old is None or preference[path.suffix] < preference[old.suffix]:
            best[path.stem] = path
    return dict(sorted(best.items()))


def load_bach_chorales(
    cache_dir: str | Path | None = None, step: float = 1.0, *, progress: bool = True
) -> dict[str, list[Steps]]:
    """The 4-part Bach chorales bundled with music21, as {"train", "valid", "test"} -> chorales.

    Every Bach score in music21's corpus (`bach_chorale_files`) is parsed; those with exactly
    four parts are kept (pieces with an extra instrumental part are dropped) and sampled by
    `parse_chorale(score, step)`. Within a split, chorales are ordered by file name; the split
    is `chorale_split(name)` (sha256 of the name mod 10: 0 test, 1 valid, else train).

    Parsing the whole corpus takes a minute or more, so the parsed pieces are cached as JSON
    in cache_dir (default: `rnnkit.data.paths.cache_dir()`, i.e. $RNNKIT_CACHE or
    ~/.cache/rnnkit) under a name holding the music21
    version, the step and the parser version; the file is written atomically, and later calls
    read it in well under a second. A missing or unreadable cache is (re)built.
    """
    try:
        import music21
    except ImportError:
        raise RnnkitError(f"the Bach chorales need music21: {_INSTALL_MUSIC}") from None
    if not step > 0:
        raise RnnkitError(f"step must be a positive quarter length, got {step}")
    version = str(getattr(music21, "__version__", music21.VERSION_STR))
    q = _quarter(step)
    step_tag = f"{q.numerator}" if q.denominator == 1 else f"{q.numerator}_{q.denominator}"
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = folder / f"bach-chorales-m21-{version}-step{step_tag}-v{_PARSER_VERSION}.json"

    pieces = _read_cache(cache)
    if pieces is None:
        pieces = _parse_corpus(step, progress)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"music21": version, "step": str(q), "parser": _PARSER_VERSION}
        text = json.dumps({"meta": meta, "pieces": pieces}, separators=(",", ":"))
        with _atomic(cache) as f:
            f.write(text.encode("utf-8"))

    splits: dict[str, list[Steps]] = {s: [] for s in SPLITS}
    for name in sorted(pieces):
        splits[chorale_split(name)].append(pieces[name])
    return splits


def _parse_corpus(step: float, progress: bool) -> dict[str, Steps]:
    from music21 import converter, stream
    from tqdm import tqdm

    pieces: dict[str, Steps] = {}
    files = bach_chorale_files()
    for name, path in tqdm(
        files.items(),
        desc="parsing music21 Bach chorales (cached afterwards)",
        disable=not progress,
    ):
        # forceSource: parse the file itself rather than music21's own pickle cache.
        score = converter.parse(path, forceSource=True)
        if not isinstance(score, stream.Score) or len(score.parts) != 4:
            continue
        steps = parse_chorale(score, step)
        if steps:
            pieces[name] = steps
    return pieces


def _read_cache(cache: Path) -> dict[str, Steps] | None:
    try:
        with cache.open(encoding="utf-8") as f:
            data = json.load(f)
        pieces = data["pieces"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pieces if isinstance(pieces, dict) and pieces else None


@contextmanager
def _atomic(path: Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside `path`, then os.replace it: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- MIDI and plots

_TICKS_PER_STEP = 480


def write_midi(
    steps: Sequence[Sequence[int]],
    path: str | Path,
    *,
    step_seconds: float | None = None,
    bpm: float | None = None,
    velocity: int = 80,
) -> Path:
    """Write a chorale as a playable standard MIDI file (type 1, one track, piano, channel 0).

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

    # (tick, order, message): at equal ticks note_off (order 0) goes before note_on (order 1).
    events: list[tuple[int, int, str, int]] = []
    sounding: set[int] = set()
    for t, pitches in enumerate([*steps, []]):  # the extra empty step closes every note
        now = set(pitches)
        events += [(t * _TICKS_PER_STEP, 0, "note_off", p) for p in sorted(sounding - now)]
        events += [(t * _TICKS_PER_STEP, 1, "note_on", p) for p in sorted(now - sounding)]
        sounding = now
    events.sort()

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=round(seconds * 1_000_000), time=0))
    track.append(mido.Message("program_change", program=0, channel=0, time=0))
    last = 0
    for tick, _, kind, p in events:
        vel = velocity if kind == "note_on" else 0
        track.append(mido.Message(kind, note=p, velocity=vel, channel=0, time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=len(steps) * _TICKS_PER_STEP - last))
    midi = mido.MidiFile(type=1, ticks_per_beat=_TICKS_PER_STEP)
    midi.tracks.append(track)

    path = Path(path)
    with _atomic(path) as f:
        midi.save(file=f)
    return path


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


def plot_piano_roll(
    steps: Sequence[Sequence[int]], path: str | Path, title: str | None = None
) -> Path:
    """Save a chorale as a piano-roll PNG: time step on x, MIDI pitch on y, dark = sounding.

    The pitch axis spans the pitches present (plus a margin); C notes get labelled gridlines.
    Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch), written
    atomically. Returns the path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pitches = [p for s in steps for p in s]
    for p in pitches:
        if not 0 <= p <= 127:
            raise RnnkitError(f"pitch {p} is not a MIDI pitch 0..127")
    low = max(min(pitches) - 2, 0) if pitches else 54
    high = min(max(pitches) + 2, 127) if pitches else 66
    T = max(len(steps), 1)
    roll = to_multihot(steps or [[]], low, high).T.numpy()  # (P, T)

    fig = Figure(figsize=(min(max(T / 8, 6), 24), 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(
        roll,
        aspect="auto",
        origin="lower",
        cmap="Greys",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(-0.5, T - 0.5, low - 0.5, high + 0.5),
    )
    cs = [c for c in range(low, high + 1) if c % 12 == 0]
    ax.set_yticks(cs, [f"C{c // 12 - 1} ({c})" for c in cs])
    ax.grid(axis="y", color="tab:blue", alpha=0.25)
    ax.set_xlabel("time step")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()

    path = Path(path)
    with _atomic(path) as f:
        fig.savefig(f, format="png")
    return path
