"""The write lock: writers queue in order, and bulk jobs leave room for the others.

SQLite lets one writer at a time in; the others sleep and retry (1, 2, 5 ... up to
100 ms between tries) until `busy_timeout`. Taking this lock before BEGIN IMMEDIATE
makes them queue instead, and a bulk job (an import's chunks) pauses between chunks
when others want to write, so a one-click unsubscribe waits for one chunk at most.
"""

import fcntl
import os
import threading
import time
from typing import Self

# A bulk job (an import's chunks) that had writers queued behind its last chunk pauses
# BULK_SHARE_FACTOR times as long as that chunk held the lock (at most
# LONGEST_BULK_PAUSE_SECONDS), so under a steady stream of writes it gets a quarter of
# the lock's time and the others three quarters. Letting only those queued at that
# moment pass gave each web worker one write per chunk: it came back for the next
# just after the job had taken the lock again. A pause of fixed proportion, not
# "until nobody queues for a while", because how long a worker takes between two
# writes depends on how loaded the machine is.
BULK_SHARE_FACTOR = 3
LONGEST_BULK_PAUSE_SECONDS = 0.25
# While others want the lock, a bulk job sizes its chunks to hold it about this long
# (what a one-click request then waits at worst), down to SMALLEST_CHUNK rows: a chunk
# of a fixed size held it 10 ms on a quiet machine and ten times longer on a busy one.
TARGET_CHUNK_SECONDS = 0.02
SMALLEST_CHUNK = 50
# Before each chunk the job also waits, at most this long, while anyone is queued.
GIVE_WAY_SECONDS = 0.05
GIVE_WAY_POLL_SECONDS = 0.001


class WriteLock:
    """An advisory file lock taken around write transactions.

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5 ms
    ...), so two busy workers lose milliseconds per write; a blocked `flock` instead
    wakes the moment the holder lets go. Writers queue here first, then in SQLite.
    One per process and file: threads queue on a thread lock, processes on `flock`
    (which would not keep apart two threads sharing one file description).

    `flock` is not fair: a bulk job that takes the lock again right after letting it
    go wins over a waiter that is woken but not yet running, chunk after chunk. So a
    waiting writer also holds a shared lock on a second file while it waits, and a
    bulk job asks `give_way` before each chunk: it waits while anyone is queued, and
    first pauses after a chunk others queued behind (see `bulk_pause`).
    """

    def __init__(self, database_path: str) -> None:
        self.fd = os.open(f"{database_path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.queue = os.open(f"{database_path}.write-queue", os.O_RDWR | os.O_CREAT, 0o600)
        # Re-entrant: a thread that opens a second connection inside a write fails
        # with "database is locked" after busy_timeout instead of hanging forever.
        self.threads = threading.RLock()
        # The last chunk of a bulk job: how long it held the lock, whether others
        # queued behind it meanwhile.
        self.bulk_held = 0.0
        self.bulk_contended = False

    def __enter__(self) -> Self:
        self.threads.acquire()
        try:
            fcntl.flock(self.queue, fcntl.LOCK_SH)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            finally:
                fcntl.flock(self.queue, fcntl.LOCK_UN)
        except BaseException:
            self.threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.threads.release()

    def queued(self) -> bool:
        """Whether another process waits for the lock right now."""
        try:
            fcntl.flock(self.queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self.queue, fcntl.LOCK_UN)
        return False

    def note_bulk_chunk(self, held: float) -> None:
        """Called by a bulk job before it lets go: its chunk held the lock `held` seconds."""
        self.bulk_held = held
        self.bulk_contended = self.queued()

    def bulk_pause(self) -> float:
        """How long a bulk job pauses before its next chunk (see BULK_SHARE_FACTOR)."""
        if not self.bulk_contended:
            return 0.0
        return min(BULK_SHARE_FACTOR * self.bulk_held, LONGEST_BULK_PAUSE_SECONDS)

    def chunk_rows(self, rows: int, largest: int) -> int:
        """How many rows a bulk job's next chunk should hold, after one of `rows`.

        Uncontended, `largest` (full speed). Otherwise scaled from the last chunk's
        hold towards TARGET_CHUNK_SECONDS, never above `largest` nor more than doubling.
        """
        if not self.bulk_contended:
            return largest
        scaled = int(rows * TARGET_CHUNK_SECONDS / max(self.bulk_held, 1e-6))
        return max(min(SMALLEST_CHUNK, largest), min(scaled, 2 * rows, largest))

    def give_way(self, longest: float) -> bool:
        """Wait while other processes queue for the lock, at most `longest` seconds.

        Returns False when some were still queued at the end. Only a hint (a writer
        may arrive just after): the bounded wait keeps the job moving under a steady
        stream of writes.
        """
        deadline = time.monotonic() + longest
        while self.queued():
            if time.monotonic() >= deadline:
                return False
            time.sleep(GIVE_WAY_POLL_SECONDS)
        return True


_write_locks = {}
_write_locks_guard = threading.Lock()


def write_lock(path: str) -> WriteLock:
    """The process's one `WriteLock` for a database file."""
    with _write_locks_guard:
        lock = _write_locks.get(path)
        if lock is None:
            lock = _write_locks[path] = WriteLock(path)
        return lock
