"""Where write transactions spend their time, for the benches (off unless asked for).

A one-click unsubscribe that answers late has waited somewhere: for a bulk job to
give way, for the write lock, inside its transaction (a checkpoint runs in COMMIT), or
in the flush that makes it durable. Latency percentiles measured under load say how
long, not where, and move with whatever else runs on the machine; these counts do not.
When the environment variable `WEPRODE_WRITE_TIMINGS` names a file, every process
(web workers, `flask` commands) appends one line per write transaction to it:

    pid kind started gave_way lock_wait held committing synced

`kind` is `bulk` (a chunk of an import), `durable` or `plain`; `started` is
`time.monotonic()` (one clock for every process of the machine, so a bench can cut the
lines by phase); the durations are in seconds: `held` is from taking the lock to the
end of COMMIT, `committing` the COMMIT alone (it runs SQLite's automatic checkpoints).
Lines are written a few hundred at a time and when the process exits. Read from the
environment, not the app config:
the timings are taken below the app (a `Database` knows no Flask app), and a bench
sets them for every process it starts at once.
"""

import atexit
import os
import threading
from typing import NamedTuple

ENVIRONMENT_VARIABLE = "WEPRODE_WRITE_TIMINGS"
LINES_PER_WRITE = 256


class Timing(NamedTuple):
    """One write transaction's waits, as a line of the file describes it."""

    pid: int
    kind: str
    started: float
    gave_way: float
    lock_wait: float
    held: float
    committing: float
    synced: float


class TimingLog:
    """The lines of one process, buffered and appended to the file in batches."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: list[str] = []
        self.guard = threading.Lock()
        atexit.register(self.flush)

    def add(self, kind: str, started: float, *durations: float) -> None:
        """Note one transaction: `durations` as in `Timing`, from gave_way to synced."""
        line = " ".join(
            [str(os.getpid()), kind, f"{started:.6f}", *(f"{d:.6f}" for d in durations)]
        )
        with self.guard:
            self.lines.append(line + "\n")
            full = len(self.lines) >= LINES_PER_WRITE
        if full:
            self.flush()

    def flush(self) -> None:
        """Append the buffered lines (one write, so processes do not interleave lines)."""
        with self.guard:
            text, self.lines = "".join(self.lines), []
        if text:
            with open(self.path, "a", encoding="ascii") as out:
                out.write(text)


def from_environment() -> TimingLog | None:
    """The process's log when `WEPRODE_WRITE_TIMINGS` is set, else None (no cost)."""
    path = os.environ.get(ENVIRONMENT_VARIABLE)
    return TimingLog(path) if path else None


def read(path: str) -> list[Timing]:
    """Every line of a timings file, for a bench to summarise."""
    timings = []
    with open(path, encoding="ascii") as lines:
        for line in lines:
            pid, kind, *numbers = line.split()
            timings.append(Timing(int(pid), kind, *map(float, numbers)))
    return timings
