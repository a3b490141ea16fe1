"""`bounces ingest`: one report in, stored, tied to a delivery of ours, acted upon.

A report counts only when it is tied to a real delivery: a genuine VERP tag, or the
Message-ID of a campaign message we sent to that person (quoted in the report). An
altered tag, or a report naming an address alone (anyone can write `Final-Recipient:
jane@...` and mail it to us), is logged as a security event and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime

from .. import tokens, usage_log
from ..campaigns import render
from ..db import Database, durable_transaction, first_row, isoformat
from ..newsletter import subscribers
from . import effects, reading, reports, verp


@dataclass(frozen=True)
class Attribution:
    """The delivery a report is about."""

    subscriber: dict
    mail_kind: str
    campaign_id: int | None
    via: str  # "VERP tag" or "Message-ID"


@dataclass(frozen=True)
class IngestResult:
    """One message's line for the command's output; `stored` False means try again."""

    stored: bool
    line: str
    campaign_id: int | None = None  # the campaign whose delivery it acted on


def campaign_delivery(db: Database, campaign_id: int, subscriber_id: int) -> dict | None:
    """The person, when that campaign was sent (or refused) to them; else None."""
    return first_row(
        db,
        "SELECT s.* FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.campaign_id = ? AND d.subscriber_id = ? AND d.status IN ('sent', 'failed')",
        [campaign_id, subscriber_id],
    )


def by_tags(db: Database, tags: list[str]) -> tuple[Attribution | None, str]:
    """The delivery a genuine tag names; else why not."""
    for tag in tags:
        checked = verp.check_tag(tag)
        if checked is None:
            continue
        kind = verp.KIND_NAMES.get(checked.kind, "unknown")
        if checked.campaign_id:
            subscriber = campaign_delivery(db, checked.campaign_id, checked.subscriber_id)
        else:
            subscriber = subscribers.get(db, checked.subscriber_id)
        if subscriber is None:
            return None, "its delivery is gone (erased or purged)"
        return Attribution(subscriber, kind, checked.campaign_id or None, "VERP tag"), ""
    usage_log.security_event("bounce_forged_tag", tag=tags[0][:12])
    return None, "altered or foreign VERP tag"


def by_message_ids(db: Database, message_ids: tuple[str, ...]) -> tuple[Attribution | None, str]:
    """The campaign delivery a quoted Message-ID of ours names; else why not."""
    key = tokens.address_hash_keys()[-1]
    for message_id in message_ids:
        match = reading.CAMPAIGN_MESSAGE_ID.fullmatch(message_id)
        if match is None:
            continue
        campaign_id, subscriber_id, _digest, domain = match.groups()
        expected = render.message_id(key, int(campaign_id), int(subscriber_id), domain)
        if expected != message_id:
            continue
        subscriber = campaign_delivery(db, int(campaign_id), int(subscriber_id))
        if subscriber is not None:
            return Attribution(subscriber, "campaign", int(campaign_id), "Message-ID"), ""
    if message_ids:
        usage_log.security_event("bounce_forged_message_id", message_id=message_ids[0][:40])
        return None, "a Message-ID of ours that we never sent like this"
    return None, ""


def attribute(db: Database, read: reading.Reading) -> tuple[Attribution | None, str]:
    """Tie a report to a delivery of ours by what it quotes; (None, why) when it cannot be."""
    if read.tags:
        return by_tags(db, list(read.tags))
    attribution, why = by_message_ids(db, read.message_ids)
    if attribution is not None or why:
        return attribution, why
    usage_log.security_event("bounce_unattributed")
    return None, "no VERP tag or Message-ID of ours: an address alone proves nothing"


def recipient_for(report: reports.Report, subscriber: dict) -> reports.RecipientStatus | None:
    """The report's line about this person (by address), else its first line."""
    for item in report.recipients:
        if item.address.lower() == subscriber["email"]:
            return item
    return report.recipients[0] if report.recipients else None


def ingest(db: Database, raw: bytes, now: datetime, *, check_campaign: bool = True) -> IngestResult:
    """Read, store and act on one message; never raises for what the message holds."""
    read = reading.read(raw, verp.bounce_address())
    return store(db, raw, read, now, check_campaign=check_campaign)


def store(
    db: Database,
    raw: bytes,
    read: reading.Reading,
    now: datetime,
    *,
    check_campaign: bool = True,
) -> IngestResult:
    """Store and act on one message already read (maybe by a worker process).

    `check_campaign` False leaves the campaign's bounce-rate check to the caller (a
    batch checks each campaign once, see `intake`).
    """
    report = read.report
    label = f"{report.kind} ({report.shape})" if report.shape else report.kind
    if report.kind in reading.IGNORED:
        return IngestResult(True, f"{label}: ignored")
    # Durable: once `bounces ingest` exits 0 the MTA deletes its copy.
    with durable_transaction(db):
        earlier = first_row(
            db, "SELECT id FROM bounce_reports WHERE fingerprint = ?", [read.fingerprint]
        )
        if earlier is not None:
            return IngestResult(
                True, f"{label}: already ingested (report {earlier['id']}); nothing changed"
            )
        attribution, why = attribute(db, read)
        subscriber = attribution.subscriber if attribution else None
        report_id = db.execute(
            "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outcome, message, "
            "fingerprint) VALUES (?, ?, ?, '', ?, ?)",
            [
                isoformat(now),
                report.kind,
                subscriber["id"] if subscriber else None,
                raw,
                read.fingerprint,
            ],
        ).lastrowid
        if attribution is None:
            outcome = f"not attributed ({why}); nothing changed"
            whom = ""
        else:
            outcome = act(db, report, attribution, report_id, now, check_campaign)
            whom = f" {subscribers.mask_email(subscriber['email'])} via {attribution.via}"
            if attribution.campaign_id:
                whom += f", campaign {attribution.campaign_id}"
        db.execute("UPDATE bounce_reports SET outcome = ? WHERE id = ?", [outcome, report_id])
    campaign_id = attribution.campaign_id if attribution else None
    return IngestResult(True, f"{label}{whom}: {outcome}", campaign_id)


def act(
    db: Database,
    report: reports.Report,
    attribution: Attribution,
    report_id: int,
    now: datetime,
    check_campaign: bool = True,
) -> str:
    """Apply a bounce or complaint to the person; pause the campaign if it must."""
    subscriber, campaign_id = attribution.subscriber, attribution.campaign_id
    if report.kind == "complaint":
        outcome = effects.apply_complaint(
            db,
            subscriber,
            now,
            mail_kind=attribution.mail_kind,
            campaign_id=campaign_id,
            report_id=report_id,
            detail=f"feedback type {report.feedback_type}",
        )
    else:
        item = recipient_for(report, subscriber)
        outcome = effects.apply_bounce(
            db,
            subscriber,
            item.status if item else "5.0.0",
            now,
            mail_kind=attribution.mail_kind,
            campaign_id=campaign_id,
            source="report",
            detail=item.diagnostic if item else "",
            report_id=report_id,
        )
    if not check_campaign:
        return outcome
    reason = effects.pause_if_unsafe(db, campaign_id, now)
    return f"{outcome}; campaign paused" if reason else outcome
