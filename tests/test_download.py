"""Downloads against a real local HTTP server; safe archive extraction; data folder lookup."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LocalServer

from rnnkit.data.download import download, extract_archive, sha256_file
from rnnkit.data.paths import cache_dir, shared_data_dir
from rnnkit.errors import DataError, RnnkitError

PAYLOAD = b"the cat sat on the mat\n" * 5000  # 115 kB: several reads, one progress bar


@pytest.fixture
def server(local_server: LocalServer) -> LocalServer:
    (local_server.root / "corpus.txt").write_bytes(PAYLOAD)
    return local_server


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert sha256_file(path) == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_then_cache_hit_without_network(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = download(f"{server.url}/corpus.txt", digest, cache_dir=cache, progress=False)
    assert path == cache / "corpus.txt"
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["/corpus.txt"]
    assert list(cache.iterdir()) == [path]  # no temporary file left behind

    again = download(f"{server.url}/corpus.txt", digest.upper(), cache_dir=cache, progress=True)
    assert again == path
    assert server.requests == ["/corpus.txt"]  # served from the cache

    path.write_bytes(b"corrupted")  # a damaged cache file is fetched again
    assert download(f"{server.url}/corpus.txt", digest, cache_dir=cache, progress=True) == path
    assert path.read_bytes() == PAYLOAD and len(server.requests) == 2


def test_default_cache_dir_and_filename(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "env-cache"))
    assert cache_dir() == tmp_path / "env-cache"
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = download(f"{server.url}/corpus.txt", digest, filename="renamed.txt", progress=False)
    assert path == tmp_path / "env-cache" / "renamed.txt"
    monkeypatch.delenv("RNNKIT_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "rnnkit"


def test_wrong_checksum_raises_and_keeps_nothing(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wrong = "0" * 64
    actual = hashlib.sha256(PAYLOAD).hexdigest()
    url = f"{server.url}/corpus.txt"
    with pytest.raises(RnnkitError) as info:
        download(url, wrong, cache_dir=cache, progress=False)
    message = str(info.value)
    assert url in message and wrong in message and actual in message
    assert list(cache.iterdir()) == []


def test_http_404_is_a_clear_error(server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"{server.url}/missing.txt"
    with pytest.raises(RnnkitError, match=r"could not download .*missing\.txt: HTTP 404") as info:
        download(url, "a" * 64, cache_dir=cache, progress=False)
    assert "\n" not in str(info.value)
    assert list(cache.iterdir()) == []


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    server = LocalServer(tmp_path)
    url = f"{server.url}/x.txt"
    server.close()  # nothing listens on that port any more
    with pytest.raises(RnnkitError, match="could not download http://127.0.0.1:"):
        download(url, "a" * 64, cache_dir=tmp_path / "cache", progress=False)


def test_bad_arguments() -> None:
    with pytest.raises(RnnkitError, match="64 hexadecimal"):
        download("http://127.0.0.1/x", "abc")
    with pytest.raises(RnnkitError, match="filename="):
        download("http://127.0.0.1/", "a" * 64)
    with pytest.raises(RnnkitError, match="plain file name"):
        download("http://127.0.0.1/x", "a" * 64, filename="../x")


def _tar_gz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(("make", "suffix"), [(_tar_gz, ".tar.gz"), (_zip, ".zip")])
def test_extract_archive(
    make: Callable[[Path, dict[str, bytes]], None], suffix: str, tmp_path: Path
) -> None:
    archive = tmp_path / f"data{suffix}"
    make(archive, {"data/a.txt": b"alpha", "data/sub/b.txt": b"beta"})
    dest = extract_archive(archive, tmp_path / "out")
    assert (dest / "data" / "a.txt").read_bytes() == b"alpha"
    assert (dest / "data" / "sub" / "b.txt").read_bytes() == b"beta"


@pytest.mark.parametrize(("make", "suffix"), [(_tar_gz, ".tar.gz"), (_zip, ".zip")])
@pytest.mark.parametrize("evil", ["../evil", "data/../../evil", "/tmp/evil-abs"])
def test_extract_rejects_escaping_members(
    make: Callable[[Path, dict[str, bytes]], None], suffix: str, evil: str, tmp_path: Path
) -> None:
    archive = tmp_path / f"bad{suffix}"
    make(archive, {"ok.txt": b"fine", evil: b"owned"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(DataError, match="refusing to extract") as info:
        extract_archive(archive, dest)
    assert str(archive) in str(info.value)
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not (dest / "ok.txt").exists()  # checked before anything is written


def test_extract_rejects_symlink_out(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("data/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../outside"
        tf.addfile(info)
    with pytest.raises(DataError, match="points outside"):
        extract_archive(archive, tmp_path / "out")


def test_extract_rejects_non_archive(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("not an archive")
    with pytest.raises(DataError, match="not a zip or tar archive"):
        extract_archive(path, tmp_path / "out")


def test_shared_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RNNKIT_SHARED_DATA", raising=False)
    # a layout like the real one: <root>/repo/... beside <root>/shared/data
    (tmp_path / "shared" / "data").mkdir(parents=True)
    work = tmp_path / "repo" / "src" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    assert shared_data_dir() is None  # never found by walking up from the working directory
    (tmp_path / "cache" / "data").mkdir(parents=True)
    assert shared_data_dir() == tmp_path / "cache" / "data"  # what `rnnkit data fetch` fills

    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(other))
    assert shared_data_dir() == other.resolve()  # the variable wins
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(tmp_path / "does-not-exist"))
    assert shared_data_dir() is None
