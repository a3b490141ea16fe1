"""What a bounce or a complaint does to the person and to the campaign.

Hard bounce: the subscriber becomes `bounced` and the address joins the suppression
list (source `bounce`): no more mail goes to it. Soft bounces on three different days
within 30 days, with no success in between, count as hard. Policy refusals are
recorded and change nothing. A complaint unsubscribes (`churned`, source
`complaint`) and suppresses (source `complaint`). Only the person's own double
opt-in lifts either (see newsletter.signup.confirm).

A campaign whose hard bounces pass 5 % of at least 200 attempts, or whose complaints
pass 0.1 %, pauses itself: something is wrong with the list or the content, and going
on would cost the domain its reputation. Staff can resume it.
"""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..campaigns import ledger
from ..db import Database, durable_transaction, isoformat
from ..newsletter import subscribers, subscriptions
from . import status_codes

SOFT_WINDOW = timedelta(days=30)
SOFT_DAYS_FOR_HARD = 3
MIN_ATTEMPTS_FOR_PAUSE = 200
HARD_BOUNCE_LIMIT = 0.05
COMPLAINT_LIMIT = 0.001
PAUSED_BY_BOUNCES = "Paused: too many bounces or complaints"
# A relay's reply: permanent (5xx) or temporary (4xx).
SMTP_FAILURE_REPLY = re.compile(r"[45]\d\d\b")


def record_event(
    db: Database,
    subscriber_id: int,
    severity: str,
    now: datetime,
    *,
    status_code: str | None,
    mail_kind: str,
    campaign_id: int | None,
    source: str,
    detail: str = "",
    report_id: int | None = None,
) -> None:
    """Append to the person's bounce history (kept, and erased, with them)."""
    db.execute(
        "INSERT INTO bounce_events (subscriber_id, at, severity, status_code, mail_kind, "
        "campaign_id, source, detail, report_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            subscriber_id,
            isoformat(now),
            severity,
            status_code,
            mail_kind,
            campaign_id,
            source,
            detail[:300],
            report_id,
        ],
    )


def last_success(db: Database, subscriber_id: int) -> str:
    """When mail to the person last went well: a confirmation, or a campaign sent to
    them that did not bounce. '' when never."""
    row = db.execute(
        "SELECT max(coalesce((SELECT confirmed_at FROM subscribers WHERE id = :id), ''), "
        "coalesce((SELECT max(sent_at) FROM deliveries WHERE subscriber_id = :id "
        "AND status = 'sent' AND campaign_id NOT IN (SELECT campaign_id FROM bounce_events "
        "WHERE subscriber_id = :id AND campaign_id IS NOT NULL)), ''))",
        {"id": subscriber_id},
    ).fetchone()
    return row[0] or ""


def soft_bounce_days(db: Database, subscriber_id: int, now: datetime) -> int:
    """Distinct days with a soft bounce in the last 30 days, since the last success."""
    since = max(isoformat(now - SOFT_WINDOW), last_success(db, subscriber_id))
    return db.execute(
        "SELECT count(DISTINCT substr(at, 1, 10)) FROM bounce_events "
        "WHERE subscriber_id = ? AND severity = 'soft' AND at > ?",
        [subscriber_id, since],
    ).fetchone()[0]


def mark_bounced(db: Database, subscriber: dict, campaign_id: int | None, now: datetime) -> bool:
    """Status `bounced` and the address suppressed; False if they had already left."""
    changed = db.execute(
        "UPDATE subscribers SET status = 'bounced', bounced_at = ? "
        "WHERE id = ? AND status IN ('active', 'pending') RETURNING id",
        [isoformat(now), subscriber["id"]],
    ).fetchone()
    subscribers.suppress(db, subscriber["email"], "bounce", now)
    if changed:
        subscribers.record_event(db, subscriber["id"], "bounced", now, "bounce", campaign_id)
    return changed is not None


def apply_bounce(
    db: Database,
    subscriber: dict,
    status_code: str,
    now: datetime,
    *,
    mail_kind: str,
    campaign_id: int | None,
    source: str,
    detail: str = "",
    report_id: int | None = None,
) -> str:
    """Record a failed delivery and act on it; returns what was done, in a few words."""
    severity = status_codes.severity(status_code)
    if severity is None:
        return f"status {status_code} is no failure; nothing changed"
    # A bounce suppresses the address: on disk before the report is acknowledged.
    with durable_transaction(db):
        record_event(
            db,
            subscriber["id"],
            severity,
            now,
            status_code=status_code,
            mail_kind=mail_kind,
            campaign_id=campaign_id,
            source=source,
            detail=detail,
            report_id=report_id,
        )
        if severity == "policy":
            return f"policy refusal {status_code} recorded; stays subscribed"
        if severity == "soft":
            days = soft_bounce_days(db, subscriber["id"], now)
            if days < SOFT_DAYS_FOR_HARD:
                return f"soft bounce {status_code} recorded ({days} of {SOFT_DAYS_FOR_HARD} days)"
            changed = mark_bounced(db, subscriber, campaign_id, now)
            return f"soft bounces on {days} days count as hard: " + bounced_words(changed)
        return f"hard bounce {status_code}: " + bounced_words(
            mark_bounced(db, subscriber, campaign_id, now)
        )


