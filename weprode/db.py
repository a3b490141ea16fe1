"""The SQLite connection: one per app context, tuned once when opened."""

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from flask import Flask, current_app, g
from werkzeug.routing import IntegerConverter, Map

from . import write_timings
from .write_lock import GIVE_WAY_SECONDS, WriteLock, write_lock

BUSY_TIMEOUT_MS = 5000
# After a checkpoint the next writer truncates the WAL back to this size: one large
# import or purge must not leave hundreds of megabytes of WAL on disk for good.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
# The database, and the -wal and -shm files SQLite gives the same mode, hold personal
# data: readable by the service user only. Not 0640: the service's group is often
# shared (www-data with the web server), and nothing else needs to read the file.
DATABASE_FILE_MODE = 0o600


def utcnow() -> datetime:
    """The current time in UTC; services take it as `now` so tests can move it."""
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """A UTC timestamp as stored in the database: ISO-8601, seconds precision."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_timestamp(text: str | None) -> datetime | None:
    """The inverse of `isoformat`."""
    return datetime.fromisoformat(text) if text else None


# What `isoformat` writes (seconds, maybe fractions, an offset): a cursor's moment.
TIMESTAMP_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)?", re.ASCII
)
ROW_ID_SHAPE = re.compile(r"[0-9]{1,19}", re.ASCII)
SQLITE_MAX_INTEGER = 2**63 - 1


def parse_keyset_cursor(cursor: str | None) -> tuple[str, int] | None:
    """A list page's cursor `moment|id` -> (moment, id), or None when absent or malformed.

    Lists page on (timestamp, id) instead of OFFSET, which would read and skip every
    earlier row; the cursor is the last row shown. It comes from the URL, so anything
    but an ISO timestamp and an id SQLite can hold (64-bit) is ignored (the first
    page) rather than reaching the query: a 20-digit id made sqlite3 raise.
    """
    if not cursor:
        return None
    moment, _, raw_id = cursor.rpartition("|")
    if not TIMESTAMP_SHAPE.fullmatch(moment) or not ROW_ID_SHAPE.fullmatch(raw_id):
        return None
    row_id = int(raw_id)
    return (moment, row_id) if row_id <= SQLITE_MAX_INTEGER else None


def parse_row_id(text: str) -> int:
    """A row id from a query string (`?before=`), as `request.args.get(type=...)` wants it.

    Raises ValueError (so `args.get` falls back to its default) for anything but the
    digits of an id SQLite can hold.
    """
    if not ROW_ID_SHAPE.fullmatch(text or "") or int(text) > SQLITE_MAX_INTEGER:
        raise ValueError(f"not a row id: {text[:30]!r}")
    return int(text)


class RowIdConverter(IntegerConverter):
    """The `<int:...>` URL converter, bounded to SQLite's 64-bit integers.

    A larger number in a path is a 404 instead of an OverflowError in the query.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", SQLITE_MAX_INTEGER)
        super().__init__(url_map, *args, **kwargs)


class Database(sqlite_utils.Database):
    """sqlite-utils' database with the process's write lock for its file."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        write_lock: WriteLock | None,
        path: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(conn, **options)
        self.write_lock = write_lock
        self.path = path  # None in memory: nothing to make durable
        # A durable transaction nested in another one: the outer commit must sync.
        self.durable_commit_pending = False
        self.wal_directory_synced = False


def format_keyset_cursor(key: tuple | None) -> str | None:
    """The inverse of `parse_keyset_cursor`: a (moment, id) key as `moment|id`, or None."""
    return None if key is None else f"{key[0]}|{key[1]}"


def keyset_page(
    db: Database,
    select: str,
    order_by: Sequence[str],
    *,
    limit: int,
    after: tuple | None = None,
    conditions: Iterable[str] = (),
    params: Iterable = (),
    descending: bool = True,
) -> tuple[list[dict], tuple | None]:
    """One page of `select` ordered by the columns `order_by`, continuing after the key `after`.

    The last column of `order_by` must be unique (the id). Returns the rows and, when more
    follow, the key of the last row shown (pass it back as `after`), else None. Paging by
    key instead of OFFSET reads only the rows shown, however deep the page.
    """
    direction, comparison = ("DESC", "<") if descending else ("ASC", ">")
    conditions, params = list(conditions), list(params)
    if after is not None:
        marks = ", ".join("?" for _ in order_by)
        conditions.append(f"({', '.join(order_by)}) {comparison} ({marks})")
        params += list(after)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    ordering = ", ".join(f"{column} {direction}" for column in order_by)
    rows = list(db.query(f"{select}{where} ORDER BY {ordering} LIMIT ?", [*params, limit + 1]))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, tuple(rows[-1][column] for column in order_by)


def first_row(db: Database, sql: str, params: Sequence | dict = ()) -> dict | None:
    """The first row of a query as a dict, or None when it matches nothing."""
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    columns = [column[0] for column in cursor.description]
    cursor.close()
    return None if row is None else dict(zip(columns, row, strict=True))


def read_only(path: str | os.PathLike[str]) -> closing[sqlite3.Connection]:
    """A plain connection that only reads `path` and never creates it (use with `with`)."""
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def database_holds_data(path: str) -> bool:
    """True when `path` is a database that already has tables (a read-only peek).

    A file we cannot read counts as holding data: the caller is about to decide
    whether starting afresh is safe.
    """
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return False
    try:
        with read_only(path) as conn:
            return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    except sqlite3.Error:
        return True


def create_private_file(path: str | os.PathLike[str], mode: int = DATABASE_FILE_MODE) -> None:
    """Create an empty file with `mode` unless it exists (then leave it untouched).

    sqlite3 would create the database with 0644 (less the umask); creating it first,
    empty, with an explicit mode keeps it private without touching the process umask.
    SQLite treats an empty file as a new database, and gives its -wal and -shm files
    the database file's mode (and owner).
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode))
    except FileExistsError:
        pass


