"""Harmonising a melody with a chorale model, and how likely the model finds Bach's own
harmonisations given their melodies.

A model whose frames are predicted highest key first (`key_order="descending"`) puts the top
voice first in every frame: P(frame) = P(keys >= s) · P(keys < s | keys >= s), where s is
the melody's pitch. So a melody fixes the first part of each frame exactly (keys above s
silent, s sounding) and the lower voices are drawn from the model's own conditional given it,
frame by frame, each frame also given every frame before it. A rest in the melody makes the
whole step a rest (chorale voices rest together, at the fermatas' ends).

The model reads left to right, so the lower voices at step t are conditioned on the melody up
to and including t, not on the melody still to come: `harmony_nll` reports exactly that,
sum_t -log P(lower voices<t> | melody<1..t>, lower voices<1..t-1>) per step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.bach_chorales import bach_chorale_files, parse_chorale
from rnnkit.data.batch import Batch
from rnnkit.data.melody import Melody, parse_melody, top_voice
from rnnkit.data.midi import read_midi_pitches
from rnnkit.data.piano_roll import PIANO_HIGH, PIANO_KEYS, PIANO_LOW, from_multihot
from rnnkit.errors import RnnkitError
from rnnkit.models.language_model import LanguageModel

_NOTE_LIKE = re.compile(r"^([A-Ga-g][#b]*-?\d|[rR])(:\d+)?$")  # one note name, e.g. G4 or B4:2


def can_harmonise(model: LanguageModel) -> bool:
    """Whether the model predicts each frame's keys jointly, highest first: the melody first."""
    return model.V is not None and model.descending


def check_harmoniser(model: LanguageModel) -> None:
    """Refuse a model that cannot harmonise (`can_harmonise`), saying how to train one."""
    if not can_harmonise(model):
        raise RnnkitError(
            "this model predicts the keys of a frame lowest first, so it cannot be given the top "
            "voice: train it with --key-order descending (the jsb and default presets do)"
        )


def read_melody(spec: str) -> Melody:
    """A melody from a MIDI file (its highest note each beat), a Bach chorale of music21's
    corpus by name (its soprano, e.g. bwv66.6), or note names ("G4 G4 A4 B4:2 r")."""
    path = Path(spec)
    if path.suffix.lower() in (".mid", ".midi") or path.is_file():
        melody = top_voice(read_midi_pitches(path))
    elif " " not in spec.strip() and (corpus := bach_chorale_files()).get(spec):
        from music21 import converter

        melody = top_voice(parse_chorale(converter.parse(str(corpus[spec]))))
    elif " " not in spec.strip() and not _NOTE_LIKE.match(spec.strip()):
        raise RnnkitError(
            f"--melody {spec}: not a MIDI file, a chorale of music21's corpus (such as "
            'bwv66.6) or note names (such as "G4 G4 A4 B4:2")'
        )
    else:
        melody = parse_melody(spec)
    if not any(p is not None for p in melody):
        raise RnnkitError(f"--melody {spec}: no notes to harmonise")
    for i, p in enumerate(melody):
        if p is not None and not PIANO_LOW <= p <= PIANO_HIGH:
            raise RnnkitError(
                f"--melody: beat {i + 1} has MIDI pitch {p}, outside the piano's keys "
                f"({PIANO_LOW}-{PIANO_HIGH})"
            )
    return melody


def melody_keys(melody: Sequence[int | None]) -> Tensor:
    """The keys a melody fixes, (T, 88): 1 at the melody's pitch, 0 above it (and on a rest's
    every key), NaN below it (free: the lower voices)."""
    fixed = torch.zeros(len(melody), PIANO_KEYS)
    for t, pitch in enumerate(melody):
        if pitch is not None:
            fixed[t, : pitch - PIANO_LOW] = float("nan")
            fixed[t, pitch - PIANO_LOW] = 1.0
    return fixed


def harmonise(
    model: LanguageModel,
    melody: Sequence[int | None],
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
) -> list[list[int]]:
    """The melody with lower voices sampled under it, one step per beat; its top voice is the
    melody exactly."""
    return harmonisations(model, melody, temperature, top_k, seed)[0]


def harmonisations(
    model: LanguageModel,
    melody: Sequence[int | None],
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    samples: int = 1,
) -> list[list[list[int]]]:
    """`samples` independent harmonisations of one melody, sampled together as one batch
    (`LanguageModel.generate_batch`, the melody's keys fixed in every row); one is
    `harmonise`'s."""
    check_harmoniser(model)
    generator = torch.Generator().manual_seed(seed)
    start = torch.zeros(1, PIANO_KEYS)
    fixed = melody_keys(melody)  # (T, 88), shared by every row
    frames = model.generate_batch(
        len(melody), [start] * samples, temperature, top_k, generator, fixed=fixed
    )  # (samples, T, 88)
    return [from_multihot(piece) for piece in frames]


def melody_mask(targets: Tensor) -> Tensor:
    """(B, T, 88) 1 on the keys a frame's melody decides (its top note and the keys above,
    every key of a silent frame), 0 on the keys below the top note."""
    keys = torch.arange(targets.shape[-1], device=targets.device)  # (88,)
    sounding = torch.where(targets > 0, keys, -1)  # (B, T, 88)
    top = sounding.max(dim=-1, keepdim=True).values  # (B, T, 1), -1 for a rest
    return (keys >= top).to(targets.dtype)  # a rest's top is -1: every key


def harmony_nll(model: LanguageModel, batches: Iterable[Batch]) -> dict[str, float]:
    """Per step, in nats, over next-frame batches of chorales (`music.frame_examples`): the
    whole frame's NLL, the melody's part, and the lower voices' part given the melody
    (sum_t -log P(lower<t> | melody<1..t>, frames<1..t-1>) / steps)."""
    check_harmoniser(model)
    device = model.head.W_ya.device
    melody, harmony, steps = 0.0, 0.0, 0.0
    model.eval()
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device)
            z = model(batch).logits  # (B, T, 88) within-frame logits
            y = batch.targets
            assert y is not None
            nll = F.binary_cross_entropy_with_logits(z, y, reduction="none")  # (B, T, 88)
            nll = nll * batch.mask.unsqueeze(-1)
            mask = melody_mask(y)
            melody += float((nll * mask).sum())
            harmony += float((nll * (1 - mask)).sum())
            steps += float(batch.mask.sum())
    return {
        "nll_per_step": (melody + harmony) / steps,
        "melody_nll_per_step": melody / steps,
        "harmony_nll_per_step": harmony / steps,
    }
