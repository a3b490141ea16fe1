"""A person's topics: joined (with a consent proof each) and left, one by one.

`subscribers.status` is the overall state and stays in step here: a person is active
while they receive at least one topic; leaving the last one is the churn whose date
starts the retention clock, and leaving everything (unsubscribe from all, complaint,
objection) ends every topic with the same date, so an undo can restore exactly those.
Callers hold the write transaction.
"""

from collections.abc import Iterable
from datetime import datetime

from ..db import Database, isoformat
from . import topics

# What a signup asked for travels on the subscriber row until it is confirmed.
REQUEST_SEPARATOR = ","


def request_text(topic_ids: Iterable[int]) -> str:
    """`[1, 3]` -> `"1,3"`, as `subscribers.request_topics` keeps it."""
    return REQUEST_SEPARATOR.join(str(topic_id) for topic_id in sorted(set(topic_ids)))


def requested(db: Database, text: str | None) -> list[int]:
    """The requested topics that still exist; the main topic for a request without any."""
    wanted = [int(part) for part in (text or "").split(REQUEST_SEPARATOR) if part.isdigit()]
    if not wanted:
        return [topics.main_topic_id(db)]
    marks = ", ".join("?" for _ in wanted)
    rows = db.execute(
        f"SELECT id FROM topics WHERE id IN ({marks}) ORDER BY position, id", wanted
    ).fetchall()
    return [row[0] for row in rows]


def active_topic_ids(db: Database, subscriber_id: int) -> set[int]:
    """The topics the person receives (whatever their overall status)."""
    rows = db.execute(
        "SELECT topic_id FROM subscriptions WHERE subscriber_id = ? AND status = 'active'",
        [subscriber_id],
    ).fetchall()
    return {row[0] for row in rows}


def of_subscriber(db: Database, subscriber_id: int) -> list[dict]:
    """Each topic the person ever joined, with its dates, in the topics' order."""
    return list(
        db.query(
            "SELECT t.id AS topic_id, t.slug, t.name_en, t.name_fr, s.status, "
            "s.subscribed_at, s.churned_at, s.churn_source, s.churn_campaign_id "
            "FROM subscriptions s JOIN topics t ON t.id = s.topic_id "
            "WHERE s.subscriber_id = ? ORDER BY t.position, t.id",
            [subscriber_id],
        )
    )


def join(db: Database, subscriber_id: int, topic_ids: Iterable[int], now: datetime) -> list[int]:
    """Make the person receive `topic_ids`; returns those they did not receive before."""
    stamp = isoformat(now)
    joined = []
    for topic_id in topic_ids:
        changed = db.execute(
            "INSERT INTO subscriptions (subscriber_id, topic_id, status, subscribed_at) "
            "VALUES (?, ?, 'active', ?) ON CONFLICT (subscriber_id, topic_id) DO UPDATE SET "
            "status = 'active', subscribed_at = excluded.subscribed_at, churned_at = NULL, "
            "churn_source = NULL, churn_campaign_id = NULL WHERE status != 'active'",
            [subscriber_id, topic_id, stamp],
        ).rowcount
        if changed:
            joined.append(topic_id)
    return joined


def leave(
    db: Database,
    subscriber_id: int,
    topic_id: int,
    now: datetime,
    source: str,
    campaign_id: int | None = None,
) -> bool:
    """End one topic; False when the person did not receive it."""
    return bool(
        db.execute(
            "UPDATE subscriptions SET status = 'churned', churned_at = ?, churn_source = ?, "
            "churn_campaign_id = ? WHERE subscriber_id = ? AND topic_id = ? AND status = 'active'",
            [isoformat(now), source, campaign_id, subscriber_id, topic_id],
        ).rowcount
    )


def leave_all(
    db: Database, subscriber_id: int, now: datetime, source: str, campaign_id: int | None = None
) -> int:
    """End every topic the person receives, with one date; returns how many."""
    return db.execute(
        "UPDATE subscriptions SET status = 'churned', churned_at = ?, churn_source = ?, "
        "churn_campaign_id = ? WHERE subscriber_id = ? AND status = 'active'",
        [isoformat(now), source, campaign_id, subscriber_id],
    ).rowcount


def receives_any(db: Database, subscriber_id: int) -> bool:
    """True while one of the person's topics is still active."""
    sql = "SELECT 1 FROM subscriptions WHERE subscriber_id = ? AND status = 'active' LIMIT 1"
    return db.execute(sql, [subscriber_id]).fetchone() is not None


def restore(db: Database, subscriber_id: int, churned_at: str, source: str) -> int:
    """Undo: the topics ended by the churn at `churned_at` (same source) become active again."""
    return db.execute(
        "UPDATE subscriptions SET status = 'active', churned_at = NULL, churn_source = NULL, "
        "churn_campaign_id = NULL WHERE subscriber_id = ? AND status = 'churned' "
        "AND churned_at = ? AND churn_source = ?",
        [subscriber_id, churned_at, source],
    ).rowcount
