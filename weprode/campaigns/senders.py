"""Who sends a campaign: one live sender at a time, proved by a heartbeat.

A sender is one process (host, pid, random part). It takes a campaign over when
nobody live holds it, beats while it works, and lets go at the end. A sender that
stopped beating, or whose process is gone from this host, is taken over; its rows
in flight go back to the queue (see `ledger`).
"""

import os
import socket
from datetime import datetime, timedelta

from ..db import Database, isoformat, parse_timestamp, write_transaction
from . import journal, ledger

# A sender refreshes its heartbeat at least this often while it works.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)


def new_sender_id() -> str:
    """Identifies one sending process: host, pid, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def sender_is_gone(sender_id: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """True when the previous sender stopped beating or its process is dead here."""
    if not sender_id or heartbeat_at is None or now - heartbeat_at > HEARTBEAT_TIMEOUT:
        return True
    host, _, rest = sender_id.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def take_over(db: Database, campaign_id: int, sender_id: str, now: datetime) -> bool:
    """Become the campaign's sender if nobody live is; requeue a dead sender's rows.

    The rows a dead sender's journal lists were accepted by the relay: they are marked
    sent first, and only the others go back to the queue. Returns True when
    `sender_id` now owns the campaign.
    """
    replayed = []
    with write_transaction(db):
        campaign = ledger.get(db, campaign_id)
        if campaign is None or campaign["status"] != "sending":
            return False
        current = campaign["sender_id"]
        if current and current != sender_id:
            if not sender_is_gone(current, parse_timestamp(campaign["heartbeat_at"]), now):
                return False
        replayed = journal.replay(db, campaign_id, now)
        db.execute(
            "UPDATE deliveries SET status = 'queued', claimed_by = NULL "
            "WHERE campaign_id = ? AND status = 'sending'",
            [campaign_id],
        )
        db.execute(
            "UPDATE campaigns SET sender_id = ?, heartbeat_at = ? WHERE id = ?",
            [sender_id, isoformat(now), campaign_id],
        )
    for path in replayed:
        path.unlink(missing_ok=True)  # now in the ledger
    return True


def requeue_rows_of(db: Database, campaign_id: int, sender_id: str, now: datetime) -> None:
    """One dead process of a live send (see `processes`): what its journal lists is
    marked sent, its other rows in flight go back to the queue, its journal is deleted.

    Call once the process is known to be dead (reaped), never while it may still send.
    """
    with write_transaction(db):
        replayed = journal.replay(db, campaign_id, now, sender_id)
        db.execute(
            "UPDATE deliveries SET status = 'queued', claimed_by = NULL "
            "WHERE campaign_id = ? AND status = 'sending' AND claimed_by = ?",
            [campaign_id, sender_id],
        )
    for path in replayed:
        path.unlink(missing_ok=True)


def heartbeat(db: Database, campaign_id: int, sender_id: str, now: datetime) -> bool:
    """Prove the sender is alive; False if it lost the campaign (paused, cancelled...)."""
    cursor = db.execute(
        "UPDATE campaigns SET heartbeat_at = ? WHERE id = ? AND sender_id = ? "
        "AND status = 'sending'",
        [isoformat(now), campaign_id, sender_id],
    )
    return cursor.rowcount == 1


def release(db: Database, campaign_id: int, sender_id: str) -> None:
    """Let go of the campaign (normal end of a sender)."""
    db.execute(
        "UPDATE campaigns SET sender_id = NULL WHERE id = ? AND sender_id = ?",
        [campaign_id, sender_id],
    )


def abandoned(db: Database, now: datetime) -> list[dict]:
    """Campaigns left in `sending` with nobody live sending them (for /healthz).

    A campaign whose sender is gone (see `sender_is_gone`) is abandoned; so is one no
    sender holds (released between passes, or never taken) when nobody has beaten it
    for HEARTBEAT_TIMEOUT while no other campaign is being sent either: a worker busy
    with another campaign gets to it next, but with nobody sending at all it waits
    for ever. A campaign just resumed after a long pause counts as abandoned until the
    worker's next pass takes it; a welcome mail, which stays `sending` between new
    readers, only when its sender died. Each row: id and `idle_for`, a timedelta or None.
    """
    rows = list(
        db.query(
            "SELECT id, sender_id, heartbeat_at, started_at, kind FROM campaigns "
            "WHERE status = 'sending' ORDER BY id"
        )
    )
    heartbeats = {row["id"]: parse_timestamp(row["heartbeat_at"]) for row in rows}
    live = {
        row["id"]
        for row in rows
        if row["sender_id"] and not sender_is_gone(row["sender_id"], heartbeats[row["id"]], now)
    }
    found = []
    for row in rows:
        if row["id"] in live:
            continue
        last_sign = heartbeats[row["id"]] or parse_timestamp(row["started_at"])
        idle_for = now - last_sign if last_sign else None
        # A welcome mail waits unheld between new readers: only a dead sender counts.
        unheld_too_long = (
            row["kind"] == "regular"
            and not live
            and (idle_for is None or idle_for > HEARTBEAT_TIMEOUT)
        )
        if row["sender_id"] or unheld_too_long:
            found.append({"id": row["id"], "idle_for": idle_for})
    return found
