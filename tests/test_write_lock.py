"""The write lock leaves room for other writers between a bulk job's chunks, and the
benches can see where each write transaction waited."""

import os
import subprocess
import sys
import time

from weprode import write_timings
from weprode.write_lock import (
    BULK_SHARE_FACTOR,
    LONGEST_BULK_PAUSE_SECONDS,
    SMALLEST_CHUNK,
    TARGET_CHUNK_SECONDS,
    WriteLock,
)

WAITER = (
    "import sys; from weprode.db import write_lock; "
    "lock = write_lock(sys.argv[1]); lock.__enter__(); print('got it', flush=True)"
)


def queue_a_writer(lock: WriteLock, database: str) -> subprocess.Popen:
    """A child process that waits for the lock `lock` holds; returns once it is queued."""
    child = subprocess.Popen(
        [sys.executable, "-c", WAITER, database], stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not lock.queued() and time.monotonic() < deadline:
        assert child.poll() is None
        time.sleep(0.01)
    assert lock.queued()
    return child


def test_a_bulk_job_pauses_only_after_a_chunk_others_queued_behind(db):
    lock = db.write_lock
    with lock:
        lock.note_bulk_chunk(0.02)
    assert lock.bulk_pause() == 0  # nobody waited: the job runs at full speed

    with lock:
        child = queue_a_writer(lock, db.path)
        lock.note_bulk_chunk(0.02)
    assert child.stdout.readline() == "got it\n"
    assert child.wait(30) == 0
    # Three times the chunk's hold for the others: a quarter of the lock for the job.
    assert lock.bulk_pause() == BULK_SHARE_FACTOR * 0.02

    with lock:
        child = queue_a_writer(lock, db.path)
        lock.note_bulk_chunk(10.0)  # a chunk slowed down a lot: the pause stays bounded
    assert child.wait(30) == 0
    assert lock.bulk_pause() == LONGEST_BULK_PAUSE_SECONDS


def test_chunks_shrink_towards_a_short_hold_only_while_others_wait(db):
    lock = db.write_lock
    lock.bulk_contended, lock.bulk_held = False, 1.0
    assert lock.chunk_rows(100, 500) == 500  # nobody waits: full size, however slow
    lock.bulk_contended = True
    lock.bulk_held = 2 * TARGET_CHUNK_SECONDS
    assert lock.chunk_rows(500, 500) == 250
    lock.bulk_held = TARGET_CHUNK_SECONDS / 10
    assert lock.chunk_rows(100, 500) == 200  # grows back, at most doubling
    assert lock.chunk_rows(400, 500) == 500  # never above the configured size
    lock.bulk_held = 100 * TARGET_CHUNK_SECONDS
    assert lock.chunk_rows(500, 500) == SMALLEST_CHUNK
    assert lock.chunk_rows(500, 2) == 2  # a configured size below the floor stays


TRANSACTIONS = """
import sys
from weprode.db import connect, durable_transaction, write_transaction
db = connect(sys.argv[1])
with write_transaction(db):
    db.execute("CREATE TABLE t (x)")
with durable_transaction(db):
    db.execute("INSERT INTO t VALUES (1)")
with write_transaction(db, background=True):
    db.execute("INSERT INTO t VALUES (2)")
print(db.execute("SELECT count(*) FROM t").fetchone()[0])
"""


def run_transactions(tmp_path, **env):
    """Three write transactions in a child process; returns its pid."""
    child = subprocess.run(
        [sys.executable, "-c", TRANSACTIONS, str(tmp_path / "timed.sqlite3")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout == "2\n"
    return child


def test_each_write_transaction_is_timed_when_a_bench_asks(tmp_path):
    log = tmp_path / "timings.txt"
    run_transactions(tmp_path, **{write_timings.ENVIRONMENT_VARIABLE: str(log)})
    timings = write_timings.read(str(log))
    assert [t.kind for t in timings] == ["plain", "durable", "bulk"]
    assert len({t.pid for t in timings}) == 1 and timings[0].pid != os.getpid()
    assert timings[0].started <= timings[1].started <= timings[2].started
    for timing in timings:
        assert min(timing[3:]) >= 0 and timing.committing <= timing.held
    assert timings[0].synced == 0  # only durable commits flush the WAL


def test_nothing_is_timed_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv(write_timings.ENVIRONMENT_VARIABLE, raising=False)
    assert write_timings.from_environment() is None
    run_transactions(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "timed.sqlite3",
        "timed.sqlite3.write-lock",
        "timed.sqlite3.write-queue",
    ]
