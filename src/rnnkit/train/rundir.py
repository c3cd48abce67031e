"""Run directories: one run owns `out_dir` at a time, and nothing in it is lost by accident.

A run directory holds `last/`, `best/`, `metrics.jsonl`, `tb/` and `loss.png`. Training into
one that already holds a run is refused unless the caller says what to do with it:

    resume=True                     continue the run it holds
    TrainConfig.overwrite=True      delete that run's files (only those), then start afresh

Only the run that owns the directory writes into it. It owns it by holding `DIR/.lock`, a
small JSON file with its pid and host, locked with `flock` while the run lives: a second run
into the same directory fails at once naming the owner's pid. A lock file left by a run that
died (its flock released by the kernel, or, without flock, its pid no longer running on this
host) is stale, and is taken over with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import IO, Any

from rnnkit.errors import RnnkitError
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import DistInfo, broadcast_object

try:  # POSIX; elsewhere the lock falls back to checking the owner's pid
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("rnnkit.train")

LOCK_FILE = ".lock"
# What makes a directory hold a run (the atomic-save siblings count: a crash can leave them).
RUN_MARKERS = ("last", "best", "metrics.jsonl", ".last.old", ".best.old")
# Everything a run writes, removed by an overwrite (nothing else in the directory is touched).
RUN_FILES = RUN_MARKERS + ("tb", "loss.png", ".last.tmp", ".best.tmp")


def run_contents(out: Path) -> list[str]:
    """The names in `out` that show it holds a run (empty when it holds none)."""
    return [name for name in RUN_MARKERS if (out / name).exists()]


def next_free_run_dir(out: str | Path) -> Path:
    """`out` when it holds no run, else the first of `out-2`, `out-3`, ... that holds none:
    where a run goes when the user named no directory, so that an earlier one is kept."""
    base = Path(out)
    candidate, n = base, 1
    while run_contents(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def check_run_dir(out: str | Path | None, resume: bool, overwrite: bool) -> None:
    """Refuse what would lose a run: an empty path, resume together with overwrite, and a
    directory that holds a run when neither resume nor overwrite says what to do with it."""
    if out is None:
        if resume:
            raise RnnkitError("resume needs a run directory (out_dir) that holds a 'last' run")
        return
    if str(out) == "":
        raise RnnkitError("the run directory is an empty path; give a directory (--out DIR)")
    if resume and overwrite:
        raise RnnkitError(
            "--resume and --overwrite contradict each other: resume continues the run in the "
            "directory, overwrite deletes it"
        )
    found = run_contents(Path(out))
    if found and not (resume or overwrite):
        raise RnnkitError(
            f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it or "
            "--overwrite to replace it, or choose another --out"
        )


def claim_run_dir(
    out: Path | None, resume: bool, config: TrainConfig, dist: DistInfo
) -> RunLock | None:
    """Check and lock the run directory `out` (None: this process writes nothing) before
    anything is written, deleting the old run on config.overwrite; under torchrun only rank 0
    passes `out`, and every rank learns whether the run may go on (the same error on all)."""
    lock, error = None, None
    if out is not None:
        try:
            check_run_dir(out, resume, config.overwrite)
            lock = RunLock(out).acquire()
            check_run_dir(out, resume, config.overwrite)  # again, now that this run owns it
            if config.overwrite:
                remove_run(out)
        except RnnkitError as e:
            if lock is not None:
                lock.release()
            error = str(e)
    error = broadcast_object(error, dist)
    if error is not None:
        raise RnnkitError(error)
    return lock


def remove_run(out: Path) -> None:
    """Delete the files of the run in `out` (only those rnnkit writes)."""
    for name in RUN_FILES:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


class RunLock:
    """`DIR/.lock` held by this process (see the module docstring)."""

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out) / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # retried only when another process replaced the file meanwhile
            f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while the run lives
            if not self._lock(f):
                owner = _describe(_read_owner(self.path))
                f.close()
                raise RnnkitError(
                    f"{self.path.parent} is in use by another run ({owner}; lock file "
                    f"{self.path}); wait for it to finish or choose another --out"
                )
            if _same_file(f, self.path):
                break
            f.close()
        else:  # pragma: no cover - a lock file replaced ten times in a row
            raise RnnkitError(f"{self.path}: could not take the lock; try again")
        previous = _read_owner(self.path)
        if previous.get("pid") is not None:
            log.warning(
                "%s: taking over the stale lock of %s (no longer running)",
                self.path,
                _describe(previous),
            )
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is None:
            return
        try:
            self.path.unlink()  # before unlocking: a waiting opener then sees a new file
        except FileNotFoundError:
            pass
        self._file.close()
        self._file = None

    def _lock(self, f: IO[str]) -> bool:
        """Whether this process now holds the lock on the open file `f`."""
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
        owner = _read_owner(self.path)  # pragma: no cover - without flock: the pid alone
        return not _alive(owner)  # pragma: no cover


def _same_file(f: IO[str], path: Path) -> bool:
    """Whether the open file is still the one at `path` (not unlinked by its last owner)."""
    try:
        return os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _read_owner(path: Path) -> dict[str, Any]:
    try:
        owner = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(owner: dict[str, Any]) -> str:
    if owner.get("pid") is None:
        return "owner unknown"
    return f"pid {owner['pid']} on {owner.get('host', 'an unknown host')}"


def _alive(owner: dict[str, Any]) -> bool:  # pragma: no cover - used without flock only
    """Whether the recorded owner may still run (another host's pid cannot be checked)."""
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
