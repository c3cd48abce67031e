"""Micro-batching: the requests for one model that arrive within a few milliseconds of each
other run as one model call.

Each model has a queue of jobs (one per request: its texts and a future for their results).
A collector task takes the first waiting job, then keeps taking jobs until `wait_s` has passed
since it took the first or the batch holds `max_batch` texts; the texts of all of them go to
the model in one call, on the model's own worker thread (the event loop keeps accepting
requests meanwhile, and those form the next batch), and each job gets its own slice of the
results. When the batched call fails on a bad text, each job is run alone, so that the error
goes to the request that sent the text and the others still get their answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rnnkit.errors import RnnkitError

log = logging.getLogger(__name__)

BatchFunction = Callable[[list[str]], list[dict[str, Any]]]


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future[list[dict[str, Any]]]


class MicroBatcher:
    """Runs `run(texts) -> one result per text` for requests, batching close arrivals.

    `calls` counts the model calls and `batched_texts` the texts they took, so that
    calls < requests proves that requests were batched.
    """

    def __init__(self, run: BatchFunction, wait_s: float, max_batch: int) -> None:
        self.run = run
        self.wait_s = wait_s
        self.max_batch = max_batch
        self.calls = 0
        self.batched_texts = 0
        # One thread per model: its calls never overlap, and the event loop stays free.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-model")
        self._queue: asyncio.Queue[_Job] | None = None
        self._collector: asyncio.Task[None] | None = None

    async def submit(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """The results for `texts`, in order, once the batch holding them has run."""
        loop = asyncio.get_running_loop()
        if self.wait_s <= 0:  # no batching: one model call per request
            return await self._call(list(texts))
        if self._queue is None or self._collector is None or self._collector.done():
            self._queue = asyncio.Queue()
            self._collector = loop.create_task(self._collect(self._queue))
        job = _Job(list(texts), loop.create_future())
        self._queue.put_nowait(job)
        return await job.future

    async def _call(self, texts: list[str]) -> list[dict[str, Any]]:
        self.calls += 1
        self.batched_texts += len(texts)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.run, texts)

    async def _collect(self, queue: asyncio.Queue[_Job]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await queue.get()]
            size = len(jobs[0].texts)
            deadline = loop.time() + self.wait_s
            while size < self.max_batch:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(queue.get(), left)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.texts)
            await self._run_jobs([j for j in jobs if not j.future.done()])

    async def _run_jobs(self, jobs: list[_Job]) -> None:
        if not jobs:  # every one of them timed out while waiting
            return
        try:
            results = await self._call([t for job in jobs for t in job.texts])
        except RnnkitError as e:
            if len(jobs) == 1:
                _settle(jobs[0], error=e)
                return
            for job in jobs:  # find the request whose text failed: each alone
                await self._run_jobs([job])
            return
        except Exception as e:  # a bug, not bad input: every request of the batch fails
            log.exception("model call failed")
            for job in jobs:
                _settle(job, error=e)
            return
        at = 0
        for job in jobs:
            _settle(job, results[at : at + len(job.texts)])
            at += len(job.texts)

    def close(self) -> None:
        if self._collector is not None:
            self._collector.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _settle(
    job: _Job, results: list[dict[str, Any]] | None = None, error: BaseException | None = None
) -> None:
    """Give a job its results or error, unless it was cancelled (its request timed out)."""
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(results or [])
