"""The public data sets the recipes use, where each comes from, and `fetch`, which downloads
one into the data folder with a SHA-256 check.

Every data set is fetched from its original public location (or a copy pinned at a commit,
where the original changes over time) and checked against SHA-256 digests written here:

- `sha256`, the digest of the downloaded file, where it is known; otherwise the digest is
  printed for the user to pin and
- `files`, the digests of the files made from the download (the very files of the benchmark
  data folder whose README gives them), checked after they are made.

A data set with neither (`pinned` False) is fetched only when the caller accepts an
unverified download or gives the digest. CoNLL-2003 has no legal public location (its text is
Reuters RCV1, licensed for research only): `fetch` says how to get it instead.

The files go to `data_root()` (`<cache>/data`, see `rnnkit.data.paths`) in the layout the
recipes read: `<root>/<name>/...`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data import dataset_files as make
from rnnkit.data.download import download, download_unverified, sha256_file
from rnnkit.data.imdb import IMDB_SHA256, IMDB_URL
from rnnkit.data.paths import data_root
from rnnkit.errors import DataError, RnnkitError

Derive = Callable[[Path, Path], None]
"""derive(download, folder): make the data set's files in `folder` from the download."""


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    source: str  # the citation and where the files come from
    license: str
    used_by: str  # the recipe that trains on it ("" when none does yet)
    local: str  # the file or folder the recipe reads, relative to the data root
    url: str | None  # None: no legal public location (see `manual`)
    sha256: str | None  # of the download; None: not known here (printed for the user to pin)
    derive: Derive | None = None  # None only where there is no url
    files: Mapping[str, str] = field(default_factory=dict)  # made file -> sha256
    download_name: str | None = None  # the download's name in the cache (default: the url's)
    manual: str = ""  # how to get it when it cannot be fetched

    @property
    def pinned(self) -> bool:
        """Whether a fetch checks a SHA-256 written here (of the download or of its files)."""
        return self.url is not None and (self.sha256 is not None or bool(self.files))


