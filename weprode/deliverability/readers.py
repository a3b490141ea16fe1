"""Reading many reports at once: the parsing of a bulk ingest, in worker processes.

Parsing a report (MIME, flufl.bounce's detectors, searching for our tags) is pure and
is most of an ingest's cost (see `reading`), so an mbox, a Maildir or an IMAP folder
is read by a pool of worker processes while this process checks signatures and
writes to the database: one writer, short transactions, as before. Results come
back in the order the messages went in, so lines and numbers do not change.

Memory stays flat: only a few tasks per worker are in flight at any time, however
large the mailbox. A handful of messages (Postfix piping one bounce) is read in this
process: starting workers would cost more than it saves (see `pool_context` for how
they start). If a worker dies (out of memory, killed), the rest is read in this process: a
slower ingest, never a lost or doubled report.
"""

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice
from typing import Any, Self, TypeVar

from . import verp
from .reading import Reading, Unreadable, read_all, read_safely

Key = TypeVar("Key")
# Below this many messages, one process reads them all.
POOL_THRESHOLD = 200
# Messages per task handed to a worker: enough to make the hand-over cheap.
TASK_SIZE = 50
# Tasks waiting or running per worker: keeps every worker busy, bounds memory.
TASKS_PER_WORKER = 4

logger = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per CPU this process may use: the parent mostly waits on SQLite."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def from_config(config: Mapping[str, Any], workers: int | None = None) -> "Readers":
    """Readers for this site: `workers` processes, else BOUNCE_INGEST_WORKERS (0: one
    per CPU), with the site's bounce address."""
    if workers is None:
        workers = int(config.get("BOUNCE_INGEST_WORKERS") or 0)
    address = verp.split_address(str(config.get("BOUNCE_ADDRESS") or ""))
    return Readers(workers or default_workers(), address)


def pool_context() -> multiprocessing.context.BaseContext:
    """How workers start: forked from this process when it runs a single thread.

    A fork starts at once, with everything imported. With other threads running (the
    campaigns worker, a test's SMTP sink) a fork could copy a lock some thread holds
    and hang: workers then come from a fork server, started once with `reading`
    imported (slower to start, safe).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["weprode.deliverability.reading"])
        return context
    return multiprocessing.get_context("spawn")


class Readers:
    """Reads messages, in `workers` processes when there are enough of them.

    Use as a context manager: the pool (started on first need) is shut down on exit.
    `workers` 1 (or less) reads everything in this process.
    """

    def __init__(
        self,
        workers: int,
        bounce_address: tuple[str, str] | None,
        threshold: int = POOL_THRESHOLD,
    ) -> None:
        self.workers = workers
        self.bounce_address = bounce_address
        self.threshold = threshold
        self.pool: ProcessPoolExecutor | None = None
        self.broken = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def read(
        self, messages: Iterable[tuple[Key, bytes]]
    ) -> Iterator[tuple[Key, bytes, Reading | Unreadable]]:
        """(key, raw, what it reads as) for each (key, raw), in order."""
        messages = iter(messages)
        head = list(islice(messages, self.threshold))
        few = len(head) < self.threshold and self.pool is None
        if self.workers <= 1 or self.broken or few:
            for key, raw in chain(head, messages):
                yield key, raw, read_safely(raw, self.bounce_address)
            return
        yield from self.read_in_pool(chain(head, messages))

    def read_in_pool(
        self, messages: Iterator[tuple[Key, bytes]]
    ) -> Iterator[tuple[Key, bytes, Reading | Unreadable]]:
        """Hand tasks of TASK_SIZE messages to the pool, a bounded number ahead."""
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=pool_context())
        in_flight: deque[tuple[list[tuple[Key, bytes]], Future | None]] = deque()
        while True:
            while len(in_flight) < self.workers * TASKS_PER_WORKER:
                task = list(islice(messages, TASK_SIZE))
                if not task:
                    break
                in_flight.append((task, self.submit(task)))
            if not in_flight:
                return
            task, future = in_flight.popleft()
            for (key, raw), read in zip(task, self.result(task, future), strict=True):
                yield key, raw, read

    def submit(self, task: list[tuple[Key, bytes]]) -> Future | None:
        """The task handed to a worker; None when the pool is broken."""
        if self.broken or self.pool is None:
            return None
        try:
            return self.pool.submit(read_all, [raw for _, raw in task], self.bounce_address)
        except BrokenProcessPool:
            self.set_broken()
            return None

    def result(
        self, task: list[tuple[Key, bytes]], future: Future | None
    ) -> list[Reading | Unreadable]:
        """The worker's readings of a task; read here when the worker died."""
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool:
                self.set_broken()
        return [read_safely(raw, self.bounce_address) for _, raw in task]

    def set_broken(self) -> None:
        """A worker died: read the rest in this process."""
        if not self.broken:
            logger.warning("bounces: a reading worker died; reading on in this process")
        self.broken = True
