"""How each fetched data set's files are made from its download (see `rnnkit.data.datasets`).

Each maker is `make(download, folder)`: it writes into the empty `folder`. Where the benchmark
data folder's README says how its files were cut from the original (every 5th or 10th line
held out), the maker cuts the same way, so that the README's SHA-256 of the train file checks
the result; the held-out part is written beside it as the test file.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from rnnkit.data.download import extract_archive
from rnnkit.data.imdb import read_aclimdb
from rnnkit.errors import DataError

Maker = Callable[[Path, Path], None]


def copy_as(name: str) -> Maker:
    """The download itself, under `name`."""

    def make(download: Path, folder: Path) -> None:
        shutil.copyfile(download, folder / name)

    return make


def jsb_splits(download: Path, folder: Path) -> None:
    """{"train": ..., "valid": ..., "test": ...} -> train.json, valid.json, test.json, each a
    compact JSON list of chorales of steps of integer MIDI pitches."""
    try:
        splits = json.loads(download.read_text(encoding="utf-8"))
        for split in ("train", "valid", "test"):
            chorales = [[[int(p) for p in step] for step in c] for c in splits[split]]
            text = json.dumps(chorales, separators=(",", ":"))
            (folder / f"{split}.json").write_text(text, encoding="utf-8")
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"not the JSB Chorales JSON ({e})", path=download) from None


def imdb_tsv(download: Path, folder: Path) -> None:
    """aclImdb_v1.tar.gz -> aclImdb/ and train.tsv.gz (`label<TAB>text` lines: all pos then
    all neg by review id, shuffled with random.Random(0), as the benchmark file was made)."""
    extract_archive(download, folder)
    root = folder / "aclImdb"
    if not root.is_dir():
        raise DataError("the archive has no aclImdb/ folder", path=download)
    for split in ("train", "test"):
        examples = read_aclimdb(root, split)
        rows = [(e.label, e.text) for label in ("pos", "neg") for e in examples if e.label == label]
        random.Random(0).shuffle(rows)
        with gzip.GzipFile(folder / f"{split}.tsv.gz", "wb", mtime=0) as f:
            f.write("".join(f"{label}\t{text}\n" for label, text in rows).encode("utf-8"))


def _held_out(lines: list[str], every: int) -> tuple[list[str], list[str]]:
    """(train, test): line i goes to test when i % every == every - 1."""
    train = [line for i, line in enumerate(lines) if i % every != every - 1]
    test = [line for i, line in enumerate(lines) if i % every == every - 1]
    return train, test


def eng_fra_split(download: Path, folder: Path) -> None:
    """fra-eng.zip (fra.txt, _about.txt) -> train.txt, test.txt (every 10th line), _about.txt."""
    try:
        with zipfile.ZipFile(download) as zf:
            lines = zf.read("fra.txt").decode("utf-8").splitlines(keepends=True)
            about = zf.read("_about.txt")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as e:
        raise DataError(f"not the fra-eng archive ({e})", path=download) from None
    train, test = _held_out(lines, 10)
    (folder / "train.txt").write_text("".join(train), encoding="utf-8", newline="")
    (folder / "test.txt").write_text("".join(test), encoding="utf-8", newline="")
    (folder / "_about.txt").write_bytes(about)


def uci_split(download: Path, folder: Path) -> None:
    """UCI `class, name, sequence` lines -> train.tsv and test.tsv (every 5th) of
    `class<TAB>sequence`, fields stripped of spaces and tabs, the name dropped."""
    rows = []
    for n, line in enumerate(download.read_text(encoding="ascii").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            raise DataError(f"line {n}: expected 'class, name, sequence'", path=download)
        rows.append(f"{fields[0]}\t{fields[2]}\n")
    train, test = _held_out(rows, 5)
    (folder / "train.tsv").write_text("".join(train), encoding="ascii", newline="")
    (folder / "test.tsv").write_text("".join(test), encoding="ascii", newline="")


def fsdd_recordings(download: Path, folder: Path) -> None:
    """The repository archive -> recordings/ (all 3,000; index 0-4 is the official test set)."""
    unpacked = folder / ".unpacked"
    extract_archive(download, unpacked)
    found = sorted(unpacked.glob("*/recordings"))
    if not found:
        raise DataError("the archive has no recordings/ folder", path=download)
    found[0].replace(folder / "recordings")
    shutil.rmtree(unpacked)


def aeon_member(problem: str) -> Maker:
    """The aeon wheel -> `<problem>_TRAIN.ts` and `<problem>_TEST.ts` from its data folder."""

    def make(download: Path, folder: Path) -> None:
        try:
            with zipfile.ZipFile(download) as zf:
                for split in ("TRAIN", "TEST"):
                    name = f"{problem}_{split}.ts"
                    data = zf.read(f"aeon/datasets/data/{problem}/{name}")
                    (folder / name).write_bytes(data)
        except (zipfile.BadZipFile, KeyError) as e:
            raise DataError(f"not the aeon 1.6.0 wheel ({e})", path=download) from None

    return make