def bounced_words(changed: bool) -> str:
    """The end of a report line about a bounce that counts as hard."""
    if changed:
        return "subscriber bounced, address suppressed"
    return "already not subscribed; address suppressed"


def apply_complaint(
    db: Database,
    subscriber: dict,
    now: datetime,
    *,
    mail_kind: str,
    campaign_id: int | None,
    report_id: int | None = None,
    detail: str = "",
) -> str:
    """A spam complaint unsubscribes the person at once (keeping a first churn date)."""
    with durable_transaction(db):
        record_event(
            db,
            subscriber["id"],
            "complaint",
            now,
            status_code=None,
            mail_kind=mail_kind,
            campaign_id=campaign_id,
            source="report",
            detail=detail,
            report_id=report_id,
        )
        changed = db.execute(
            "UPDATE subscribers SET status = 'churned', churned_at = ?, "
            "churn_source = 'complaint', churn_campaign_id = ? "
            "WHERE id = ? AND status != 'churned' RETURNING id",
            [isoformat(now), campaign_id, subscriber["id"]],
        ).fetchone()
        subscribers.suppress(db, subscriber["email"], "complaint", now)
        if changed:
            # A complaint is about the sender, not one topic: every topic ends.
            subscriptions.leave_all(db, subscriber["id"], now, "complaint", campaign_id)
            subscribers.record_event(db, subscriber["id"], "churned", now, "complaint", campaign_id)
    if changed:
        return "complaint: unsubscribed, address suppressed"
    return "complaint: had already unsubscribed; address suppressed"


def campaign_pause_reason(db: Database, campaign_id: int) -> str | None:
    """Why the campaign must stop (too many hard bounces or complaints), or None."""
    attempts = db.execute(
        "SELECT count(*) FROM deliveries WHERE campaign_id = ? AND status IN ('sent', 'failed')",
        [campaign_id],
    ).fetchone()[0]
    if attempts < MIN_ATTEMPTS_FOR_PAUSE:
        return None
    counts = dict.fromkeys(("hard", "complaint"), 0)
    for severity, people in db.execute(
        "SELECT severity, count(DISTINCT subscriber_id) FROM bounce_events "
        "WHERE campaign_id = ? AND severity IN ('hard', 'complaint') GROUP BY severity",
        [campaign_id],
    ):
        counts[severity] = people
    if counts["hard"] > HARD_BOUNCE_LIMIT * attempts:
        share = 100 * counts["hard"] / attempts
        return (
            f"{PAUSED_BY_BOUNCES}: {counts['hard']} hard bounces in {attempts} attempts "
            f"({share:.1f} %, more than {HARD_BOUNCE_LIMIT:.0%})"
        )
    if counts["complaint"] > COMPLAINT_LIMIT * attempts:
        share = 100 * counts["complaint"] / attempts
        return (
            f"{PAUSED_BY_BOUNCES}: {counts['complaint']} complaints in {attempts} attempts "
            f"({share:.2f} %, more than {COMPLAINT_LIMIT:.1%})"
        )
    return None


def pause_if_unsafe(db: Database, campaign_id: int | None, now: datetime) -> str | None:
    """Pause a sending campaign past the bounce or complaint limits; returns the reason."""
    if campaign_id is None:
        return None
    # Most reports come after the send (or after the pause): no counting then.
    status = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    if status is None or status[0] != "sending":
        return None
    reason = campaign_pause_reason(db, campaign_id)
    if reason is None:
        return None
    try:
        ledger.pause(db, campaign_id, reason, now)
    except ledger.CampaignStateError:
        return None  # not sending (already paused, finished or cancelled)
    return reason


def record_refusals(
    db: Database,
    campaign_id: int,
    rows: Iterable[dict],
    outcomes: Iterable[ledger.DeliveryOutcome],
    now: datetime,
) -> str | None:
    """What the relay said about failed rows, as bounces; returns a pause reason, if any.

    A 5xx answer is a bounce at once. A 4xx answer is a deferral, retried by the worker;
    a row that is `failed` with a 4xx reply has used up its retries, and counts as a
    soft bounce (three of those on different days count as hard), or as a policy
    refusal when it was a 4.7.x (the provider holding us back, not the address).
    Rows that failed for our own reasons (a message we could not build, the relay
    unreachable) count as nothing: they are not the address's fault.
    """
    by_delivery = {row["delivery_id"]: row for row in rows}
    refused = [
        (by_delivery[outcome.delivery_id], outcome.reply)
        for outcome in outcomes
        if outcome.status == "failed"
        and outcome.delivery_id in by_delivery
        and SMTP_FAILURE_REPLY.match(outcome.reply or "")
    ]
    for row, reply in refused:
        permanent = reply.startswith("5")
        apply_bounce(
            db,
            {"id": row["id"], "email": row["email"]},
            status_codes.status_in(reply, permanent=permanent),
            now,
            mail_kind="campaign",
            campaign_id=campaign_id,
            source="smtp",
            detail=reply if permanent else f"deferred {row['attempts']} times, gave up: {reply}",
        )
    return pause_if_unsafe(db, campaign_id, now) if refused else None
