"""The Bach chorales bundled with music21, parsed offline onto a grid, split and cached.

`load_bach_chorales` parses every 4-part Bach score of music21's corpus with `parse_chorale`
(onto a fixed grid of quarter lengths), splits the pieces by a fixed hash of their name
(`chorale_split`) and caches the result as JSON. music21 is imported inside the functions
that need it, so this module imports without the `music` extra.
"""

from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.data.atomic import atomic_write
from rnnkit.data.paths import cache_dir as default_cache_dir
from rnnkit.data.piano_roll import Steps
from rnnkit.errors import RnnkitError

if TYPE_CHECKING:
    from music21.stream import Stream

SPLITS = ("train", "valid", "test")

_INSTALL_MUSIC = "pip install 'rnnkit[music]'"
# Bump when parse_chorale's output changes, so caches written by older code are not reused.
_PARSER_VERSION = 1


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
        with atomic_write(cache) as f:
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


__all__ = [
    "SPLITS",
    "bach_chorale_files",
    "chorale_split",
    "load_bach_chorales",
    "parse_chorale",
]