_AEON = "https://files.pythonhosted.org/packages/py3/a/aeon/aeon-1.6.0-py3-none-any.whl"
_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/molecular-biology"

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "tinyshakespeare",
            "Tiny Shakespeare, 1.1 M characters (character language model)",
            "karpathy/char-rnn data/tinyshakespeare/input.txt at commit 6f9487a; A. Karpathy, "
            "The Unreasonable Effectiveness of Recurrent Neural Networks (2015)",
            "public-domain text (char-rnn: MIT)",
            "text",
            "tinyshakespeare/input.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/"
            "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            make.copy_as("input.txt"),
        ),
        Dataset(
            "jsb-chorales",
            "JSB Chorales, 382 Bach chorales in quarter notes, train/valid/test (music)",
            "czhuang/JSB-Chorales-dataset jsb-chorales-quarter.json at commit 9a7f733; "
            "Boulanger-Lewandowski, Bengio and Vincent, ICML 2012",
            "public-domain music",
            "music --preset jsb",
            "jsb-chorales",
            "https://raw.githubusercontent.com/czhuang/JSB-Chorales-dataset/"
            "9a7f733ddb4ed91f48da64ac7f0f621c34aadd4d/jsb-chorales-quarter.json",
            None,
            make.jsb_splits,
            {
                "train.json": "1d333d0b312cc6f53c0bb422dd157793c177f9c62503fd3cdf7be2c8b74e6da0",
                "valid.json": "66b20dcaa3c43fd904669ba666cad655094623b23107047da662a3bbb8c16e55",
            },
        ),
        Dataset(
            "imdb",
            "IMDB movie reviews, 25,000 train + 25,000 test, pos/neg (sentiment)",
            "aclImdb_v1.tar.gz from the Stanford AI Lab; Maas et al., ACL 2011",
            "no stated license; research benchmark",
            "sentiment",
            "imdb/train.tsv.gz",
            IMDB_URL,
            IMDB_SHA256,
            make.imdb_tsv,
        ),
        Dataset(
            "conll2003",
            "CoNLL-2003 English named entities (NER)",
            "Tjong Kim Sang and De Meulder, CoNLL 2003, https://www.clips.uantwerpen.be/conll2003/ner/",
            "annotations free; text from Reuters RCV1 (research-use agreement, not "
            "redistributable)",
            "ner",
            "conll2003/eng.train",
            None,
            None,
            files={
                "eng.train": "c99b26852dabf57ca9d30a0e892b84544cc8962003151e14a71077c55dc66db5",
                "eng.testa": "f1f6469322876887de1d04acd43c59b02f59d5b02acf42c027132fa1bf349cb2",
            },
            manual="CoNLL-2003 has no legal public download: its English text is the Reuters "
            "corpus RCV1, which NIST lends for research under an agreement "
            "(https://trec.nist.gov/data/reuters/reuters.html). With RCV1, build eng.train and "
            "eng.testa with the shared task's script (https://www.clips.uantwerpen.be/"
            "conll2003/ner/), then pass --train-file and --dev-file, or put them in "
            "$RNNKIT_SHARED_DATA/conll2003/",
        ),
        Dataset(
            "eng-fra",
            "English-French sentence pairs from Tatoeba, 2017-09-29 release (translation)",
            "genimind/seq2seq fra-eng.zip at commit 4f3f8eb (manythings.org/anki, tatoeba.org)",
            "CC BY 2.0 FR (attribution: manythings.org/anki and tatoeba.org)",
            "translate",
            "eng-fra/train.txt",
            "https://raw.githubusercontent.com/genimind/seq2seq/"
            "4f3f8eb0adde54fcc8b89394336b002e7961244c/fra-eng.zip",
            None,
            make.eng_fra_split,
            {"train.txt": "8687cb192d8c4d5fb41f7db918a1052232465d327c209235861ddacd588f331a"},
        ),
        Dataset(
            "dna-splice",
            "Primate splice-junction DNA, 3,190 windows of 60 nt, EI/IE/N (classification)",
            "UCI Molecular Biology (Splice-junction Gene Sequences); Noordewier, Towell and "
            "Shavlik, NIPS 3 (1991)",
            "CC BY 4.0 (UCI)",
            "dna",
            "dna-splice/train.tsv",
            f"{_UCI}/splice-junction-gene-sequences/splice.data",
            None,
            make.uci_split,
            {"train.tsv": "d5694336071ce27b56716f749b221f6cf3461c13e166035c38503706473515a7"},
        ),
        Dataset(
            "dna-promoters",
            "E. coli promoters, 106 sequences of 57 nt, +/- (classification)",
            "UCI Molecular Biology (Promoter Gene Sequences); Towell, Shavlik and Noordewier, "
            "AAAI-90",
            "CC BY 4.0 (UCI)",
            "dna",
            "dna-promoters/train.tsv",
            f"{_UCI}/promoter-gene-sequences/promoters.data",
            None,
            make.uci_split,
            {"train.tsv": "811c33255b8e0c65556029a1ef6195f72302870302474553ecd362fa03002550"},
        ),
        Dataset(
            "fsdd",
            "Free Spoken Digit Dataset, 3,000 recordings of digits, 8 kHz WAV (speech)",
            "Jakobovski/free-spoken-digit-dataset recordings/ at commit 26eb9aa (Z. Jackson)",
            "CC BY-SA 4.0",
            "",
            "fsdd/recordings",
            "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
            "26eb9aaf76e81b692f806f9140c2d2777410d7a1.tar.gz",
            None,
            make.fsdd_recordings,
        ),
        Dataset(
            "basicmotions",
            "BasicMotions, smart-watch motion, 6 channels x 100 steps, 4 classes (activity)",
            "UEA multivariate archive (Bagnall et al. 2018), as shipped in aeon 1.6.0 on PyPI",
            "research benchmark (UEA/UCI archives)",
            "activity",
            "basicmotions/BasicMotions_TRAIN.ts",
            _AEON,
            None,
            make.aeon_member("BasicMotions"),
            {
                "BasicMotions_TRAIN.ts": "8dc43cc6306cb679c888c01e26f91772ac4441a9"
                "16da43bac8b79734a538b9d6"
            },
        ),
        Dataset(
            "japanese-vowels",
            "Japanese Vowels, 12 LPC coefficients x 7-29 frames, 9 speakers (speaker id)",
            "UCI Japanese Vowels (Kudo, Toyama and Shimbo 1999), as shipped in aeon 1.6.0",
            "research benchmark (UEA/UCI archives)",
            "activity --preset japanese-vowels",
            "japanese-vowels/JapaneseVowels_TRAIN.ts",
            _AEON,
            None,
            make.aeon_member("JapaneseVowels"),
            {
                "JapaneseVowels_TRAIN.ts": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486"
                "bca9260785aeb7d262cc78cd"
            },
        ),
    ]
}


