"""Leaving: one-click unsubscribe, the churn record and suppression, and undo.

A campaign's link leaves the campaign's topic (RFC 8058 unsubscribes from "the list");
leaving the last topic, or everything at once, is the churn: its date starts the
retention clock and the address joins the suppression list.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .. import tokens
from ..db import Database, durable_transaction, isoformat, parse_timestamp
from . import subscribers, subscriptions

# Churns the person made with their own link: only these may be undone. Staff
# actions, rights requests (objection), bounces and complaints never are.
UNDOABLE_SOURCES = frozenset({"page", "one-click", "preferences"})


class UndoOutcome(StrEnum):
    """What following an "Undo" link did."""

    RESTORED = "restored"
    ALREADY = "already"  # active again already
    EXPIRED = "expired"
    INVALID = "invalid"
    REFUSED = "refused"  # genuine, but the churn is not (or no longer) the person's own


@dataclass(frozen=True)
class Unsubscribed:
    """What `unsubscribe` did: the record afterwards, and whether this call churned it."""

    subscriber: dict | None  # None: erased or purged
    created: bool  # this call ended the whole subscription (False: already churned, gone)
    # The topic left while others go on (now, or by an earlier click on the same link).
    left_topic: int | None = None


def campaign_topic(db: Database, campaign_id: int | None) -> int | None:
    """The topic a campaign went to; None without a campaign (or one since deleted)."""
    if campaign_id is None:
        return None
    row = db.execute("SELECT topic_id FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    return row[0] if row else None


def unsubscribe(
    db: Database,
    subscriber_id: int,
    source: str,
    now: datetime,
    campaign_id: int | None = None,
    topic_id: int | None = None,
) -> Unsubscribed:
    """Leave `topic_id`, or everything when None; idempotent: a second call keeps the first date.

    Leaving a topic while others go on records that topic's date only. Leaving the
    last one, or everything, records the churn date, its source and campaign, and
    suppresses the address. Says whether this call made the churn, so only that
    request offers an "Undo"; a missing record (erased or purged) is treated by
    callers as already done. This is the hot path of one-click requests, hence plain
    SQL: one conditional UPDATE decides.
    """
    stamp = isoformat(now)
    with durable_transaction(db):
        if topic_id is not None:
            left = subscriptions.leave(db, subscriber_id, topic_id, now, source, campaign_id)
            if subscriptions.receives_any(db, subscriber_id):
                if left:
                    subscribers.record_event(
                        db, subscriber_id, "left_topic", now, source, campaign_id
                    )
                # Said even when an earlier click left it: the page must not tell someone
                # who still receives other topics that they left the newsletter.
                return Unsubscribed(
                    subscribers.get(db, subscriber_id), created=False, left_topic=topic_id
                )
        cursor = db.execute(
            "UPDATE subscribers SET status = 'churned', churned_at = ?, churn_source = ?, "
            "churn_campaign_id = ? WHERE id = ? AND status != 'churned' RETURNING *",
            [stamp, source, campaign_id, subscriber_id],
        )
        row = cursor.fetchone()
        if row is None:  # already churned, or gone
            subscriber = subscribers.get(db, subscriber_id)
            if subscriber is not None and source not in UNDOABLE_SOURCES:
                # Staff or a rights request confirm the churn: the history says so,
                # which stops an earlier "Undo" from reversing them.
                subscribers.record_event(db, subscriber_id, "unsubscribed_again", now, source)
            return Unsubscribed(subscriber, created=False)
        churned = dict(zip([column[0] for column in cursor.description], row, strict=True))
        subscriptions.leave_all(db, subscriber_id, now, source, campaign_id)
        subscribers.suppress(db, churned["email"], "unsubscribe", now)
        subscribers.record_event(db, subscriber_id, "churned", now, source, campaign_id)
    return Unsubscribed(churned, created=True)


def undo_token(result: Unsubscribed) -> str | None:
    """The token of the "Undo" button shown right after unsubscribing, or None.

    Only the request that ended the subscription, from the person's own link, gets
    one: posting an old link again (they sit in forwarded newsletters) must not hand
    out an undo for a churn someone else, or something else, caused.
    """
    subscriber = result.subscriber
    if not result.created or subscriber is None:
        return None
    if subscriber["churn_source"] not in UNDOABLE_SOURCES:
        return None
    return tokens.make_undo_token(subscriber["id"], parse_timestamp(subscriber["churned_at"]))


def is_undoable(db: Database, subscriber: dict) -> bool:
    """True when the current churn is the person's own and nothing happened since.

    The churn must come from their link, be the last event recorded in their history
    (an objection or a staff action after it adds one), and the address's suppression
    must be that unsubscribe's, not an objection or erasure recorded another way.
    """
    if subscriber["churn_source"] not in UNDOABLE_SOURCES:
        return False
    last = db.execute(
        "SELECT kind, at FROM subscriber_events WHERE subscriber_id = ? ORDER BY id DESC LIMIT 1",
        [subscriber["id"]],
    ).fetchone()
    if last is None or tuple(last) != ("churned", subscriber["churned_at"]):
        return False
    return subscribers.suppression_sources(db, subscriber["email"]) == {"unsubscribe"}


def undo(db: Database, token: str, now: datetime) -> tuple[UndoOutcome, dict | None]:
    """Reactivate a subscription that was just ended; returns (outcome, subscriber).

    The token names the churn it undoes, so it cannot revive a later one, and only a
    churn the person made themselves, with nothing recorded since, is reversed.
    """
    check = tokens.check_undo_token(token, now)
    if check.status == tokens.TokenStatus.INVALID:
        return UndoOutcome.INVALID, None
    subscriber_id, churned_at = check.payload
    with durable_transaction(db):
        subscriber = subscribers.get(db, subscriber_id)
        if subscriber is None:
            return UndoOutcome.INVALID, None
        if subscriber["status"] == "active":
            return UndoOutcome.ALREADY, subscriber
        if subscriber["churned_at"] != isoformat(churned_at):
            return UndoOutcome.INVALID, subscriber
        if check.status == tokens.TokenStatus.EXPIRED:
            return UndoOutcome.EXPIRED, subscriber
        if not is_undoable(db, subscriber):
            return UndoOutcome.REFUSED, subscriber
        # Back to where they were: a signup never confirmed stays unconfirmed.
        status = "active" if subscriber["confirmed_at"] else "pending"
        db["subscribers"].update(
            subscriber_id,
            {"status": status, "churned_at": None, "churn_source": None, "churn_campaign_id": None},
        )
        # The topics that churn ended, and only those, come back.
        subscriptions.restore(
            db, subscriber_id, subscriber["churned_at"], subscriber["churn_source"]
        )
        subscribers.lift_suppression(db, subscriber["email"])
        subscribers.record_event(db, subscriber_id, "resubscribed", now, "undo")
    return UndoOutcome.RESTORED, subscribers.get(db, subscriber_id)
