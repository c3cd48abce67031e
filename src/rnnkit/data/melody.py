"""A melody: one MIDI pitch (or None for a rest) per beat, from note names or a piece's top voice.

Note names are written the scientific way, C4 = middle C = MIDI 60: a letter A-G, then any
number of sharps (#) or flats (b), then the octave (-1..9), e.g. "G4 G4 A4 B4 F#4 Bb3". A
name lasts one beat; "B4:2" lasts two (the melody holds it); "r" (or "r:2") is a rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rnnkit.errors import RnnkitError

Melody = list[int | None]
"""One entry per beat: the melody's MIDI pitch, or None where it rests."""

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_TOKEN = re.compile(
    r"^(?:(?P<rest>[rR])|(?P<letter>[A-Ga-g])(?P<acc>[#b]*)(?P<octave>-?\d))"
    r"(?::(?P<beats>\d+))?$"
)


def parse_melody(text: str) -> Melody:
    """The melody note names describe (see the module docstring), one entry per beat."""
    melody: Melody = []
    for i, token in enumerate(text.split(), start=1):
        match = _TOKEN.match(token)
        if match is None:
            raise RnnkitError(
                f"melody note {i} {token!r}: expected a note name such as G4, F#4 or Bb3 "
                "(C4 = middle C), optionally :BEATS (B4:2), or r for a rest"
            )
        beats = int(match["beats"] or 1)
        if beats < 1:
            raise RnnkitError(f"melody note {i} {token!r}: a note lasts at least one beat")
        pitch = None
        if not match["rest"]:
            accidentals = match["acc"].count("#") - match["acc"].count("b")
            pitch = (
                12 * (int(match["octave"]) + 1) + _LETTERS[match["letter"].upper()] + accidentals
            )
            if not 0 <= pitch <= 127:
                raise RnnkitError(f"melody note {i} {token!r}: MIDI pitch {pitch} is not in 0..127")
        melody += [pitch] * beats
    if not any(p is not None for p in melody):
        raise RnnkitError('the melody has no notes: give note names such as "G4 G4 A4 B4"')
    return melody


def top_voice(steps: Sequence[Sequence[int]]) -> Melody:
    """A piece's melody: the highest pitch of each step, None where the step is a rest."""
    return [max(step) if step else None for step in steps]
