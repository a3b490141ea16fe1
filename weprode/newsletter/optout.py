"""Leaving: one-click unsubscribe, the churn record and suppression, and undo."""

from datetime import datetime
from enum import StrEnum

from .. import tokens
from ..db import Database, isoformat, parse_timestamp, write_transaction
from . import subscribers


class UndoOutcome(StrEnum):
    """What following an "Undo" link did."""

    RESTORED = "restored"
    ALREADY = "already"  # active again already
    EXPIRED = "expired"
    INVALID = "invalid"


def unsubscribe(
    db: Database, subscriber_id: int, source: str, now: datetime, campaign_id: int | None = None
) -> dict | None:
    """Unsubscribe; idempotent: a second call keeps the first churn date.

    Records the churn date, its source and campaign, and suppresses the address.
    Returns the subscriber afterwards, or None if the record no longer exists
    (erased or purged), which callers treat as already done. This is the hot path
    of one-click requests, hence plain SQL: one conditional UPDATE decides.
    """
    stamp = isoformat(now)
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE subscribers SET status = 'churned', churned_at = ?, churn_source = ?, "
            "churn_campaign_id = ? WHERE id = ? AND status != 'churned' RETURNING *",
            [stamp, source, campaign_id, subscriber_id],
        )
        row = cursor.fetchone()
        if row is None:  # already churned, or gone
            return subscribers.get(db, subscriber_id)
        churned = dict(zip([column[0] for column in cursor.description], row, strict=True))
        subscribers.suppress(db, churned["email"], "unsubscribe", now)
        subscribers.record_event(db, subscriber_id, "churned", now, source, campaign_id)
    return churned


def undo_token(subscriber: dict) -> str:
    """The token of the "Undo" button shown right after unsubscribing."""
    return tokens.make_undo_token(subscriber["id"], parse_timestamp(subscriber["churned_at"]))


def undo(db: Database, token: str, now: datetime) -> tuple[UndoOutcome, dict | None]:
    """Reactivate a subscription that was just ended; returns (outcome, subscriber).

    The token names the churn it undoes, so it cannot revive a later one.
    """
    check = tokens.check_undo_token(token, now)
    if check.status == tokens.TokenStatus.INVALID:
        return UndoOutcome.INVALID, None
    subscriber_id, churned_at = check.payload
    with write_transaction(db):
        subscriber = subscribers.get(db, subscriber_id)
        if subscriber is None:
            return UndoOutcome.INVALID, None
        if subscriber["status"] == "active":
            return UndoOutcome.ALREADY, subscriber
        if subscriber["churned_at"] != isoformat(churned_at):
            return UndoOutcome.INVALID, subscriber
        if check.status == tokens.TokenStatus.EXPIRED:
            return UndoOutcome.EXPIRED, subscriber
        # Back to where they were: a signup never confirmed stays unconfirmed.
        status = "active" if subscriber["confirmed_at"] else "pending"
        db["subscribers"].update(
            subscriber_id,
            {"status": status, "churned_at": None, "churn_source": None, "churn_campaign_id": None},
        )
        subscribers.lift_suppression(db, subscriber["email"])
        subscribers.record_event(db, subscriber_id, "resubscribed", now, "undo")
    return UndoOutcome.RESTORED, subscribers.get(db, subscriber_id)
