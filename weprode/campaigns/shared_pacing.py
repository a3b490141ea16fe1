"""Provider limits held for the sum of a campaign's sending processes.

With CAMPAIGN_SENDER_PROCESSES above 1 (see `processes`), each process has its own
`pacing.Pacer`; a provider's `connections` and `per_second`, the send's
CAMPAIGN_MESSAGES_PER_SECOND and a provider's "slow down" must still hold for all of
them together, not per process. The holder creates this state in anonymous shared
memory before it forks, so every process sees the same numbers:

- the next free sending slot per provider (and one for the whole send), on the
  system-wide monotonic clock: two processes never take the same slot;
- each process's open sessions per provider, in a row of its own, so the holder can
  zero the row of a process that was killed (its sessions died with it);
- whether a provider throttled us in this pass.

The lock is an `flock` on a file beside the journals rather than a
`multiprocessing.Lock`: the kernel releases an flock when its holder dies, while a
semaphore held by a process killed with -9 would stay taken for ever and freeze the
others. Each process opens the file itself after the fork (flock is per open file),
and a thread lock keeps its own threads apart. Critical sections are a few array
reads and writes; nothing here touches the database.
"""

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import RawArray
from pathlib import Path

# The slot of the send as a whole (CAMPAIGN_MESSAGES_PER_SECOND).
WHOLE_SEND = ""


class SharedPacing:
    """Slots, session counts and throttles of one send, shared by its processes."""

    def __init__(self, providers: list[str], processes: int, lock_path: Path) -> None:
        keys = [*dict.fromkeys(providers), WHOLE_SEND]
        self.index = {key: position for position, key in enumerate(keys)}
        self.width = len(keys)
        self.processes = processes
        self.next_slot = RawArray("d", self.width)
        self.throttled = RawArray("b", self.width)
        self.busy = RawArray("i", self.width * processes)
        self.lock_path = lock_path
        self.member = 0
        self.fd: int | None = None
        self.thread_lock = threading.Lock()

    def join(self, member: int) -> None:
        """Become process number `member` (call in that process, after the fork)."""
        self.member = member
        self.thread_lock = threading.Lock()
        self.lock_path.parent.mkdir(mode=0o700, exist_ok=True)
        self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        """Close this process's lock file (the file stays for the others)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def knows(self, key: str) -> bool:
        """True for the providers of the send (and WHOLE_SEND)."""
        return key in self.index

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock of every process of the send."""
        with self.thread_lock:
            if self.fd is None:
                raise RuntimeError("SharedPacing.join() was not called in this process")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def sessions(self, provider: str) -> int:
        """Sessions of every process serving `provider` now."""
        column = self.index[provider]
        return sum(self.busy[row * self.width + column] for row in range(self.processes))

    def take_session(self, provider: str, allowed: int) -> bool:
        """One more session for `provider` if all processes together stay within
        `allowed` (0: no limit); True when taken."""
        with self.locked():
            if allowed and self.sessions(provider) >= allowed:
                return False
            self.busy[self.member * self.width + self.index[provider]] += 1
            return True

    def give_back_session(self, provider: str) -> None:
        """A session of this process is done with `provider`."""
        with self.locked():
            self.busy[self.member * self.width + self.index[provider]] -= 1

    def forget(self, member: int) -> None:
        """Process `member` is dead: its sessions are no more (the holder calls this).

        No lock: the dead process was the row's only writer, and a reader that sees
        the row half zeroed only counts too many sessions for an instant.
        """
        for column in range(self.width):
            self.busy[member * self.width + column] = 0

    def reserve_slot(self, key: str, rate: float) -> float:
        """The monotonic time at which the caller may send its message of `key`, at
        most `rate` a second over every process."""
        column = self.index[key]
        with self.locked():
            slot = max(self.next_slot[column], time.monotonic())
            self.next_slot[column] = slot + 1.0 / rate
        return slot

    def throttle(self, provider: str) -> None:
        """`provider` said "slow down": every process leaves it for this pass."""
        self.throttled[self.index[provider]] = 1

    def is_throttled(self, provider: str) -> bool:
        """True once some process was told to slow down by `provider` (a one-byte read,
        no lock: polled before each message)."""
        column = self.index.get(provider)
        return column is not None and bool(self.throttled[column])
