"""Group commit: one WAL flush makes every durable commit made before it safe.

A durable transaction (consent, erasure) returns only once its commit is on disk. The
flush (`fdatasync` of the WAL) costs more than the transaction itself, and covers
everything written to the file before it starts. So when several threads of a
process (gunicorn's gthread workers) commit while one flushes, they need not flush
one after the other: the next flush covers all of them. Each commit takes a ticket
in commit order; a thread waits for the flush lock, returns at once when a flush
that began after its commit already ended, else flushes for itself and for every
commit ticketed before its flush began. Across processes nothing is shared: each
flushes for its own commits.
"""

import os
import threading
from collections.abc import Callable


class GroupCommit:
    """Commit tickets and the flush they wait for, for one database file in one process."""

    def __init__(self) -> None:
        self.tickets = threading.Lock()
        self.flushing = threading.Lock()
        self.committed = 0  # tickets given, one per durable commit, in commit order
        self.flushed = 0  # every commit up to this ticket is on disk

    def ticket(self) -> int:
        """Called right after a durable commit returned: its place in commit order."""
        with self.tickets:
            self.committed += 1
            return self.committed

    def wait_until_flushed(self, ticket: int, flush: Callable[[], None]) -> None:
        """Return once commit `ticket` is on disk, running `flush` if no one did since."""
        with self.flushing:
            if self.flushed >= ticket:
                return
            with self.tickets:
                covered = self.committed  # commits finished before this flush starts
            flush()
            self.flushed = covered


_groups: dict[tuple[int, str], GroupCommit] = {}
_groups_guard = threading.Lock()


def group_for(path: str) -> GroupCommit:
    """This process's group for the database at `path` (a forked child gets its own:
    a lock copied while held by another thread would never be released)."""
    key = (os.getpid(), path)
    with _groups_guard:
        group = _groups.get(key)
        if group is None:
            group = _groups[key] = GroupCommit()
        return group
