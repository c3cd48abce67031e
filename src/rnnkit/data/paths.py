"""Where rnnkit looks for data: the shared data folder beside the repository, and the cache.

- `shared_data_dir()`: $RNNKIT_SHARED_DATA, else the first `shared/data` found walking up from
  the working directory, then from this file; None when there is none.
- `cache_dir()`: $RNNKIT_CACHE, else ~/.cache/rnnkit (downloads land here).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.errors import RnnkitError

SHARED_DATA_ENV = "RNNKIT_SHARED_DATA"
CACHE_ENV = "RNNKIT_CACHE"


def _find_upwards(start: Path) -> Path | None:
    """The first `<ancestor>/shared/data` directory, checking `start` and each parent in turn."""
    for folder in (start, *start.parents):
        candidate = folder / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def shared_data_dir() -> Path | None:
    """The folder of benchmark data sets (see its README.md), or None when it is absent.

    An explicit, non-empty $RNNKIT_SHARED_DATA wins: its directory is returned, or None when it
    does not exist (so the variable can also switch the shared data off). Otherwise the search
    walks up from the current working directory, then from the installed package, looking for
    a `shared/data` folder (the repository sits beside `shared/`).
    """
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        path = Path(env).expanduser()
        return path.resolve() if path.is_dir() else None
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        found = _find_upwards(start)
        if found is not None:
            return found.resolve()
    return None


def cache_dir() -> Path:
    """The download cache: $RNNKIT_CACHE or ~/.cache/rnnkit (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "rnnkit"


def find_data(given: str | Path | None, shared: str, missing: str) -> Path:
    """The data a recipe uses: the path the user gave, else `shared` (a path relative to the
    shared data folder) when it exists there, else an RnnkitError: `missing` says how to get
    or give the data.

    The one place where every task looks its data up, so that each says the same things.
    """
    if given:
        return Path(given)
    folder = shared_data_dir()
    if folder is not None and (folder / shared).exists():
        return folder / shared
    raise RnnkitError(missing)
