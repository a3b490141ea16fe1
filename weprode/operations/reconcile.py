"""After a restore: what people asked for since the backup still holds.

A backup from last night knows nothing of today's unsubscribes and erasures; restoring
it would mail people who left and bring back people who were erased. The replaced
database's suppression list (hashes, keyed like the restored one's) says who left, and
why: those entries are copied over, then every restored subscriber or prospect whose
address matches one is churned, or erased when the entry records an erasure.
"""

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from .. import tokens
from ..db import Database, read_only, write_transaction
from ..newsletter import optout, subscribers
from ..privacy.rights import service as rights

ERASED = "erasure"
OBJECTED = "objection"
# The churn source recorded for someone unsubscribed again because of a restore.
CHURN_SOURCE = "restore"


class Reconciled(NamedTuple):
    """What reconciling a restored database did."""

    carried: int
    churned: int
    erased: int


def suppressions_in(path: Path) -> list[tuple[str, str, str]]:
    """(address_hash, created_at, source) of every suppression in a database file.

    Nothing when there was no database before (a new machine) or it cannot be read.
    """
    if not path.is_file():
        return []
    try:
        with read_only(path) as conn:
            sql = "SELECT address_hash, created_at, source FROM suppressions"
            return conn.execute(sql).fetchall()
    except sqlite3.DatabaseError:
        return []  # damaged, or not ours: nothing to carry


def carry_over(db: Database, replaced: Path) -> dict[str, str]:
    """Copy the suppressions the restored database lacks; return {hash: source} of those."""
    rows = suppressions_in(replaced)
    with write_transaction(db):
        known = {row[0] for row in db.execute("SELECT address_hash FROM suppressions")}
        missing = [row for row in rows if row[0] not in known]
        db.conn.executemany(
            "INSERT OR IGNORE INTO suppressions (address_hash, created_at, source) "
            "VALUES (?, ?, ?)",
            missing,
        )
    return {address_hash: source for address_hash, _created, source in missing}


def addresses_held(db: Database) -> list[str]:
    """Every address the restored database names (subscribers and prospects)."""
    sql = "SELECT email FROM subscribers UNION SELECT email FROM prospects"
    return [row[0] for row in db.execute(sql)]


def reconcile(db: Database, replaced: Path, now: datetime) -> Reconciled:
    """Carry the replaced database's suppressions over and act on them. Needs an app context."""
    carried = carry_over(db, replaced)
    churned = erased = 0
    for email in addresses_held(db):
        sources = {carried[h] for h in tokens.address_hashes(email) if h in carried}
        if not sources:
            continue
        if ERASED in sources:
            rights.erase_personal_data(db, email, now)
            erased += 1
            continue
        subscriber = subscribers.find_by_email(db, email)
        if subscriber is not None and subscriber["status"] != "churned":
            optout.unsubscribe(db, subscriber["id"], CHURN_SOURCE, now)
            churned += 1
        if OBJECTED in sources:
            rights.record_marketing_objection(db, email, now)
    return Reconciled(len(carried), churned, erased)
