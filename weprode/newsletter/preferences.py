"""The preference centre: what a subscriber changes with the link in every mail.

No login and no cookie: the signed link names the subscriber, GET only shows, and each
POST changes one thing. Changes are the person's own, so their history says
"preferences", and leaving from here can be undone like any unsubscribe of theirs.
"""

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum

from ..db import Database, durable_transaction
from . import optout, subscribers, subscriptions
from .signup import CURRENT_CONSENT_VERSION

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


PAGE = "/newsletter/manage"


def offered_topics(db: Database, subscriber_id: int) -> list[dict]:
    """The public topics, and the internal ones the person receives (so they can leave)."""
    return list(
        db.query(
            "SELECT * FROM topics WHERE public = 1 OR id IN (SELECT topic_id FROM "
            "subscriptions WHERE subscriber_id = ? AND status = 'active') ORDER BY position, id",
            [subscriber_id],
        )
    )


def save(
    db: Database,
    subscriber_id: int,
    first_name: str | None,
    language: str,
    topic_ids: Collection[int],
    now: datetime,
) -> bool:
    """Change the first name, language and topics of an active subscription; False otherwise.

    Each topic ticked anew gets its consent proof (this page's wording, its language);
    each one unticked is left with today's date. A churned record is kept only to prove
    the churn until it is purged: editing it would serve nobody. The status is checked
    by the UPDATE itself, so an unsubscribe landing at the same moment wins.
    """
    if language not in subscribers.LANGUAGES:
        raise ValueError("Unknown language.")
    if not topic_ids:
        raise ValueError("At least one topic; leaving everything is `leave`.")
    with durable_transaction(db):
        changed = db.execute(
            "UPDATE subscribers SET first_name = ?, language = ? "
            "WHERE id = ? AND status = 'active'",
            [(first_name or "").strip() or None, language, subscriber_id],
        ).rowcount
        if not changed:
            return False
        subscribers.record_event(db, subscriber_id, "rectified", now, SOURCE)
        receives = subscriptions.active_topic_ids(db, subscriber_id)
        for topic_id in sorted(receives - set(topic_ids)):
            subscriptions.leave(db, subscriber_id, topic_id, now, SOURCE)
            subscribers.record_event(db, subscriber_id, "left_topic", now, SOURCE)
        joined = subscriptions.join(db, subscriber_id, sorted(set(topic_ids) - receives), now)
        # Imported here: the campaigns package imports its command line, which reaches
        # the contact and rights modules, which import this one.
        from ..campaigns import welcome

        welcome.queue(db, subscriber_id, joined)
        subscribers.record_consent(
            db,
            subscriber_id,
            SOURCE,
            now,
            now,
            joined,
            text_version=CURRENT_CONSENT_VERSION,
            page=PAGE,
            source=SOURCE,
            language=language,
        )
    return True


def leave(db: Database, subscriber_id: int, now: datetime) -> optout.Unsubscribed:
    """Leave the newsletter from the preference page (undoable for 24 hours)."""
    return optout.unsubscribe(db, subscriber_id, SOURCE, now)
