"""`rnnkit ... music`: the chorale model's evaluate options and `generate music`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_checkpoint_option,
    add_device_options,
    add_samples_option,
    add_sampling_options,
    device_from,
)
from rnnkit.tasks import music as recipe


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        choices=["music21", "jsb"],
        help="data source (default: jsb with --data, else the one the model was trained on)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=0,
        metavar="N",
        help="also sample N pieces of 64 steps and print their statistics (notes per frame, "
        "the lowest and highest voice's range, notes in the key, repeated frames, rests) "
        "beside the split's (default: 0, none)",
    )
    p.add_argument(
        "--ensemble",
        nargs="+",
        default=(),
        metavar="CHECKPOINT",
        help="also score the ensemble of --checkpoint and these music models: each step's "
        "distribution the mean of the models' (train runs with different --seed)",
    )


def add_render_options(p: argparse.ArgumentParser) -> None:
    """generate music's sound and score options."""
    p.add_argument(
        "--wav",
        metavar="FILE",
        help="also write the piece as sound: a 16-bit mono WAV from a small built-in "
        "synthesiser, at --bpm",
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        default=recipe.SAMPLE_RATE,
        metavar="HZ",
        help="samples per second of the --wav file (default: %(default)s)",
    )
    p.add_argument(
        "--soundfont",
        metavar="FILE.sf2",
        help="render the --wav file through FluidSynth with this SoundFont instead (needs the "
        "fluidsynth program)",
    )
    p.add_argument(
        "--score",
        metavar="FILE",
        help="also write a PNG of the four-part score, engraved by LilyPond (the lilypond "
        "program); without LilyPond, the piece's piano roll",
    )


def add_piece_options(p: argparse.ArgumentParser) -> None:
    """--key, --prime and --melody: what the piece starts from and which key it ends in."""
    p.add_argument(
        "--key",
        metavar="NAME",
        help="transpose the piece (prime or melody included) so that its estimated key's tonic "
        "is NAME (C, F#, Bb, ...; 'G minor' also checks the piece is minor), by at most a "
        "tritone",
    )
    p.add_argument(
        "--prime",
        metavar="MIDI|NAME",
        help="continue this piece: a MIDI file (one frame per beat) or a Bach chorale of "
        "music21's corpus by name (e.g. bwv66.6); the output starts with it unchanged and "
        "--steps more follow",
    )
    p.add_argument(
        "--melody",
        metavar="NOTES|MIDI|NAME",
        help='harmonise this melody instead: note names ("G4 G4 A4 B4:2 r", C4 = middle C, '
        ":2 two beats, r a rest), a MIDI file (its highest note each beat) or a corpus chorale "
        "(its soprano); it stays the top voice exactly and the model writes the voices below",
    )


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = verbs["generate"].add_parser(
        "music",
        help=recipe.HELP,
        description="Sample a chorale; write MIDI and a piano-roll PNG (and, when asked, MusicXML, "
        "a WAV and a score PNG).",
    )
    add_checkpoint_option(p, "music")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="quarter notes to generate (default: 64; with --melody, one per beat of it)",
    )
    p.add_argument(
        "--out",
        default="sample.mid",
        help="MIDI file to write (default: sample.mid); the PNG goes beside it",
    )
    add_sampling_options(
        p,
        top_k_help="the most notes sounding at once (the maximum polyphony)",
        seed_help="random seed: the same seed gives the same piece",
        top_k_alias="--max-notes",
    )
    p.add_argument("--bpm", type=float, default=80.0, help="tempo of the MIDI file (default: 80)")
    p.add_argument(
        "--musicxml",
        metavar="FILE",
        help="also write the piece as a four-part MusicXML score (MuseScore and other "
        "notation programs open it)",
    )
    add_render_options(p)
    p.add_argument(
        "--one-track",
        action="store_true",
        help="write every note to one MIDI track (default: four tracks, soprano, alto, tenor "
        "and bass, each step's notes dealt to them by pitch)",
    )
    add_piece_options(p)
    add_samples_option(
        p,
        "pieces",
        "; with N > 1 every file is numbered: out.mid -> out-1.mid ... out-N.mid, and likewise "
        "the PNG and each --musicxml, --wav and --score file",
    )
    add_device_options(p)
    p.set_defaults(run=generate)


def generate(args: argparse.Namespace) -> int:
    pieces = recipe.generate_pieces(
        args.checkpoint,
        steps=args.steps,
        out=args.out,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        bpm=args.bpm,
        device=device_from(args),
        prime=args.prime,
        key=args.key,
        voices=not args.one_track,
        musicxml=args.musicxml,
        wav=args.wav,
        score=args.score,
        soundfont=args.soundfont,
        sample_rate=args.sample_rate,
        melody=args.melody,
        samples=args.samples,
    )
    for i, steps in enumerate(pieces, start=1):
        print(wrote_line(args, steps, i, len(pieces)))
    return 0


def wrote_line(args: argparse.Namespace, steps: list[list[int]], i: int, n: int) -> str:
    """What was written for piece i of n: its MIDI file, then its other files."""
    out, notes = recipe.numbered(args.out, i, n), sum(len(s) for s in steps)
    files = [str(recipe.numbered(f, i, n)) for f in (args.musicxml, args.wav, args.score) if f]
    roll = str(out.with_suffix(".png"))
    score = recipe.numbered(args.score, i, n) if args.score else None
    if score is None or score.resolve() != Path(roll).resolve():
        files.append(roll)
    more = "".join(f", {f}" for f in files[:-1]) + f" and {files[-1]}"
    return f"wrote {out} ({len(steps)} steps, {notes} notes){more}"


COMMANDS = TaskCommands(
    evaluate_help="Negative log-likelihood per time step of a chorale model.",
    data_help="JSB Chorales folder (train.json, valid.json[, test.json]); default: the data "
    "the model was trained on",
    split_help="train, valid or test (default: valid)",
    add_evaluate_options=add_evaluate_options,
    evaluate_options=("source", "samples", "ensemble"),
    add_commands=add_commands,
)
