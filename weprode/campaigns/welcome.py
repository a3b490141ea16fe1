"""Welcome mails: a campaign of kind 'welcome' that each new reader of its topic gets.

It is written, previewed and tested like any campaign, but never frozen for an
audience. Once staff switch it on it stays `sending`: joining its topic (confirming a
signup, ticking the topic on the preference page) adds the person's delivery row in the
same transaction, and the worker sends such rows like any campaign's (same rendering,
recorder, journal and bounce handling). Rows are unique per (campaign, subscriber), so a
person gets a topic's welcome mail once, even after leaving and joining again. Pausing
it stops the sends, and nobody is queued while staff hold it paused: a welcome arriving
days later would greet nobody. A pause by relay failures is not staff's choice: people
joining during the outage are still queued and welcomed when it resumes. Its state
changes are `ledger`'s pause, resume and cancel.
"""

from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _

from ..db import Database, first_row, isoformat, write_transaction
from ..deliverability.providers import provider_of
from . import ledger

KIND = "welcome"


def of_topic(db: Database, topic_id: int) -> dict | None:
    """The topic's welcome mail (not a cancelled one), or None."""
    return first_row(
        db,
        "SELECT id, status FROM campaigns WHERE kind = 'welcome' AND topic_id = ? "
        "AND status != 'cancelled'",
        [topic_id],
    )


def by_topic(db: Database) -> dict[int, dict]:
    """{topic id: its welcome mail (id, status)} for the campaign list."""
    return {
        row["topic_id"]: row
        for row in db.query(
            "SELECT id, status, topic_id FROM campaigns WHERE kind = 'welcome' "
            "AND status != 'cancelled'"
        )
    }


def switch_on(db: Database, campaign_id: int, now: datetime) -> None:
    """Start welcoming: from now on each new reader of the topic is queued."""
    with write_transaction(db):
        campaign = ledger.require(db, campaign_id, "draft", action="send")
        if campaign["kind"] != KIND:
            raise ledger.CampaignStateError(_("Only a welcome mail is switched on."))
        db.execute(
            "UPDATE campaigns SET status = 'sending', started_at = ? WHERE id = ?",
            [isoformat(now), campaign_id],
        )


def queue(db: Database, subscriber_id: int, topic_ids: Iterable[int]) -> int:
    """Queue the welcome mail of each of `topic_ids` that has a live one, for the
    subscriber who just joined them; returns the rows added. Inside the caller's
    transaction, so the join and its welcome commit together."""
    topic_ids = list(topic_ids)
    if not topic_ids:
        return 0
    # Imported here: `batch` needs `render`, which the signup's import chain reaches first.
    from .batch import PAUSED_BY_FAILURES

    marks = ", ".join("?" for _ in topic_ids)
    live = db.execute(
        "SELECT id FROM campaigns WHERE kind = 'welcome' AND (status = 'sending' "
        "OR (status = 'paused' AND paused_reason LIKE ? || '%')) "
        f"AND topic_id IN ({marks}) ORDER BY id",
        [PAUSED_BY_FAILURES, *topic_ids],
    ).fetchall()
    if not live:
        return 0
    email = db.execute("SELECT email FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    provider = provider_of(email[0])
    added = 0
    for (campaign_id,) in live:
        added += db.execute(
            "INSERT OR IGNORE INTO deliveries (campaign_id, subscriber_id, provider) "
            "VALUES (?, ?, ?)",
            [campaign_id, subscriber_id, provider],
        ).rowcount
    return added
