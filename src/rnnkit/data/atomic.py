"""Write a file so that readers never see half of it: a temporary file, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rnnkit.errors import RnnkitError


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside `path`, then os.replace it: readers never see half a
    file.

    An OSError on the way (no space left on the device, no permission, a missing folder) is
    an RnnkitError naming `path`, the file the user asked for, not the temporary file."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); the result is an ordinary file
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise RnnkitError(f"{path}: cannot write: {e.strerror or e}") from e
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`atomic_write`), errors naming `path`."""
    with atomic_write(Path(path)) as f:
        f.write(data)


def check_output_path(path: str | Path, option: str) -> Path:
    """Refuse, before any work, a file path that cannot be written: a folder, or a file in a
    folder that does not exist. `option` names where the path came from (`--wav`)."""
    path = Path(path)
    if path.is_dir():
        raise RnnkitError(f"{option} {path}: is a folder; expected a file name")
    if not path.parent.is_dir():
        raise RnnkitError(f"{option} {path}: cannot write: no folder {path.parent}")
    return path


__all__ = ["atomic_write", "check_output_path", "write_bytes"]