def connect(path: str | os.PathLike[str]) -> Database:
    """Open the database with the pragmas every connection needs."""
    if str(path) != ":memory:":
        create_private_file(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros: an erased or purged address must not
    # linger in free pages of the file.
    conn.execute("PRAGMA secure_delete=ON")
    # Checkpoint every ~12 MB of WAL instead of 4 MB: pages rewritten by every write
    # (index interiors, table tails) are copied once per checkpoint, not three times.
    # Much larger and the request that runs the checkpoint shows in p99 latency.
    conn.execute("PRAGMA wal_autocheckpoint=3000")
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    on_disk = str(path) != ":memory:"
    lock = write_lock(str(path)) if on_disk else None
    # Plugins are looked up through entry points on every Database(); we use none.
    return Database(conn, lock, str(path) if on_disk else None, execute_plugins=False)


@contextmanager
def write_transaction(
    db: Database, *, durable: bool = False, background: bool = False
) -> Iterator[Database]:
    """A transaction that takes the write lock first (BEGIN IMMEDIATE).

    sqlite-utils' `atomic()` begins DEFERRED: a function that reads and then writes
    fails at once with "database is locked" when another process committed in
    between, and busy_timeout cannot help. Taking the lock up front makes concurrent
    writers queue instead. Nested use becomes a savepoint.

    `durable=True` (see `durable_transaction`) returns only once the commit is on
    disk. Nested in another write transaction, it makes the outer commit durable.
    `background=True`, for one chunk of a bulk job, first lets writers already
    waiting go (`WriteLock.give_way`): a one-click unsubscribe waits for one chunk.
    """
    if db.conn.in_transaction:
        db.durable_commit_pending |= durable
        with db.atomic():
            yield db
        return
    db.durable_commit_pending = durable
    lock = db.write_lock if background else None
    started = time.monotonic()
    if lock is not None:
        pause_bulk_job(db, lock)
    asked = time.monotonic()
    with db.write_lock or nullcontext():
        acquired = time.monotonic()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            db.durable_commit_pending = False
            raise
        committing = time.monotonic()
        db.execute("COMMIT")
        committed = synced = time.monotonic()
        if lock is not None:
            lock.note_bulk_chunk(committed - acquired)
    kind = "bulk" if background else "durable" if db.durable_commit_pending else "plain"
    if db.durable_commit_pending:
        db.durable_commit_pending = False
        sync_wal(db)
        synced = time.monotonic()
    log = timing_log()
    if log is not None:
        log.add(
            kind,
            started,
            asked - started,
            acquired - asked,
            committed - acquired,
            committed - committing,
            synced - committed,
        )


def pause_bulk_job(db: Database, lock: WriteLock) -> None:
    """Before a bulk job's chunk: pause if others wanted the lock, then let the queued go.

    During the pause the job checkpoints the WAL (PASSIVE: other writers carry on).
    Left to SQLite, the checkpoint runs inside whichever COMMIT finds the WAL past
    `wal_autocheckpoint`, often a one-click request's, while it holds the write lock:
    everyone then waited for megabytes of an import to be copied and synced. The
    checkpoint also flushes the WAL first, which the next durable commit (a one-click
    request) would otherwise do for the job.
    """
    pause = lock.bulk_pause()
    if pause > 0:
        until = time.monotonic() + pause
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:  # a full disk: the job's next write reports it
            pass
        time.sleep(max(0.0, until - time.monotonic()))
    lock.give_way(GIVE_WAY_SECONDS)


def bulk_chunk_rows(db: Database, rows: int, largest: int) -> int:
    """The size of a bulk job's next chunk after one of `rows` (`WriteLock.chunk_rows`)."""
    return largest if db.write_lock is None else db.write_lock.chunk_rows(rows, largest)


_timing_log: tuple[int, write_timings.TimingLog | None] | None = None


def timing_log() -> write_timings.TimingLog | None:
    """This process's `write_timings` log, or None when the benches did not ask for one."""
    global _timing_log
    if _timing_log is None or _timing_log[0] != os.getpid():  # first use, or forked
        _timing_log = (os.getpid(), write_timings.from_environment())
    return _timing_log[1]


def durable_transaction(db: Database) -> AbstractContextManager[Database]:
    """A write transaction that is on disk before it returns: consent and erasure.

    The connection runs `synchronous=NORMAL`: a commit reaches the WAL in the page
    cache, and a power cut can lose the last ones. That is fine for a delivery status,
    not for an unsubscribe already answered 200 (the person would be mailed again) or
    an erasure already reported done. So changes to consent or deletions of personal
    data use this, and the WAL is flushed after the commit (see `sync_wal`).
    """
    return write_transaction(db, durable=True)


def sync_wal(db: Database) -> None:
    """Flush the WAL to disk: every transaction committed so far survives a power cut.

    What `synchronous=FULL` does at each commit, but outside the write lock: with FULL
    the flush (2-4 ms on this machine's disk) happens while the lock is held, so every
    writer waits for every other's flush; here the next writer commits meanwhile, and
    one flush covers all the commits before it. fdatasync acts on the file, whichever
    descriptor names it (POSIX), so our own descriptor flushes SQLite's writes. The WAL
    cannot be swapped under us: SQLite deletes it only when the last connection
    closes, and restarts it only after a checkpoint has synced the frames into the
    database file. The first flush of a connection also syncs the folder, so a newly
    created WAL file is found after a crash.
    """
    if db.path is None:
        return
    try:
        fd = os.open(f"{db.path}-wal", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:  # not in WAL mode: the commit synced the database itself
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
    if not db.wal_directory_synced:
        folder = os.open(os.path.dirname(os.path.abspath(db.path)), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        db.wal_directory_synced = True


def checkpoint(db: Database) -> bool:
    """Copy the WAL into the main file and truncate it; True when it is empty.

    Run after deleting personal data: until a checkpoint the WAL holds the old
    images of every page that held a deleted row, and an ordinary checkpoint only
    rewinds the WAL, leaving those bytes in the file until overwritten. With
    `secure_delete`, the main file then holds no dead copy either. A read still
    open on another connection stops it short (False); the next one finishes it.
    """
    if db.conn.in_transaction:  # inside a transaction SQLite cannot checkpoint
        return False
    busy, _frames, _copied = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


# One connection per thread and database file, reused across requests. Opening one
# costs the pragmas and a schema parse, and closing the last connection to a WAL
# database checkpoints and deletes the WAL file: together ~1-2 ms a request.
_connections = threading.local()


def thread_connection(path: str) -> Database:
    """This thread's connection to `path`, opened on first use."""
    pool = _connections.__dict__.setdefault("pool", {})
    db = pool.get(path)
    if db is None:
        db = pool[path] = connect(path)
    return db


def release_thread_connection(path: str) -> None:
    """Close this thread's connection to `path`, so the file can be replaced."""
    db = _connections.__dict__.setdefault("pool", {}).pop(path, None)
    if db is not None:
        db.close()


def get_db() -> Database:
    """The request's database: this thread's connection, lent for the app context."""
    if "db" not in g:
        g.db = thread_connection(current_app.config["DATABASE"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    """Give the connection back clean: no transaction left open by a failed request."""
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.rollback()


def init_app(app: Flask) -> None:
    """Close the connection at the end of every app context; bound `<int:>` in URLs.

    The converter is replaced before any blueprint adds its routes.
    """
    app.url_map.converters["int"] = RowIdConverter
    app.teardown_appcontext(close_db)
