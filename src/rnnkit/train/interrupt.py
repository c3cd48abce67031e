"""Ctrl-C and SIGTERM during training: the first asks the loop to stop after the current step
(so that it can save where it is), the second aborts at once, except inside a checkpoint write
(`StopRequest.finishing`), which completes first, so that what the run said it saves is saved."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

log = logging.getLogger("rnnkit.train")


class StopRequest:
    """Turns the first SIGINT/SIGTERM into a flag checked between steps; the second aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}
        self._writing = False  # inside `finishing()`: an abort waits for the block's end
        self._abort = False  # an abort came during `finishing()`

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def finishing(self) -> Iterator[None]:
        """A block (a checkpoint write) that a second interrupt does not cut short: the abort
        (KeyboardInterrupt) is raised when the block ends."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self._abort:
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            if not self._writing:
                raise KeyboardInterrupt
            self._abort = True
            log.warning("aborting once the checkpoint being written is complete")
            return
        self.requested = True
        log.warning("interrupted: saving after this step (interrupt again to abort at once)")