def dataset(name: str) -> Dataset:
    """The registry entry `name`; RnnkitError listing the names when there is none."""
    if name not in DATASETS:
        raise RnnkitError(f"no data set {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def fetch(
    name: str,
    root: str | Path | None = None,
    *,
    sha256: str | None = None,
    unverified: bool = False,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> Path:
    """Download data set `name` into `<root>/<name>/` (default root: `data_root()`), check it,
    and return the path a recipe reads (`root / Dataset.local`).

    sha256:     the download's digest, for a data set whose digest is not written here.
    unverified: accept a download that nothing here can check (its digest is reported, to
                pin with `sha256` next time); without it such a fetch is refused.
    Nothing is left under the real name when a check fails. Raises RnnkitError.
    """
    d = dataset(name)
    if d.url is None or d.derive is None:
        raise RnnkitError(f"cannot fetch {name}: {d.manual}")
    folder_root = Path(root) if root is not None else data_root()
    expected = d.sha256 or sha256
    if expected is None and not d.files and not unverified:
        raise RnnkitError(
            f"{name} has no SHA-256 pinned in rnnkit: fetch it with --unverified (its digest "
            "is printed, to pin with --sha256 next time), or give --sha256 HEX"
        )
    downloads = folder_root / ".downloads"
    filename = d.download_name or None
    if expected is not None:
        got = download(d.url, expected, downloads, filename=filename, progress=progress)
    else:
        got, digest = download_unverified(d.url, downloads, filename=filename, progress=progress)
        report(f"{name}: downloaded {d.url}, sha256 {digest} (not pinned in rnnkit)")
    _make(d, d.derive, got, folder_root / d.name)
    return folder_root / d.local


def _make(d: Dataset, derive: Derive, download_path: Path, folder: Path) -> None:
    """Derive the files in a temporary folder, check them, then move it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{d.name}.", suffix=".part"))
    try:
        derive(download_path, tmp)
        for rel, digest in d.files.items():
            path = tmp / rel
            actual = sha256_file(path) if path.is_file() else "missing"
            if actual != digest:
                raise DataError(
                    f"{d.name}: {rel} made from the download has sha256 {actual}, expected "
                    f"{digest}; the download is not the published data set, nothing was kept",
                    path=download_path,
                )
        if folder.exists():
            shutil.rmtree(folder)
        tmp.replace(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def status(d: Dataset, root: Path | None) -> str:
    """'present' when the recipe's file is under `root` (as it is, or gzip-compressed as the
    benchmark folder keeps some: eng-fra/train.txt.gz), else 'missing'."""
    if root is None:
        return "missing"
    found = (root / d.local).exists() or (root / f"{d.local}.gz").exists()
    return "present" if found else "missing"


def describe(d: Dataset) -> dict[str, object]:
    """The registry entry as JSON (for `rnnkit data list --json`)."""
    return {
        "name": d.name,
        "description": d.description,
        "source": d.source,
        "license": d.license,
        "used_by": d.used_by,
        "local": d.local,
        "url": d.url,
        "sha256": d.sha256,
        "files": dict(d.files),
        "pinned": d.pinned,
        "fetchable": d.url is not None,
    }


__all__ = ["DATASETS", "Dataset", "dataset", "describe", "fetch", "status"]
