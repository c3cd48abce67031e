"""The Free Spoken Digit Dataset's recordings: which files, which digit, which speaker, which
split.

A recording is `{digit}_{speaker}_{index}.wav` (e.g. `7_jackson_32.wav`): the digit spoken,
the speaker's name, and the take, 0-49 for each digit and speaker. The dataset's own split
(its README): takes 0-4 are the test set, 5-49 the training set. The dev splits are carved from
the training takes by fixed rules:

    "takes"      dev = takes 5-9 of every speaker and digit (the test split's rule, moved up),
                 train = takes 10-49; every speaker is on both sides.
    "speaker"    dev = every training take of one speaker (`held_out`), train = the other
                 speakers' training takes: how well the model hears a voice it never heard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnkit.errors import DataError, RnnkitError

DEV_SPLITS = ("takes", "speaker")
TEST_TAKES = range(5)  # the dataset's own test split
DEV_TAKES = range(5, 10)  # the "takes" dev split
_NAME = re.compile(r"^(\d)_([A-Za-z][\w-]*)_(\d+)$")


@dataclass(frozen=True)
class Recording:
    """One FSDD recording: its file, the digit spoken (0-9), the speaker and the take."""

    path: Path
    digit: int
    speaker: str
    take: int


def parse_name(path: Path) -> Recording:
    """The digit, speaker and take a file's name `{digit}_{speaker}_{take}.wav` gives."""
    match = _NAME.match(path.stem)
    if match is None or path.suffix.lower() != ".wav":
        raise DataError("expected a name like 7_jackson_32.wav ({digit}_{speaker}_{take})", path)
    digit, speaker, take = match.groups()
    return Recording(path, int(digit), speaker, int(take))


def list_recordings(folder: str | Path) -> list[Recording]:
    """Every `*.wav` of `folder` (or of its `recordings/` subfolder), sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise RnnkitError(f"{root}: not a folder (expected FSDD's recordings/*.wav)")
    if (root / "recordings").is_dir():
        root = root / "recordings"
    files = sorted(p for p in root.iterdir() if p.suffix.lower() == ".wav")
    if not files:
        raise RnnkitError(f"{root}: no .wav files (expected {{digit}}_{{speaker}}_{{take}}.wav)")
    return [parse_name(p) for p in files]


def split_recordings(
    recordings: Sequence[Recording], dev_split: str = "takes", held_out: str | None = None
) -> dict[str, list[Recording]]:
    """{"train", "dev", "test"} by the rules of the module docstring; "test" holds takes 0-4
    when the folder has them (a fresh download does; the shared copy holds them back)."""
    if dev_split not in DEV_SPLITS:
        raise RnnkitError(f"dev split must be one of {', '.join(DEV_SPLITS)}, got {dev_split!r}")
    test = [r for r in recordings if r.take in TEST_TAKES]
    rest = [r for r in recordings if r.take not in TEST_TAKES]
    if dev_split == "takes":
        dev = [r for r in rest if r.take in DEV_TAKES]
    else:
        speakers = sorted({r.speaker for r in rest})
        if held_out not in speakers:
            raise RnnkitError(
                f"--held-out-speaker must be one of {', '.join(speakers)} with the speaker "
                f"split, got {held_out!r}"
            )
        dev = [r for r in rest if r.speaker == held_out]
    held = set(dev)
    train = [r for r in rest if r not in held]
    if not train or not dev:
        raise RnnkitError(
            f"too few recordings for the {dev_split} split: {len(train)} to train on, "
            f"{len(dev)} to hold out"
        )
    return {"train": train, "dev": dev, "test": test}
