"""An import in the database: staged, committed in short chunks, then done or rolled back.

One transaction for a whole file held the write lock for seconds (100,000 rows), and
every one-click unsubscribe waited behind it. Now each chunk of `IMPORT_CHUNK_ROWS`
addresses is its own transaction, and other writers take the lock between two chunks.
People still see all or nothing: the records a chunk inserts carry the import's id and
stay hidden (`subscribers.VISIBLE`) until one final transaction marks the import `done`.
That transaction changes one `imports` row, plus the records that existed before the
import (pending people confirmed or asked again), which are few: so it stays short
whatever the file's size. A per-record flag (a status, a "visible" column) would have
to rewrite every imported record at the end, and moving rows from a staging table in
chunks would publish them chunk by chunk.

`import_rows` keeps the checked file until the import ends, so an import whose process
died is resumed or rolled back as a whole (`recovery`).
"""

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ... import audit
from ...db import (
    Database,
    bulk_chunk_rows,
    isoformat,
    parse_timestamp,
    utcnow,
    write_transaction,
)
from .reading import Entry, ImportReport
from .writing import Sorted, sort_entries, write_confirmed, write_pending

# Deleting leftover staged rows: plain deletes, cheap per row.
DISCARD_ROWS = 5000
UNFINISHED = ("staged", "committing", "rolling_back")


class ImportStateError(Exception):
    """The import cannot do that now (done already, rolled back, run by a live process)."""


@dataclass(frozen=True)
class ImportDetails:
    """What staff said about the file, and its checksum."""

    mode: str
    source: str
    legal_basis: str
    actor: str
    file_sha256: str
    topic_id: int


def new_owner() -> str:
    """Identifies the process running an import: host, pid, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def get(db: Database, import_id: int) -> dict | None:
    """The import's row as a dict, or None."""
    rows = list(db.query("SELECT * FROM imports WHERE id = ?", [import_id]))
    return rows[0] if rows else None


def recent(db: Database, limit: int = 50) -> list[dict]:
    """The latest imports, newest first, for the staff page."""
    return list(db.query("SELECT * FROM imports ORDER BY id DESC LIMIT ?", [limit]))


def stage(
    db: Database,
    entries: dict[str, Entry],
    report: ImportReport,
    details: ImportDetails,
    now: datetime,
    owner: str,
    chunk_rows: int,
) -> int:
    """Record the import and its checked rows, at most `chunk_rows` per transaction (fewer
    while other writers wait: `bulk_chunk_rows`); returns its id."""
    with write_transaction(db, background=True):
        import_id = (
            db["imports"]
            .insert(
                {
                    "actor": details.actor,
                    "mode": details.mode,
                    "source": details.source,
                    "legal_basis": details.legal_basis,
                    "file_sha256": details.file_sha256,
                    "topic_id": details.topic_id,
                    "status": "staged",
                    "owner": owner,
                    "heartbeat_at": isoformat(utcnow()),
                    "started_at": isoformat(now),
                    "total_rows": report.total_rows,
                    "merged_duplicates": report.merged_duplicates,
                    "entries": len(entries),
                }
            )
            .last_pk
        )
    rows = [
        (import_id, position, e.line, e.email, e.first_name, e.language)
        for position, e in enumerate(entries.values(), start=1)
    ]
    start, rows_wanted = 0, chunk_rows
    while start < len(rows):
        chunk = rows[start : start + rows_wanted]
        start += len(chunk)
        with write_transaction(db, background=True):
            db.conn.executemany(
                "INSERT INTO import_rows (import_id, position, line, email, first_name, "
                "language) VALUES (?, ?, ?, ?, ?, ?)",
                chunk,
            )
            beat(db, import_id, owner, start, column="staged_entries")
        rows_wanted = bulk_chunk_rows(db, len(chunk), chunk_rows)
    return import_id


def beat(db: Database, import_id: int, owner: str, count: int, column: str) -> None:
    """Within a chunk's transaction: record progress, or stop if another process took over.

    The heartbeat is the wall clock's (the process is alive now), not the import's `now`.
    """
    cursor = db.execute(
        f"UPDATE imports SET {column} = ?, heartbeat_at = ? WHERE id = ? AND owner = ?",
        [count, isoformat(utcnow()), import_id, owner],
    )
    if cursor.rowcount != 1:
        raise ImportStateError(f"Import {import_id} was taken over by another process.")


def commit_chunks(
    db: Database,
    record: dict,
    owner: str,
    report: ImportReport,
    chunk_rows: int,
    after_chunk: Any,
) -> None:
    """Write the staged rows, at most `chunk_rows` addresses per transaction (fewer while
    other writers wait: `bulk_chunk_rows`), all still hidden.

    Addresses new to the database are inserted; active ones are counted as already
    subscribed; refused ones are noted; other existing records (pending ones) are left
    for `finish`, which changes them in its one transaction. `after_chunk(count)` runs
    between chunks, outside any transaction.
    """
    import_id, done = record["id"], record["committed_entries"]
    now = parse_timestamp(record["started_at"])
    rows_wanted = chunk_rows
    while True:
        with write_transaction(db, background=True):
            rows = list(
                db.query(
                    "SELECT * FROM import_rows WHERE import_id = ? AND position > ? "
                    "ORDER BY position LIMIT ?",
                    [import_id, done, rows_wanted],
                )
            )
            if not rows:
                return
            commit_chunk(db, record, rows, report, now)
            done = rows[-1]["position"]
            db.execute(
                "UPDATE imports SET status = 'committing', added = ?, already_subscribed = ?, "
                "refused = ?, mails_limited = ? WHERE id = ?",
                [
                    report.added,
                    report.already_subscribed,
                    len(report.refused_suppressed),
                    report.mails_limited,
                    import_id,
                ],
            )
            beat(db, import_id, owner, done, column="committed_entries")
        after_chunk(len(rows))
        rows_wanted = bulk_chunk_rows(db, len(rows), chunk_rows)


