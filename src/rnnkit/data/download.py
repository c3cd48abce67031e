"""Fetch a data file once, verify it, and keep it in the cache; unpack archives safely.

`download` trusts nothing it has not hashed: a cached file is used only when its SHA-256 matches,
a fresh download is streamed to a temporary file in the cache folder and renamed into place
(atomically, so a crash never leaves a half-written file under the real name) only after its
SHA-256 matches. Only the standard library's urllib is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

from rnnkit.data.paths import cache_dir as default_cache_dir
from rnnkit.errors import DataError, RnnkitError

_CHUNK = 1 << 20  # 1 MiB
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _filename_from_url(url: str) -> str:
    name = urllib.parse.unquote(PurePosixPath(urllib.parse.urlparse(url).path).name)
    if not name:
        raise RnnkitError(f"cannot tell a file name from {url}; pass filename=")
    return name


def download(
    url: str,
    sha256: str,
    cache_dir: str | Path | None = None,
    filename: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Return the path of the file at `url` in the cache, downloading it only when needed.

    url:       http(s) (or any scheme urllib opens) address of the file.
    sha256:    its expected hex SHA-256 digest; required, so every file is verified.
    cache_dir: where to keep it; default $RNNKIT_CACHE or ~/.cache/rnnkit.
    filename:  name in the cache; default the last part of the url's path.
    progress:  show a tqdm progress bar while downloading.
    timeout:   seconds to wait for the server on connect and on each read.

    Raises RnnkitError naming the url on a network or HTTP error, and naming the url, expected
    and actual digest on a checksum mismatch (nothing is left in the cache then).
    """
    expected = _checked_digest(sha256)
    name = _checked_filename(filename if filename is not None else _filename_from_url(url))
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / name
    if target.is_file() and sha256_file(target) == expected:
        return target

    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _fetch(url, out, name, progress, timeout)
        if actual != expected:
            raise RnnkitError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; "
                "the file was not kept"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def download_unverified(
    url: str,
    cache_dir: str | Path | None = None,
    filename: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> tuple[Path, str]:
    """Download `url` into the cache whatever its content; return (path, its hex SHA-256).

    For a file whose digest nobody has published: the caller reports the digest so that the
    user can pin it (and pass it to `download` from then on). Always downloads afresh.
    """
    name = _checked_filename(filename if filename is not None else _filename_from_url(url))
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(url, out, name, progress, timeout)
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)
    return folder / name, digest


def _checked_digest(sha256: str) -> str:
    """The expected digest in lower case; RnnkitError when it is not 64 hex digits."""
    expected = sha256.strip().lower()
    if not _SHA256.fullmatch(expected):
        raise RnnkitError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    return expected


def _checked_filename(name: str) -> str:
    """`name` when it is a plain file name (no folder, not . or ..); RnnkitError otherwise."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise RnnkitError(f"filename must be a plain file name, got {name!r}")
    return name


def _fetch(url: str, out: BinaryIO, name: str, progress: bool, timeout: float) -> str:
    """Stream `url` into `out` (a progress bar labelled `name`); return the hex SHA-256.

    Every network or HTTP error becomes an RnnkitError naming the url.
    """
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = response.headers.get("Content-Length")
            with tqdm(
                total=int(size) if size and size.isdigit() else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                disable=not progress,
                leave=False,
            ) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise RnnkitError(f"could not download {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise RnnkitError(f"could not download {url}: {e.reason}") from None
    except (OSError, ValueError) as e:  # timeouts, resets, unknown url types
        raise RnnkitError(f"could not download {url}: {e}") from None
    return digest.hexdigest()


def _check_member(archive: Path, name: str, root: Path) -> None:
    """Reject a member name that is absolute or resolves outside `root`."""
    if (
        name.startswith(("/", "\\"))
        or PurePosixPath(name).is_absolute()
        or re.match(r"[A-Za-z]:", name)
    ):
        raise DataError(f"member {name!r} has an absolute path; refusing to extract", path=archive)
    resolved = (root / name).resolve()
    if resolved != root and root not in resolved.parents:
        raise DataError(
            f"member {name!r} would be written outside {root}; refusing to extract", path=archive
        )


def extract_archive(path: str | Path, dest: str | Path) -> Path:
    """Unpack a .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz or .zip archive into `dest`; return dest.

    Every member is checked before anything is written: a member whose path is absolute or
    escapes `dest` (`../evil`), and a tar link pointing outside `dest`, raise DataError naming
    the archive. Tar device files and FIFOs are rejected too.
    """
    archive = Path(path)
    root = Path(dest).resolve()
    if not archive.is_file():
        raise DataError("archive not found", path=archive)
    root.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(archive, info.filename, root)
            zf.extractall(root)
        return root
    if not tarfile.is_tarfile(archive):
        raise DataError("not a zip or tar archive", path=archive)
    with tarfile.open(archive) as tf:  # compression detected from the content
        members = tf.getmembers()
        for member in members:
            _check_member(archive, member.name, root)
            if member.issym() or member.islnk():
                link_base = (root / member.name).parent if member.issym() else root
                if PurePosixPath(member.linkname).is_absolute():
                    raise DataError(
                        f"link {member.name!r} points to the absolute path {member.linkname!r}; "
                        "refusing to extract",
                        path=archive,
                    )
                target = (link_base / member.linkname).resolve()
                if target != root and root not in target.parents:
                    raise DataError(
                        f"link {member.name!r} -> {member.linkname!r} points outside {root}; "
                        "refusing to extract",
                        path=archive,
                    )
            elif not (member.isfile() or member.isdir()):
                raise DataError(
                    f"member {member.name!r} is a device file or FIFO; refusing to extract",
                    path=archive,
                )
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
            tf.extractall(root, members=members, filter="data")
        else:  # pragma: no cover - older Pythons rely on the checks above
            tf.extractall(root, members=members)
    return root


__all__ = ["download", "download_unverified", "extract_archive", "sha256_file"]
