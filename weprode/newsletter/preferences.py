"""The preference centre: what a subscriber changes with the link in every mail.

No login and no cookie: the signed link names the subscriber, GET only shows, and each
POST changes one thing. Changes are the person's own, so their history says
"preferences", and leaving from here can be undone like any unsubscribe of theirs.
"""

from datetime import datetime
from enum import StrEnum

from ..db import Database, write_transaction
from . import optout, subscribers

SOURCE = "preferences"


class Standing(StrEnum):
    """What the page can offer the person behind a link."""

    SUBSCRIBED = "subscribed"  # may change everything, or leave
    UNCONFIRMED = "unconfirmed"  # must confirm the signup first
    LEFT = "left"  # churned or bounced: may sign up again, nothing to edit
    GONE = "gone"  # erased or purged: nothing held


def standing(subscriber: dict | None) -> Standing:
    """Which version of the page the subscriber's record calls for."""
    if subscriber is None:
        return Standing.GONE
    if subscriber["status"] == "active":
        return Standing.SUBSCRIBED
    if subscriber["status"] == "pending":
        return Standing.UNCONFIRMED
    return Standing.LEFT


def save(
    db: Database, subscriber_id: int, first_name: str | None, language: str, now: datetime
) -> bool:
    """Change the first name and language of an active subscription; False otherwise.

    A churned record is kept only to prove the churn until it is purged: editing it
    would serve nobody. The status is checked by the UPDATE itself, so an unsubscribe
    landing at the same moment wins.
    """
    if language not in subscribers.LANGUAGES:
        raise ValueError("Unknown language.")
    with write_transaction(db):
        changed = db.execute(
            "UPDATE subscribers SET first_name = ?, language = ? "
            "WHERE id = ? AND status = 'active'",
            [(first_name or "").strip() or None, language, subscriber_id],
        ).rowcount
        if changed:
            subscribers.record_event(db, subscriber_id, "rectified", now, SOURCE)
    return bool(changed)


def leave(db: Database, subscriber_id: int, now: datetime) -> optout.Unsubscribed:
    """Leave the newsletter from the preference page (undoable for 24 hours)."""
    return optout.unsubscribe(db, subscriber_id, SOURCE, now)