def commit_chunk(
    db: Database, record: dict, rows: list[dict], report: ImportReport, now: datetime
) -> None:
    """One chunk's writes, inside its transaction (see `commit_chunks`)."""
    entries = {row["email"]: as_entry(row) for row in rows}
    refused_before = len(report.refused_suppressed)
    found = sort_entries(db, entries, report, record["topic_id"])
    outcomes = [("existing", None, None, e.line) for _, e in found.revived + found.joining]
    newly_refused = report.refused_suppressed[refused_before:]
    outcomes += [("refused", None, None, line) for line, _ in newly_refused]
    only_new = Sorted(found.new, [], [])  # records seen before change in `finish`
    if record["mode"] == "confirmed":
        write_confirmed(db, record, only_new, now)
        report.added += len(found.new)
    else:
        pending = write_pending(db, record, only_new, now, report)
        outcomes += [("added", sid, send_id, e.line) for e, sid, send_id in pending]
    db.conn.executemany(
        "UPDATE import_rows SET outcome = ?, subscriber_id = ?, send_id = ? "
        "WHERE import_id = ? AND line = ?",
        [(outcome, sid, send_id, record["id"], line) for outcome, sid, send_id, line in outcomes],
    )
    # What no later step needs goes now, so finishing deletes little.
    db.execute(
        "DELETE FROM import_rows WHERE import_id = ? AND position BETWEEN ? AND ? "
        "AND outcome IS NULL",
        [record["id"], rows[0]["position"], rows[-1]["position"]],
    )


def as_entry(row: dict) -> Entry:
    """A staged row back as the `Entry` it was read as."""
    return Entry(row["line"], row["email"], row["first_name"], row["language"])


def finish(
    db: Database, record: dict, report: ImportReport, now: datetime
) -> list[tuple[int, int]]:
    """The one short transaction that publishes the import; returns the mails to send.

    Existing records the file names are changed here (re-checked against the
    suppression list first), the audit entry written and the import marked done:
    all of its records become visible at once. Durable, as it records consent; the
    chunks before it reach the disk with it (the WAL is written in order).
    """
    import_id = record["id"]
    with write_transaction(db, durable=True, background=True):
        deferred = db.query(
            "SELECT * FROM import_rows WHERE import_id = ? AND outcome = 'existing' "
            "ORDER BY position",
            [import_id],
        )
        entries = {row["email"]: as_entry(row) for row in deferred}
        found = sort_entries(db, entries, report, record["topic_id"])
        existing = found.revived + found.joining
        if record["mode"] == "confirmed":
            write_confirmed(db, record, found, now)
            changed, last_pending = len(existing), []
        else:
            written = write_pending(db, record, found, now, report)
            existing_ids = {sid for sid, _ in existing}
            changed = sum(1 for _, sid, _ in written if sid in existing_ids)
            last_pending = [(sid, send_id) for _, sid, send_id in written]
        # Records it inserted, less any a person's own signup took over meanwhile
        # (`subscribers.release_from_import`), plus the existing ones it changed.
        (inserted,) = db.execute(
            "SELECT count(*) FROM subscribers WHERE import_id = ?", [import_id]
        ).fetchone()
        report.added = inserted + changed
        audit.record(
            db,
            record["actor"],
            "import",
            now,
            target=None,
            import_id=import_id,
            added=report.added,
            merged=report.merged_duplicates,
            refused=len(report.refused_suppressed),
            already_subscribed=report.already_subscribed,
            mode=record["mode"],
            topic_id=record["topic_id"],
            source=record["source"],
            legal_basis=record["legal_basis"],
        )
        db.execute(
            "UPDATE imports SET status = 'done', finished_at = ?, added = ?, "
            "already_subscribed = ?, refused = ?, mails_limited = ? WHERE id = ?",
            [
                isoformat(utcnow()),
                report.added,
                report.already_subscribed,
                len(report.refused_suppressed),
                report.mails_limited,
                import_id,
            ],
        )
        db.execute(
            "DELETE FROM import_rows WHERE import_id = ? AND outcome IN ('existing', 'refused')",
            [import_id],
        )
        pending = db.execute(
            "SELECT subscriber_id, send_id FROM import_rows WHERE import_id = ? "
            "AND outcome = 'added' ORDER BY subscriber_id",
            [import_id],
        ).fetchall()
    return [tuple(row) for row in pending] + last_pending


def discard_staging(db: Database, import_id: int) -> None:
    """Delete what remains of the import's staged rows, a chunk per transaction.

    Durable: the import's (or its rollback's) end is on disk when this returns.
    """
    while True:
        with write_transaction(db, durable=True, background=True):
            deleted = db.execute(
                "DELETE FROM import_rows WHERE import_id = ? AND position IN "
                "(SELECT position FROM import_rows WHERE import_id = ? LIMIT ?)",
                [import_id, import_id, DISCARD_ROWS],
            ).rowcount
        if deleted < DISCARD_ROWS:
            return
