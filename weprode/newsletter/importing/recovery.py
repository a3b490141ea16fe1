"""An import whose process died: who runs it now, and undoing it as a whole.

An import belongs to one process at a time (`owner`, a heartbeat with each chunk), as
a campaign belongs to one sender. When that process is gone, another claims it to
finish it (`importing.resume`) or to roll it back: its records were never visible,
so deleting them a chunk at a time changes nothing anyone sees.
"""

from datetime import datetime

from ... import audit
from ...campaigns.senders import sender_is_gone
from ...db import Database, isoformat, parse_timestamp, write_transaction
from .. import subscribers
from .batches import UNFINISHED, ImportStateError, beat, discard_staging, get
from .reading import ImportReport


def claim(db: Database, import_id: int, owner: str, now: datetime) -> dict:
    """Make `owner` run an unfinished import whose process is gone; returns its row."""
    with write_transaction(db, background=True):
        record = get(db, import_id)
        if record is None:
            raise ImportStateError(f"No import {import_id}.")
        if record["status"] not in UNFINISHED:
            raise ImportStateError(f"Import {import_id} is {record['status']} already.")
        if record["owner"] != owner and not owner_is_gone(record, now):
            raise ImportStateError(
                f"Import {import_id} is still running (process {record['owner']})."
            )
        db.execute(
            "UPDATE imports SET owner = ?, heartbeat_at = ? WHERE id = ?",
            [owner, isoformat(now), import_id],
        )
        return get(db, import_id)


def owner_is_gone(record: dict, now: datetime) -> bool:
    """True when the import's process stopped beating or is dead on this host."""
    return sender_is_gone(record["owner"], parse_timestamp(record["heartbeat_at"]), now)


def abandoned(db: Database, now: datetime) -> list[dict]:
    """Unfinished imports whose process is gone."""
    marks = ", ".join("?" for _ in UNFINISHED)
    rows = db.query(f"SELECT * FROM imports WHERE status IN ({marks})", UNFINISHED)
    return [record for record in rows if owner_is_gone(record, now)]


def rollback(
    db: Database, import_id: int, owner: str, actor: str, now: datetime, chunk_rows: int
) -> int:
    """Undo an unfinished import as a whole; returns how many hidden records went.

    Its records were never visible, so deleting them a chunk at a time changes
    nothing anyone sees; their consent proofs and history go with them (ON DELETE
    CASCADE), and the confirmation mails counted against address limits are uncounted.
    Once `rolling_back` it can only finish rolling back, also after another crash.
    """
    record = claim(db, import_id, owner, now)
    with write_transaction(db, background=True):
        db.execute("UPDATE imports SET status = 'rolling_back' WHERE id = ?", [import_id])
    deleted = 0
    while True:
        with write_transaction(db, background=True):
            count = db.execute(
                "DELETE FROM subscribers WHERE id IN (SELECT id FROM subscribers "
                "WHERE import_id = ? LIMIT ?)",
                [import_id, chunk_rows],
            ).rowcount
            beat(db, import_id, owner, record["committed_entries"], column="committed_entries")
        deleted += count
        if count < chunk_rows:
            break
    with write_transaction(db, background=True):
        db.execute(
            "DELETE FROM newsletter_mail_sends WHERE id IN (SELECT send_id FROM import_rows "
            "WHERE import_id = ? AND send_id IS NOT NULL)",
            [import_id],
        )
    discard_staging(db, import_id)
    with write_transaction(db, durable=True, background=True):
        db.execute(
            "UPDATE imports SET status = 'rolled_back', finished_at = ? WHERE id = ?",
            [isoformat(now), import_id],
        )
        audit.record(db, actor, "import_rolled_back", now, target=None, import_id=import_id)
    return deleted


def report_of(db: Database, record: dict) -> ImportReport:
    """The report of an import so far, rebuilt from the database (to resume it)."""
    refused = db.query(
        "SELECT line, email FROM import_rows WHERE import_id = ? AND outcome = 'refused' "
        "ORDER BY line",
        [record["id"]],
    )
    return ImportReport(
        total_rows=record["total_rows"],
        added=record["added"] or 0,
        merged_duplicates=record["merged_duplicates"],
        already_subscribed=record["already_subscribed"] or 0,
        refused_suppressed=[(row["line"], subscribers.mask_email(row["email"])) for row in refused],
        mails_limited=record["mails_limited"] or 0,
    )


def leftover_staging(db: Database) -> list[int]:
    """Ended imports that still have staged rows (their process died while clearing them)."""
    rows = db.execute(
        "SELECT id FROM imports WHERE status IN ('done', 'rolled_back') "
        "AND EXISTS (SELECT 1 FROM import_rows WHERE import_id = imports.id)"
    )
    return [import_id for (import_id,) in rows]
