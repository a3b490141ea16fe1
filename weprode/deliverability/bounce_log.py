"""The bounce log for staff: events newest first, their raw report, lifting a suppression.

A raw report is kept 30 days (privacy.retention purges it; the event then loses its
`report_id`), so the log says when it is gone rather than offering a dead link.

Lifting: a bounce can be a false positive (a provider's outage answered 5.1.1, a
mailbox that came back). Staff may take such an address off the suppression list,
with a reason, in the audit log. The person's status stays `bounced`: only their own
double opt-in makes them a subscriber again (the suppression no longer stands in the
way of that, nor of staff adding them with their consent). A complaint is never
lifted by staff: pressing "spam" is the person's own wish, like unsubscribing, and
only the person can take it back by signing up again.
"""

from datetime import datetime

from .. import audit
from ..db import Database, durable_transaction, first_row, keyset_page
from ..newsletter import subscribers
from .providers import domain_of, provider_name

PAGE_SIZE = 50
CLASSES = ("hard", "soft", "policy", "complaint")
REPORT_KEPT_DAYS = 30
# The largest part of a raw report shown on the page (they are rarely over 50 kB).
REPORT_SHOWN_BYTES = 256 * 1024


def page(
    db: Database,
    severity: str | None = None,
    after: tuple[str, int] | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict], tuple[str, int] | None]:
    """Bounce events newest first, of one class or all, `limit` at a time (keyset)."""
    conditions, params = [], []
    if severity is not None:
        conditions.append("severity = ?")
        params.append(severity)
    # The join sits in a subquery so that the outer names (`at`, `id`) are the event's;
    # SQLite flattens it and walks the (at, id) or (severity, at, id) index.
    rows, last = keyset_page(
        db,
        "SELECT * FROM (SELECT e.id, e.at, e.severity, e.status_code, e.detail, e.mail_kind, "
        "e.campaign_id, e.source, e.report_id, e.subscriber_id, s.email FROM bounce_events e "
        "JOIN subscribers s ON s.id = e.subscriber_id)",
        ("at", "id"),
        limit=limit,
        after=after,
        conditions=conditions,
        params=params,
    )
    for row in rows:
        row["provider"] = provider_name(domain_of(row.pop("email")))
    return rows, last


def parse_cursor(text: str) -> tuple[str, int]:
    """`<at>|<id>` from a page link; ValueError when it is anything else."""
    at, bar, row_id = text.rpartition("|")
    if not bar or not row_id.isdigit() or len(row_id) > 18 or not 0 < len(at) <= 40:
        raise ValueError("not a bounce log cursor")
    return at, int(row_id)


def event(db: Database, event_id: int) -> dict | None:
    """One event with its person and, while kept, its report's metadata."""
    return first_row(
        db,
        "SELECT e.*, s.email, s.status AS subscriber_status, r.received_at, r.kind, r.outcome "
        "FROM bounce_events e JOIN subscribers s ON s.id = e.subscriber_id "
        "LEFT JOIN bounce_reports r ON r.id = e.report_id WHERE e.id = ?",
        [event_id],
    )


def report_text(db: Database, report_id: int) -> tuple[str, bool] | None:
    """The raw report as text (undecodable bytes replaced) and whether it was cut; None
    once deleted. Shown as escaped text only: it is whatever a stranger mailed us."""
    row = db.execute(
        "SELECT substr(message, 1, ?), length(message) FROM bounce_reports WHERE id = ?",
        [REPORT_SHOWN_BYTES, report_id],
    ).fetchone()
    if row is None:
        return None
    shown, size = row
    # Stored as a BLOB by ingest; a TEXT value (a hand-made row) is shown as it is.
    text = shown.decode("utf-8", "replace") if isinstance(shown, bytes) else str(shown or "")
    return text, size > REPORT_SHOWN_BYTES


class LiftRefused(Exception):
    """Why staff may not lift a suppression: `complaint`, `own_wish`, `not_suppressed`,
    `not_a_bounce` (the page words each)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lift_check(db: Database, found: dict) -> str:
    """The suppression's source that may be lifted ('bounce'); raises LiftRefused."""
    sources = subscribers.suppression_sources(db, found["email"])
    if found["severity"] == "complaint" or "complaint" in sources:
        raise LiftRefused("complaint")
    if not sources:
        raise LiftRefused("not_suppressed")
    if sources != {"bounce"}:
        # They unsubscribed, objected or were erased: their own wish, not a bounce.
        raise LiftRefused("own_wish")
    if found["severity"] not in ("hard", "soft"):
        raise LiftRefused("not_a_bounce")
    return "bounce"


def lift_suppression(db: Database, event_id: int, actor: str, reason: str, now: datetime) -> dict:
    """Take a falsely bounced address off the suppression list, audited; returns the event.

    Raises LookupError for an unknown event, LiftRefused when staff may not lift it.
    """
    with durable_transaction(db):
        found = event(db, event_id)
        if found is None:
            raise LookupError(event_id)
        lift_check(db, found)
        subscribers.lift_suppression(db, found["email"])
        subscribers.record_event(
            db, found["subscriber_id"], "suppression_lifted", now, "staff", found["campaign_id"]
        )
        audit.record(
            db,
            actor,
            "suppression_lifted",
            now,
            target=f"subscriber:{found['subscriber_id']}",
            bounce_event=event_id,
            status_code=found["status_code"],
            reason=reason,
        )
    return found
