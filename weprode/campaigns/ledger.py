"""The delivery ledger: the frozen audience and each recipient's state, in SQLite.

Starting a send writes one row per recipient (`freeze`). Senders claim rows in batches (status
`sending`), send them, and mark them `sent`, `failed` or back to `queued` with a retry
time, a few at a time as the relay answers (see `recorder`). A sender that dies leaves
rows in `sending`; whoever takes the campaign over puts them back in the queue, so at
most the accepted messages not yet recorded at the crash go twice. A sender that stops
cleanly records what it sent and gives back the rows it never began (`unclaim`).
Who the sender is, and taking a campaign over, is `senders`' business.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from flask_babel import gettext as _

from ..db import Database, first_row, isoformat, write_transaction
from . import audiences, states


class CampaignStateError(ValueError):
    """The campaign is not in a state that allows this action."""


# A campaign's name in lists: its English subject, else its French one.
TITLE = (
    "(SELECT subject FROM campaign_versions v WHERE v.campaign_id = campaigns.id "
    "ORDER BY v.language != 'en' LIMIT 1) AS subject"
)


# The subject of the version the reader of delivery `d` got: theirs, else the only one.
DELIVERY_SUBJECT = (
    "coalesce((SELECT v.subject FROM campaign_versions v WHERE v.campaign_id = d.campaign_id "
    "AND v.language = (SELECT language FROM subscribers WHERE id = d.subscriber_id)), "
    "(SELECT v.subject FROM campaign_versions v WHERE v.campaign_id = d.campaign_id LIMIT 1))"
)


def get(db: Database, campaign_id: int) -> dict | None:
    """The campaign row with its title as `subject` (versions: `compose.get`), or None."""
    return first_row(db, f"SELECT *, {TITLE} FROM campaigns WHERE id = ?", [campaign_id])


def require(db: Database, campaign_id: int, *statuses: str, action: str = "change") -> dict:
    """The campaign, checked to be in one of `statuses` for `action` (a key of
    `states.ACTION_NEEDS`, named in the refusal staff read)."""
    campaign = get(db, campaign_id)
    if campaign is None:
        raise CampaignStateError(_("There is no campaign %(id)s.", id=campaign_id))
    if statuses and campaign["status"] not in statuses:
        raise CampaignStateError(states.refusal(campaign_id, campaign["status"], statuses, action))
    return campaign


class AudienceNotChosen(CampaignStateError):
    """The campaign names no audience (or one that no longer exists): it cannot go out."""


def chosen_audience(campaign: dict) -> "audiences.Audience":
    """The campaign's audience; `AudienceNotChosen` when staff have not chosen one.

    A welcome mail has none: it goes to each new reader of its topic (see `welcome`)."""
    if campaign["kind"] == "welcome":
        raise CampaignStateError(
            _("A welcome mail goes to each new reader of its topic, not to an audience.")
        )
    try:
        return audiences.get(campaign["audience"])
    except audiences.AudienceMissing as error:
        raise AudienceNotChosen(str(error)) from error


def schedule(db: Database, campaign_id: int, when: datetime, now: datetime) -> None:
    """Send at `when` (the worker starts it then)."""
    if when <= now:
        raise CampaignStateError(_("Choose a time in the future."))
    with write_transaction(db):
        chosen_audience(require(db, campaign_id, "draft", "scheduled", action="schedule"))
        db.execute(
            "UPDATE campaigns SET status = 'scheduled', scheduled_at = ? WHERE id = ?",
            [isoformat(when), campaign_id],
        )


def unschedule(db: Database, campaign_id: int) -> None:
    """Put a scheduled campaign back to draft (its audience no longer exists)."""
    with write_transaction(db):
        db.execute(
            "UPDATE campaigns SET status = 'draft', scheduled_at = NULL "
            "WHERE id = ? AND status = 'scheduled'",
            [campaign_id],
        )


# The reason a pause by staff is stored with (`admin.labels.pause_reason` words it).
PAUSED_BY_STAFF = "Paused by staff"


def pause(db: Database, campaign_id: int, reason: str, now: datetime) -> None:
    """Stop sending; rows stay queued. `reason` is shown to staff."""
    with write_transaction(db):
        require(db, campaign_id, "sending", action="pause")
        db.execute(
            "UPDATE campaigns SET status = 'paused', paused_reason = ?, paused_at = ? WHERE id = ?",
            [reason, isoformat(now), campaign_id],
        )


def resume(db: Database, campaign_id: int) -> None:
    """Carry on sending where it stopped."""
    with write_transaction(db):
        require(db, campaign_id, "paused", action="resume")
        db.execute(
            "UPDATE campaigns SET status = 'sending', paused_reason = NULL, paused_at = NULL "
            "WHERE id = ?",
            [campaign_id],
        )


def cancel(db: Database, campaign_id: int, now: datetime) -> None:
    """Stop for good: whoever was not sent to yet is skipped."""
    with write_transaction(db):
        require(db, campaign_id, "draft", "scheduled", "sending", "paused", action="cancel")
        db.execute(
            "UPDATE deliveries SET status = 'skipped', smtp_reply = 'cancelled' "
            "WHERE campaign_id = ? AND status IN ('queued', 'sending')",
            [campaign_id],
        )
        db.execute(
            "UPDATE campaigns SET status = 'cancelled', finished_at = ? WHERE id = ?",
            [isoformat(now), campaign_id],
        )


def claim(
    db: Database,
    campaign_id: int,
    sender_id: str,
    batch_size: int,
    now: datetime,
    provider: str | None = None,
) -> list[dict]:
    """Take up to `batch_size` due rows (of one `provider`'s recipients when given);
    returns recipients still subscribed.

    Nothing is taken once the campaign is no longer sending: a pause or a cancel stops
    every sender at its next claim, not at its next heartbeat. Rows of people who
    unsubscribed, left the campaign's topic (or were erased) since the audience was
    frozen are marked `skipped` here, at send time.
    """
    stamp = isoformat(now)
    of_provider, provider_params = (
        ("AND provider = ? ", [provider]) if provider is not None else ("", [])
    )
    with write_transaction(db):
        claimed = db.execute(
            "UPDATE deliveries SET status = 'sending', claimed_by = ?, claimed_at = ?, "
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM deliveries "
            f"WHERE campaign_id = ? {of_provider}AND status = 'queued' "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "AND (SELECT status FROM campaigns WHERE id = ?) = 'sending' ORDER BY id LIMIT ?) "
            "RETURNING id",
            [sender_id, stamp, campaign_id, *provider_params, stamp, campaign_id, batch_size],
        ).fetchall()
        if not claimed:
            return []
        ids = [row[0] for row in claimed]
        placeholders = ", ".join("?" for _ in ids)
        # The cursor, not `db.query`: sqlite-utils' row dicts cost more than the query
        # itself, once per message of every campaign. Someone who left the campaign's
        # topic since the freeze counts as gone.
        cursor = db.conn.execute(
            "SELECT d.id AS delivery_id, d.attempts, s.id, s.email, s.first_name, "
            "s.language, CASE WHEN s.status = 'active' AND (c.topic_id IS NULL "
            "OR t.status = 'active') THEN 'active' ELSE 'left' END AS status "
            "FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
            "JOIN campaigns c ON c.id = d.campaign_id LEFT JOIN subscriptions t "
            "ON t.subscriber_id = s.id AND t.topic_id = c.topic_id "
            f"WHERE d.id IN ({placeholders}) ORDER BY d.id",
            ids,
        )
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor]
        gone = [row["delivery_id"] for row in rows if row["status"] != "active"]
        if gone:
            mark(db, [DeliveryOutcome(row_id, "skipped", None, "unsubscribed") for row_id in gone])
    return [row for row in rows if row["status"] == "active"]


class DeliveryOutcome(NamedTuple):
    """What became of one delivery row after a send attempt (or a decision not to send)."""

    delivery_id: int
    status: str  # sent, failed, skipped, or queued (a retry at `retry_at`)
    retry_at: datetime | None
    reply: str  # the relay's answer, or why we did not send


def mark(db: Database, outcomes: Iterable[DeliveryOutcome], now: datetime | None = None) -> None:
    """Record `DeliveryOutcome`s; `now` stamps `sent_at` on the sent ones.

    What happened is always recorded (a message that went out is `sent`, even if the
    campaign was cancelled meanwhile), but a retry only puts back in the queue a row
    still in flight: a cancel that skipped it while its batch was out wins.
    """
    stamp = isoformat(now) if now else None
    outcomes = [DeliveryOutcome(*outcome) for outcome in outcomes]
    # Most outcomes are "sent" with the same reply: one statement for all of them. The
    # recorder commits every few messages, and each statement costs a round of the GIL.
    accepted = [o.delivery_id for o in outcomes if o.status == "sent" and o.reply == "250"]
    if accepted:
        placeholders = ", ".join("?" for _ in accepted)
        db.conn.execute(
            "UPDATE deliveries SET status = 'sent', next_attempt_at = NULL, smtp_reply = '250', "
            f"sent_at = ?, claimed_by = NULL WHERE id IN ({placeholders})",
            [stamp, *accepted],
        )
        outcomes = [o for o in outcomes if not (o.status == "sent" and o.reply == "250")]
    if not outcomes:
        return
    db.conn.executemany(
        "UPDATE deliveries SET status = ?, next_attempt_at = ?, smtp_reply = ?, "
        "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, claimed_by = NULL "
        "WHERE id = ? AND (? != 'queued' OR status = 'sending')",
        [
            (
                status,
                isoformat(retry_at) if retry_at else None,
                reply,
                status,
                stamp,
                delivery_id,
                status,
            )
            for delivery_id, status, retry_at, reply in outcomes
        ],
    )


def record_outcomes(db: Database, outcomes: Iterable[DeliveryOutcome], now: datetime) -> None:
    """`mark` in its own transaction.

    Not a bulk job's transaction (`background`): the recorder's commits are short, but
    made in a process whose sender threads hold the GIL, a few of them lasted 100-200 ms
    under load; pausing 3x that after each, the recorder fell behind, the senders
    waited for its room, and a 20,000-recipient send took 120 s instead of 12.
    """
    with write_transaction(db):
        mark(db, outcomes, now)


def unclaim(
    db: Database, delivery_ids: list[int], sender_id: str, not_before: datetime | None = None
) -> None:
    """Put rows this sender claimed but never began back in the queue (a clean stop, or
    their provider throttled us: then not before `not_before`).

    The claim's attempt is given back too: stopping is not a failed try. Rows another
    sender took over, or a cancel skipped, are left alone.
    """
    placeholders = ", ".join("?" for _ in delivery_ids)
    with write_transaction(db):
        db.execute(
            "UPDATE deliveries SET status = 'queued', claimed_by = NULL, "
            "attempts = max(attempts - 1, 0), next_attempt_at = ? "
            f"WHERE id IN ({placeholders}) AND status = 'sending' AND claimed_by = ?",
            [isoformat(not_before) if not_before else None, *delivery_ids, sender_id],
        )


def finish_if_done(db: Database, campaign_id: int, now: datetime) -> bool:
    """Mark the campaign sent once no row is queued or in flight; True if finished."""
    with write_transaction(db):
        pending = db.execute(
            "SELECT 1 FROM deliveries WHERE campaign_id = ? AND status IN ('queued', 'sending') "
            "LIMIT 1",
            [campaign_id],
        ).fetchone()
        if pending:
            return False
        # A welcome mail stays `sending`: the next person to join its topic is queued.
        db.execute(
            "UPDATE campaigns SET status = 'sent', finished_at = ?, sender_id = NULL "
            "WHERE id = ? AND status = 'sending' AND kind = 'regular'",
            [isoformat(now), campaign_id],
        )
    return True


def recipients(db: Database, campaign_id: int) -> int:
    """How many rows the frozen audience has."""
    sql = "SELECT count(*) FROM deliveries WHERE campaign_id = ?"
    return db.execute(sql, [campaign_id]).fetchone()[0]


def figures(db: Database, campaign_id: int) -> dict[str, int]:
    """Recipients and counts per delivery state, plus unsubscribes from this campaign."""
    counts = dict.fromkeys(("queued", "sending", "sent", "failed", "skipped"), 0)
    for row in db.query(
        "SELECT status, count(*) AS n FROM deliveries WHERE campaign_id = ? GROUP BY status",
        [campaign_id],
    ):
        counts[row["status"]] = row["n"]
    counts["recipients"] = sum(
        counts[s] for s in ("queued", "sending", "sent", "failed", "skipped")
    )
    counts["unsubscribed"] = db.execute(
        # Leaving the campaign's topic counts as well as leaving everything.
        "SELECT count(DISTINCT subscriber_id) FROM subscriber_events "
        "WHERE kind IN ('churned', 'left_topic') AND campaign_id = ?",
        [campaign_id],
    ).fetchone()[0]
    done = counts["sent"] + counts["failed"] + counts["skipped"]
    counts["percent"] = round(100 * done / counts["recipients"]) if counts["recipients"] else 0
    return counts


def deliveries_for(db: Database, subscriber_id: int, limit: int = 100) -> list[dict]:
    """The campaigns a subscriber was sent (or is queued for), newest first."""
    return list(
        db.query(
            f"SELECT d.campaign_id, {DELIVERY_SUBJECT} AS subject, d.status, d.sent_at, "
            "d.smtp_reply FROM deliveries d "
            "WHERE d.subscriber_id = ? ORDER BY d.id DESC LIMIT ?",
            [subscriber_id, limit],
        )
    )
