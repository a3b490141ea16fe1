"""A sender's journal of accepted messages: what a kill -9 must not send again.

The ledger learns each outcome from the recorder's commits; committing every few
messages (to bound what a crash resends) cost about 15 % of the sending rate. Instead,
each message the relay accepts is appended to this sender's journal file at once (one
`write`, a few microseconds, no fsync): a killed process's writes are in the page
cache, so they survive it. The ledger is then committed in large batches, and whoever
takes a dead sender's campaign over first marks the journaled rows `sent` (`replay`),
then requeues the rest. A kill -9 resends only the messages whose answer had not
been read yet: at most one per session. A power cut may lose the journal's last
lines like the ledger's last commits (both are on the page cache only).

When the journal cannot be written (disk full), the recorder goes back to committing
every few messages (see `recorder`).
"""

import os
import re
from datetime import datetime
from pathlib import Path

from ..db import Database, isoformat

SUFFIX = ".sent"


def journal_folder(database: str) -> Path:
    """Where the journals of a database live: beside it, `<database>-journals/`."""
    path = Path(database)
    return path.with_name(path.name + "-journals")


def journal_path(database: str, campaign_id: int, sender_id: str) -> Path:
    """The journal of one sender of one campaign."""
    safe_sender = re.sub(r"[^A-Za-z0-9._-]", "_", sender_id)
    return journal_folder(database) / f"{campaign_id}-{safe_sender}{SUFFIX}"


class SentJournal:
    """Append-only list of the delivery ids a sender's relay accepted (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.working = True
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            self.fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:
            self.fd, self.working = None, False

    def note(self, delivery_id: int) -> bool:
        """Append one accepted delivery; False when the journal cannot be written.

        One `write` of a short line on an O_APPEND file: lines of several threads
        never mix.
        """
        if not self.working or self.fd is None:
            return False
        try:
            os.write(self.fd, b"%d\n" % delivery_id)
        except OSError:
            self.working = False
            return False
        return True

    def close(self, remove: bool) -> None:
        """Close the file; `remove` it once everything it lists is in the ledger."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if remove:
            self.path.unlink(missing_ok=True)


def database_file(db: Database) -> str:
    """The file `db` is connected to."""
    return db.execute("PRAGMA database_list").fetchone()[2]


def replay(
    db: Database, campaign_id: int, now: datetime, sender_id: str | None = None
) -> list[Path]:
    """Mark `sent` the rows dead senders journaled but never recorded: every sender of
    the campaign, or `sender_id` alone (one dead process of a live send).

    Call inside the transaction that takes the campaign over, before requeueing the
    rows left in flight. Returns the journal files to delete once it is committed. A
    half-written last line (the kill landed mid-write) is not a whole id: skipped.
    """
    database = database_file(db)
    if not database:
        return []  # an in-memory database has no journals
    if sender_id is not None:
        files = [path for path in [journal_path(database, campaign_id, sender_id)] if path.exists()]
    else:
        folder = journal_folder(database)
        files = sorted(folder.glob(f"{campaign_id}-*{SUFFIX}")) if folder.is_dir() else []
    ids = []
    for path in files:
        lines = path.read_bytes().split(b"\n")[:-1]  # the part after the last \n is cut
        ids += [int(line) for line in lines if line.isdigit()]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, smtp_reply = '250', "
            "next_attempt_at = NULL, claimed_by = NULL "
            "WHERE campaign_id = ? AND status = 'sending' "
            f"AND id IN ({', '.join('?' for _ in chunk)})",
            [isoformat(now), campaign_id, *chunk],
        )
    return files
