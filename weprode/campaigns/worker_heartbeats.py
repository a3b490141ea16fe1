"""The campaign worker's heartbeat: proof, for /healthz, that its loop still turns.

`flask campaigns worker` records a beat at every pass of its loop and, while one pass
is spent sending a long campaign, about every BEAT_WHILE_SENDING from that send's
progress callback (which runs in the loop's own thread: a beat means the loop itself
is alive, not just some thread of the process). One row per process; a worker drops
the rows nobody refreshed for FORGET_AFTER, so restarts leave no trail.
"""

import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ..db import Database, isoformat, parse_timestamp, utcnow, write_transaction

BEAT_WHILE_SENDING = timedelta(seconds=30)
FORGET_AFTER = timedelta(days=7)


def record(db: Database, now: datetime, started_at: datetime) -> None:
    """Record that this process's worker loop is alive at `now`."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO worker_heartbeats (host, pid, started_at, beat_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (host, pid) DO UPDATE SET beat_at = excluded.beat_at",
            [socket.gethostname(), os.getpid(), isoformat(started_at), isoformat(now)],
        )
        db.execute(
            "DELETE FROM worker_heartbeats WHERE beat_at < ?", [isoformat(now - FORGET_AFTER)]
        )


def recorder_while_sending(db: Database, started_at: datetime) -> Callable[[object], None]:
    """A send's progress callback that records a beat at most every BEAT_WHILE_SENDING."""
    last = time.monotonic()

    def beat(_figures: object) -> None:
        nonlocal last
        if time.monotonic() - last >= BEAT_WHILE_SENDING.total_seconds():
            record(db, utcnow(), started_at)
            last = time.monotonic()

    return beat


def latest(db: Database) -> datetime | None:
    """The newest beat of any worker, or None when no worker ever ran."""
    return parse_timestamp(db.execute("SELECT max(beat_at) FROM worker_heartbeats").fetchone()[0])
