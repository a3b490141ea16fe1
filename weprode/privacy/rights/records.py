"""Rights requests as records: received, due a month later, verified, completed.

Every request is kept, whatever became of it: the table is our proof that each
request was answered in time (the retention rules say for how long). Requests are
listed for staff newest first with keyset pagination on (received_at, id).
"""

import calendar
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from ...db import (
    Database,
    first_row,
    format_keyset_cursor,
    isoformat,
    keyset_page,
    parse_keyset_cursor,
)
from ...tokens import RIGHTS_MAX_AGE

KINDS = ("access", "rectify", "erase", "object")
STATUSES = ("awaiting_verification", "verified", "completed", "expired")
# What staff read, in the staff area's language.
STATUS_LABELS = {
    "awaiting_verification": _l("Awaiting verification"),
    "verified": _l("Verified"),
    "completed": _l("Completed"),
    "expired": _l("Expired (never verified)"),
}
KIND_LABELS = {
    "access": _l("Copy of data"),
    "rectify": _l("Correction"),
    "erase": _l("Erasure"),
    "object": _l("Stop marketing"),
}
WEB = "web"
POST_OR_EMAIL = "post-or-email"
CHANNEL_LABELS = {WEB: _l("website"), POST_OR_EMAIL: _l("post or e-mail")}
# Verification mails per address and window, so our form cannot flood an inbox.
MAIL_LIMITS = ((timedelta(hours=1), 3), (timedelta(days=1), 10))
PAGE_SIZE = 50
# From this copy on, the controller may charge the cost of producing it (FACTS.md).
FEE_FROM_COPY = 2


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` calendar months later; the 31st becomes the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(received_at: datetime) -> datetime:
    """When the answer is due: one calendar month after receipt (GDPR art. 12(3))."""
    return add_months(received_at, 1)


def get(db: Database, request_id: int) -> dict | None:
    """The request row as a dict, or None."""
    return first_row(db, "SELECT * FROM rights_requests WHERE id = ?", [request_id])


def create(
    db: Database, email: str, kind: str, now: datetime, channel: str = WEB, verified: bool = False
) -> int:
    """Record a request received `now`; return its id.

    Requests by post or e-mail are `verified` on creation: staff checked who wrote.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of: {', '.join(KINDS)}")
    row = {
        "email": email,
        "kind": kind,
        "channel": channel,
        "status": "verified" if verified else "awaiting_verification",
        "received_at": isoformat(now),
        "due_at": isoformat(due_date(now)),
        "verified_at": isoformat(now) if verified else None,
    }
    return db["rights_requests"].insert(row).last_pk


def may_mail(db: Database, email: str, now: datetime) -> bool:
    """True while the address is under every limit in `MAIL_LIMITS` (web requests)."""
    for window, most in MAIL_LIMITS:
        sent = db.execute(
            "SELECT count(*) FROM rights_requests WHERE email = ? AND channel = ? "
            "AND received_at > ?",
            [email, WEB, isoformat(now - window)],
        ).fetchone()[0]
        if sent >= most:
            return False
    return True


def expire_unverified(db: Database, now: datetime) -> int:
    """Mark requests whose link ran out unused as expired; return how many."""
    cursor = db.execute(
        "UPDATE rights_requests SET status = 'expired' "
        "WHERE status = 'awaiting_verification' AND received_at < ?",
        [isoformat(now - RIGHTS_MAX_AGE)],
    )
    return cursor.rowcount


def completed_copies(db: Database, email: str) -> int:
    """How many copies of their data this address has been given so far."""
    return db.execute(
        "SELECT count(*) FROM rights_requests WHERE email = ? AND kind = 'access' "
        "AND status = 'completed'",
        [email],
    ).fetchone()[0]


def complete(
    db: Database,
    request_id: int,
    now: datetime,
    note: str | None = None,
    copy_number: int | None = None,
) -> None:
    """Mark the request done (verified too, if it was not yet); the first completion counts."""
    stamp = isoformat(now)
    db.execute(
        "UPDATE rights_requests SET status = 'completed', "
        "verified_at = coalesce(verified_at, ?), completed_at = coalesce(completed_at, ?), "
        "copy_number = coalesce(copy_number, ?), note = coalesce(?, note) WHERE id = ?",
        [stamp, stamp, copy_number, note, request_id],
    )


def for_email(db: Database, email: str) -> list[dict]:
    """Every request from this address, oldest first, without repeating the address."""
    return list(
        db.query(
            "SELECT id, kind, channel, status, received_at, due_at, verified_at, "
            "completed_at, copy_number FROM rights_requests WHERE email = ? "
            "ORDER BY received_at, id",
            [email],
        )
    )


# The status as it stands now: an unused link older than an hour has expired, even
# before a later request's `expire_unverified` wrote it down.
CURRENT_STATUS = (
    "CASE WHEN status = 'awaiting_verification' AND received_at < ? THEN 'expired' ELSE status END"
)


def search(
    db: Database, now: datetime, status: str = "", cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], str | None]:
    """(rows, next cursor): requests newest first, optionally of one status.

    Each row carries its current status and `overdue` (not answered by its due date).
    """
    if status and status not in STATUSES:
        raise ValueError(_l("Unknown status."))
    expiry = isoformat(now - RIGHTS_MAX_AGE)
    current = CURRENT_STATUS
    conditions, params = [], [expiry]
    if status:
        conditions.append(f"({current}) = ?")
        params += [expiry, status]
    rows, last = keyset_page(
        db,
        f"SELECT id, email, kind, channel, ({current}) AS status, received_at, due_at, "
        "verified_at, completed_at, copy_number, note FROM rights_requests",
        ("received_at", "id"),
        limit=limit,
        after=parse_keyset_cursor(cursor),
        conditions=conditions,
        params=params,
    )
    stamp = isoformat(now)
    for row in rows:
        row["overdue"] = row["status"] in ("awaiting_verification", "verified") and (
            row["due_at"] < stamp
        )
        row["fee_may_apply"] = (row["copy_number"] or 0) >= FEE_FROM_COPY
    return rows, format_keyset_cursor(last)
