"""Chorales as an engraved score image (PNG) through LilyPond, or a piano roll where LilyPond
is not installed.

The score is the four-part one `rnnkit.data.musicxml.write_musicxml` writes (soprano, alto,
tenor, bass; a voice's repeated step one longer note), converted by LilyPond's own
`musicxml2ly` and engraved by `lilypond --png` on one page as tall as the music needs. Going
through MusicXML keeps one score builder for both outputs, and musicxml2ly ships and is
versioned with LilyPond itself, whereas music21's LilyPond exporter is minimally maintained
and needs music21's environment pointed at the program. Both programs run in a temporary
folder with their console output captured.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rnnkit.data.atomic import write_bytes
from rnnkit.data.musicxml import write_musicxml
from rnnkit.data.piano_roll import plot_piano_roll
from rnnkit.data.programs import run_program
from rnnkit.errors import RnnkitError

RESOLUTION = 110
"""Dots per inch of the engraved PNG (an A4-wide page is about 900 pixels across)."""

ScoreKind = Literal["score", "piano roll"]


def lilypond_programs() -> tuple[str, str] | None:
    """(lilypond, musicxml2ly) as found on PATH, musicxml2ly also beside lilypond; None when
    either is missing, which counts as LilyPond not being installed."""
    lilypond = shutil.which("lilypond")
    if lilypond is None:
        return None
    beside = Path(lilypond).with_name("musicxml2ly")
    converter = shutil.which("musicxml2ly") or (str(beside) if beside.is_file() else None)
    return (lilypond, converter) if converter else None


def write_score_png(
    steps: Sequence[Sequence[int]],
    path: str | Path,
    *,
    bpm: float = 80.0,
    title: str | None = None,
) -> ScoreKind:
    """Write the chorale as an engraved four-part score PNG where LilyPond is installed
    (`lilypond_programs`), else as a piano roll (`plot_piano_roll`) at the same path; returns
    which one was written, "score" or "piano roll". Written atomically. A LilyPond failure is
    a one-line RnnkitError naming `path` and the error line of its log."""
    path = Path(path)
    programs = lilypond_programs()
    if programs is None:
        plot_piano_roll(steps, path, title=title)
        return "piano roll"
    lilypond, musicxml2ly = programs
    if not path.parent.is_dir():  # before LilyPond's work, as every writer here does
        raise RnnkitError(f"{path}: cannot write: no folder {path.parent}")
    with tempfile.TemporaryDirectory(prefix="rnnkit-lilypond-") as tmp:
        folder = Path(tmp)
        write_musicxml(steps, folder / "score.musicxml", bpm=bpm)
        run_program(
            [musicxml2ly, "--output=score.ly", "score.musicxml"],
            cwd=folder,
            name="musicxml2ly",
            target=path,
        )
        with open(folder / "score.ly", "a", encoding="utf-8") as ly:
            ly.write(_page_settings(title))
        run_program(
            [lilypond, "--png", f"-dresolution={RESOLUTION}", "--output=score", "score.ly"],
            cwd=folder,
            name="LilyPond",
            target=path,
        )
        png = folder / "score.png"
        if not png.is_file():
            raise RnnkitError(f"{path}: LilyPond failed: it wrote no score.png")
        write_bytes(path, png.read_bytes())
    return "score"


def _page_settings(title: str | None) -> str:
    """LilyPond blocks appended to musicxml2ly's file; later settings win. They replace
    music21's placeholder title and composer, drop LilyPond's tagline, and put the whole
    piece on one page as long as the music, so that one PNG holds all of it."""
    text = (title or "").replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'\n\\header {{ title = "{text}" composer = ##f tagline = ##f }}\n'
        "\\paper { page-breaking = #ly:one-page-breaking }\n"
    )


__all__ = ["RESOLUTION", "ScoreKind", "lilypond_programs", "write_score_png"]
