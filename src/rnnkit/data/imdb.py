"""The IMDB movie reviews of Maas et al. (2011): the aclImdb folders and their download.

    read_aclimdb(root, split)   the original layout: <root>/<split>/{neg,pos}/<id>_<rating>.txt
    download_imdb()             fetch, verify and unpack aclImdb_v1.tar.gz into the cache

The shared `imdb/train.tsv.gz` (label<TAB>review lines) is read by
`rnnkit.data.classification.read_label_tsv`; both sources give the same texts.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from rnnkit.data.download import download, extract_archive
from rnnkit.data.labels import LabelledText, Labels, as_label_set
from rnnkit.data.paths import cache_dir as default_cache_dir
from rnnkit.data.text import read_text
from rnnkit.errors import DataError, RnnkitError

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# The SHA-256 of aclImdb_v1.tar.gz as published and checked by many independent projects.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


_REVIEW_FILE = re.compile(r"(\d+)_(\d+)\.txt")


def _review_order(path: Path) -> tuple[int, int, str]:
    """Sort key: by the numeric review id of `<id>_<rating>.txt`, other names after, by name."""
    m = _REVIEW_FILE.fullmatch(path.name)
    return (0, int(m.group(1)), path.name) if m else (1, 0, path.name)


def _aclimdb_root(root: Path) -> Path:
    """`root` itself, or `root/aclImdb` when `root` is the folder the archive was unpacked in."""
    unpacked_here = (root / "aclImdb").is_dir()
    if unpacked_here and not (root / "train").is_dir() and not (root / "test").is_dir():
        return root / "aclImdb"
    return root


def read_aclimdb(
    root: str | Path, split: str = "train", labels: Labels = None
) -> list[LabelledText]:
    """Read the original aclImdb layout: `<root>/<split>/neg/*.txt`, then `.../pos/*.txt`.

    root:   the `aclImdb` folder (or the folder containing it, as `download_imdb` unpacks it).
    split:  "train" or "test" (the 50,000 unlabelled `train/unsup` reviews are not read).
    labels: None accepts the two folder names; a LabelSet maps them (`LabelSet.sentiment()`).

    Files are read in ascending review id (`<id>_<rating>.txt`), all `neg` then all `pos`.
    Each file is one review; as in the shared `imdb/train.tsv.gz`, U+0085 (a stray
    Windows-1252 ellipsis) becomes `...` and tabs and line breaks become spaces, so both
    sources give the same texts. The example's line is 1.
    """
    if split not in ("train", "test"):
        raise RnnkitError(f"split must be 'train' or 'test', got {split!r}")
    base = _aclimdb_root(Path(root))
    if not base.is_dir():
        raise DataError("aclImdb folder not found", path=base)
    label_set = as_label_set(labels)
    examples: list[LabelledText] = []
    for label in ("neg", "pos"):
        folder = base / split / label
        if not folder.is_dir():
            raise DataError(
                f"no folder {split}/{label}: expected the aclImdb layout "
                "<root>/{train,test}/{neg,pos}/<id>_<rating>.txt",
                path=base,
            )
        if label_set is not None and label not in label_set:
            raise RnnkitError(
                f"the aclImdb folder label {label!r} is not one of {label_set.describe()}"
            )
        name = label if label_set is None else label_set.canonical(label)
        files = sorted(folder.glob("*.txt"), key=_review_order)
        if not files:
            raise DataError("no review files (*.txt)", path=folder)
        for file in files:
            text = read_text(file)
            if "\x85" in text:
                text = text.replace("\x85", "...")
            text = " ".join(text.splitlines()).replace("\t", " ").strip()
            if not text:
                raise DataError("empty review", path=file, line=1)
            examples.append(LabelledText(text, name, str(file), 1))
    return examples


def download_imdb(
    cache_dir: str | Path | None = None,
    *,
    url: str = IMDB_URL,
    sha256: str = IMDB_SHA256,
    progress: bool = True,
) -> Path:
    """Download the aclImdb_v1 archive (about 80 MB) once, verify and unpack it; return its root.

    cache_dir:   the cache root (default $RNNKIT_CACHE or ~/.cache/rnnkit); the archive and
                 the unpacked tree go to `<cache_dir>/imdb/`.
    url, sha256: where to fetch the archive and its expected SHA-256 (default: the Stanford
                 AI Lab release and its published digest); tests point them at a local server.
    progress:    show a download progress bar.

    Returns `<cache_dir>/imdb/aclImdb_v1/aclImdb`, the root to give `read_aclimdb(root, split)`
    or `load_sentiment(root)`. Beside it a marker file holds the archive's digest: when it
    matches, nothing is downloaded, hashed or unpacked again. Unpacking goes to a temporary
    folder renamed into place, so an interrupted run never leaves a half-unpacked tree. Under
    DistributedDataParallel call it on one process first (the others then find the marker).

    Raises RnnkitError on a network error or a checksum mismatch (nothing is kept then), and
    DataError when the archive holds no `aclImdb/` folder.
    """
    folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "imdb"
    final = folder / "aclImdb_v1"
    marker = final / ".rnnkit-sha256"
    root = final / "aclImdb"
    expected = sha256.strip().lower()

    def unpacked() -> bool:
        return marker.is_file() and marker.read_text().strip() == expected and root.is_dir()

    if unpacked():
        return root
    archive = download(
        url, expected, cache_dir=folder, filename="aclImdb_v1.tar.gz", progress=progress
    )
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".aclImdb_v1.", suffix=".part"))
    try:
        extract_archive(archive, tmp)
        if not (tmp / "aclImdb").is_dir():
            raise DataError("the archive has no aclImdb/ folder", path=archive)
        (tmp / marker.name).write_text(expected + "\n")
        if unpacked():  # another process finished first
            return root
        if final.exists():  # a stale unpacking (another archive, or damaged): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


__all__ = ["IMDB_SHA256", "IMDB_URL", "download_imdb", "read_aclimdb"]
