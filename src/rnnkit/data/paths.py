"""Where rnnkit looks for data: the folder the user names, and the cache.

- `shared_data_dir()`: $RNNKIT_SHARED_DATA, else `data_root()` when it exists; None otherwise.
- `data_root()`: `<cache_dir()>/data`, where `rnnkit data fetch NAME` puts data set NAME.
- `cache_dir()`: $RNNKIT_CACHE, else ~/.cache/rnnkit (downloads land here).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.errors import RnnkitError

SHARED_DATA_ENV = "RNNKIT_SHARED_DATA"
CACHE_ENV = "RNNKIT_CACHE"


def shared_data_dir() -> Path | None:
    """The folder of data sets the recipes read by default, or None when there is none.

    $RNNKIT_SHARED_DATA when set and non-empty (None when that directory does not exist, so
    the variable can also switch the data off); otherwise the folder `rnnkit data fetch`
    downloads into, `data_root()`, when it exists. Nothing else is searched: data is never
    picked up from a folder the user did not name.
    """
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        path = Path(env).expanduser()
        return path.resolve() if path.is_dir() else None
    root = data_root()
    return root if root.is_dir() else None


def data_root() -> Path:
    """Where `rnnkit data fetch NAME` puts data set NAME: `<cache_dir()>/data/NAME/`."""
    return cache_dir() / "data"


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
