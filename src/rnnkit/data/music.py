"""Polyphonic music as piano rolls: Bach chorales for the one-to-many (generation) task.

One import for the music task; each concern lives in its own module:

    rnnkit.data.piano_roll     Steps (a chorale: steps -> sorted MIDI pitches), the 88-key
                               roll x<t>[p - 21] = 1 (`to_multihot`, `from_multihot`),
                               `describe`, `plot_piano_roll` (PNG)
    rnnkit.data.jsb            `read_jsb`: the JSB Chorales JSON benchmark files of
                               Boulanger-Lewandowski et al. (2012)
    rnnkit.data.bach_chorales  `load_bach_chorales`: music21's Bach chorales parsed offline by
                               `parse_chorale`, split by `chorale_split`, cached as JSON
    rnnkit.data.midi           `write_midi` (a playable MIDI file), `read_midi_pitches`

The usual metric is the negative log-likelihood per time step of the next frame,
ŷ<t> = sigmoid(W_ya a<t> + b_y), one Bernoulli per key. music21, mido and matplotlib are
imported inside the functions that need them, so this module imports without the `music`
extra.
"""

from __future__ import annotations

from rnnkit.data.bach_chorales import (
    SPLITS,
    bach_chorale_files,
    chorale_split,
    load_bach_chorales,
    parse_chorale,
)
from rnnkit.data.jsb import read_jsb
from rnnkit.data.midi import read_midi_pitches, write_midi
from rnnkit.data.piano_roll import (
    PIANO_HIGH,
    PIANO_LOW,
    Steps,
    describe,
    from_multihot,
    plot_piano_roll,
    to_multihot,
)

__all__ = [
    "PIANO_HIGH",
    "PIANO_LOW",
    "SPLITS",
    "Steps",
    "bach_chorale_files",
    "chorale_split",
    "describe",
    "from_multihot",
    "load_bach_chorales",
    "parse_chorale",
    "plot_piano_roll",
    "read_jsb",
    "read_midi_pitches",
    "to_multihot",
    "write_midi",
]
