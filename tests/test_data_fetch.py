"""`rnnkit data list|fetch`: the registry's data sets fetched from a local server, checked."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import LocalServer, shared_data

from rnnkit.cli import main
from rnnkit.data.datasets import DATASETS, fetch
from rnnkit.data.download import sha256_file
from rnnkit.data.paths import shared_data_dir
from rnnkit.errors import DataError, RnnkitError


def _serve(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, name: str, body: bytes, **changes: object
) -> None:
    """Serve `body` as data set `name`'s download, its registry entry pointed at the server."""
    (server.root / f"{name}.bin").write_bytes(body)
    entry = replace(DATASETS[name], url=f"{server.url}/{name}.bin", **changes)  # type: ignore[arg-type]
    monkeypatch.setitem(DATASETS, name, entry)


def test_tinyshakespeare_is_fetched_checked_and_then_found(
    local_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
    digest = hashlib.sha256(text).hexdigest()
    _serve(local_server, monkeypatch, "tinyshakespeare", text, sha256=digest)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNKIT_SHARED_DATA", raising=False)
    assert shared_data_dir() is None
    assert main(["data", "fetch", "tinyshakespeare"]) == 0
    path = tmp_path / "cache" / "data" / "tinyshakespeare" / "input.txt"
    assert path.read_bytes() == text
    assert str(path) in capsys.readouterr().out
    assert shared_data_dir() == tmp_path / "cache" / "data"  # the recipes now find it
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "tinyshakespeare  present" in listing and "jsb-chorales     missing" in listing
    # a different file under the same url: refused, nothing replaced
    (local_server.root / "tinyshakespeare.bin").write_bytes(b"forged")
    (tmp_path / "cache" / "data" / ".downloads" / "tinyshakespeare.bin").unlink()
    assert main(["data", "fetch", "tinyshakespeare"]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert path.read_bytes() == text


def test_jsb_files_made_from_the_download_are_checked_against_the_pinned_hashes(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = shared_data() / "jsb-chorales"
    if not (folder / "train.json").is_file():
        pytest.skip("the shared JSB Chorales files are not here")
    splits = {s: json.loads((folder / f"{s}.json").read_text()) for s in ("train", "valid")}
    original = json.dumps({**splits, "test": [[[60.0, 64.0]]]}).encode()  # floats, spaces
    _serve(local_server, monkeypatch, "jsb-chorales", original)
    out = fetch("jsb-chorales", tmp_path, progress=False)
    assert out == tmp_path / "jsb-chorales"
    assert (out / "train.json").read_bytes() == (folder / "train.json").read_bytes()
    assert (out / "test.json").read_text() == "[[[60,64]]]"
    splits["train"][0][0] = [61]  # one note changed: the check fails, nothing is kept
    _serve(local_server, monkeypatch, "jsb-chorales", json.dumps({**splits, "test": []}).encode())
    (tmp_path / ".downloads" / "jsb-chorales.bin").unlink()
    with pytest.raises(DataError, match="train.json made from the download has sha256"):
        fetch("jsb-chorales", tmp_path / "other", progress=False)
    assert not (tmp_path / "other" / "jsb-chorales").exists()


def test_uci_and_eng_fra_are_cut_as_the_benchmark_files(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = [f"EI, NAME-{i},   {'ACGT' * 15}" for i in range(7)]
    files = {"train.tsv": hashlib.sha256(("EI\t" + "ACGT" * 15 + "\n").encode() * 6).hexdigest()}
    _serve(local_server, monkeypatch, "dna-splice", "\n".join(lines).encode() + b"\n", files=files)
    out = fetch("dna-splice", tmp_path, progress=False)
    assert out.read_text().count("\n") == 6  # line 4 (every 5th) is held out
    assert (tmp_path / "dna-splice" / "test.tsv").read_text() == "EI\t" + "ACGT" * 15 + "\n"
    pairs = "".join(f"Go {i}.\tVa {i} !\n" for i in range(20))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fra.txt", pairs)
        zf.writestr("_about.txt", "about")
    kept = "".join(f"Go {i}.\tVa {i} !\n" for i in range(20) if i % 10 != 9).encode()
    files = {"train.txt": hashlib.sha256(kept).hexdigest()}
    _serve(local_server, monkeypatch, "eng-fra", archive.getvalue(), files=files)
    assert fetch("eng-fra", tmp_path, progress=False).read_bytes() == kept


def test_unpinned_data_needs_a_choice_and_conll_says_how_to_get_it(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tf:
        data = b"RIFF"
        info = tarfile.TarInfo("fsdd-26eb9aa/recordings/0_jackson_0.wav")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    body = archive.getvalue()
    _serve(local_server, monkeypatch, "fsdd", body)
    with pytest.raises(
        RnnkitError, match="no SHA-256 pinned in rnnkit: fetch it with --unverified"
    ):
        fetch("fsdd", tmp_path, progress=False)
    assert not local_server.requests  # refused before any download
    reported: list[str] = []
    out = fetch("fsdd", tmp_path, unverified=True, progress=False, report=reported.append)
    assert (out / "0_jackson_0.wav").read_bytes() == b"RIFF"
    assert hashlib.sha256(body).hexdigest() in reported[0]
    with pytest.raises(RnnkitError, match="checksum mismatch"):
        fetch("fsdd", tmp_path / "again", sha256="0" * 64, progress=False)
    with pytest.raises(RnnkitError, match="cannot fetch conll2003: .*--train-file"):
        fetch("conll2003", tmp_path)
    assert not any(d.pinned for d in [DATASETS["fsdd"], DATASETS["conll2003"]])
    assert all(DATASETS[n].pinned for n in ("tinyshakespeare", "imdb", "jsb-chorales", "eng-fra"))


def test_every_entry_is_complete_and_the_local_files_match_the_shared_folder() -> None:
    root = shared_data()
    for d in DATASETS.values():
        assert d.name and d.description and d.source and d.license and d.local
        assert (d.url is None) == (d.derive is None) == bool(d.manual)
        assert d.local.split("/")[0] == d.name
        for rel, digest in d.files.items():  # the pinned files are the benchmark folder's
            path = root / d.name / rel
            if path.is_file():
                assert sha256_file(path) == digest, path


def test_a_gzip_compressed_copy_counts_as_present(tmp_path: Path) -> None:
    from rnnkit.data.datasets import dataset, status

    entry = dataset("eng-fra")
    assert entry.used_by == "translate" and status(entry, tmp_path) == "missing"
    (tmp_path / "eng-fra").mkdir()
    (tmp_path / "eng-fra" / "train.txt.gz").write_bytes(b"")  # the benchmark folder's form
    assert status(entry, tmp_path) == "present"
