"""A durable outbox: mails that must not be lost when the relay is down.

A message is stored in the same transaction as the request it belongs to, tried right
after the commit, and kept with a growing delay (`next_attempt_at`) while the relay
fails; `flask --app app outbox retry` sends whatever is due. A delivered message is
deleted: the outbox holds personal data only until it has done its job.

Sending claims a row first by setting `claimed_until` to the end of a lease, so a request
and the retry command never send the same message twice. A process that dies between
the relay accepting a message and the row being deleted sends it once more after the
lease: at least once, never silently dropped.

A message that can never be sent (refused for good, an address the relay cannot carry,
or any exception while building or sending it) is parked: `failed_at` and its reason
are kept for staff (`outbox list`, the staff dashboard), it is not retried, and the
messages behind it still go out. Once the cause is fixed, `outbox retry --force`
(`send_all_now`) sends the parked and waiting messages at once.
"""

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from flask import current_app
from flask_mail import Message

from ..db import Database, first_row, isoformat
from . import messages

FIRST_RETRY_DELAY = timedelta(minutes=1)
LONGEST_RETRY_DELAY = timedelta(hours=6)
# How long a claimed message is left to its sender before anyone else may try it.
CLAIM_LEASE = timedelta(minutes=10)
RETRY_BATCH = 100
ERROR_TEXT_LIMIT = 500


def enqueue(
    db: Database, kind: str, message: Message, now: datetime, prospect_id: int | None = None
) -> int:
    """Store a rendered message as due now; return its id. Call inside the caller's transaction.

    `kind` names the message for logs ("contact_ack"); `prospect_id`, when given,
    makes the message go with the prospect if they are erased before it is sent.
    """
    row = {
        "kind": kind,
        "prospect_id": prospect_id,
        "created_at": isoformat(now),
        "recipient": message.recipients[0],
        "sender": message.sender,
        "subject": message.subject,
        "body_text": message.body,
        "body_html": message.html,
        "reply_to": json.dumps(message.reply_to) if message.reply_to else None,
        "headers": json.dumps(message.extra_headers) if message.extra_headers else None,
        "attempts": 0,
        "next_attempt_at": isoformat(now),
    }
    return db["outbox"].insert(row).last_pk


def message_from_row(row: dict) -> Message:
    """Rebuild the Flask-Mail message stored in an outbox row."""
    reply_to = json.loads(row["reply_to"]) if row["reply_to"] else None
    return messages.build_message(
        row["recipient"],
        row["subject"],
        row["body_text"],
        row["body_html"],
        headers=json.loads(row["headers"]) if row["headers"] else None,
        reply_to=tuple(reply_to) if isinstance(reply_to, list) else reply_to,
        sender=row["sender"],
    )


def retry_delay(attempts: int) -> timedelta:
    """The wait after `attempts` failures: 1, 2, 4 ... minutes, at most 6 hours."""
    delay = FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY_DELAY)


class Outcome(StrEnum):
    """What one attempt did with a message."""

    SENT = "sent"  # delivered, or already gone / held by another sender
    WAITING = "waiting"  # the relay failed: tried again after a delay
    PARKED = "parked"  # can never be sent: kept with its reason, not retried


class RetryReport(NamedTuple):
    """The result of `send_due`."""

    sent: int
    failed: bool  # the relay refused or could not be reached
    waiting: int  # still in the outbox to be retried
    parked: int  # parked during this pass


def claim(db: Database, message_id: int, now: datetime, force: bool = False) -> dict | None:
    """Take the message for sending if nobody holds it and it is due; return the row or None.

    With `force`, a message waiting for its next attempt or parked is taken too.
    """
    due = "" if force else "AND next_attempt_at <= :now AND failed_at IS NULL"
    cursor = db.execute(
        "UPDATE outbox SET claimed_until = :until WHERE id = :id "
        f"AND (claimed_until IS NULL OR claimed_until <= :now) {due}",
        {"until": isoformat(now + CLAIM_LEASE), "id": message_id, "now": isoformat(now)},
    )
    if cursor.rowcount != 1:
        return None
    return first_row(db, "SELECT * FROM outbox WHERE id = ?", [message_id])


def park(db: Database, row: dict, reason: str, now: datetime) -> None:
    """Set a message aside for good, with the reason staff will read."""
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, failed_at = ?, last_error = ?, "
        "claimed_until = NULL WHERE id = ?",
        [isoformat(now), reason[:ERROR_TEXT_LIMIT], row["id"]],
    )
    current_app.logger.error(
        "outbox: %s message %s can never be sent, parked: %s", row["kind"], row["id"], reason
    )


def deliver_one(db: Database, message_id: int, now: datetime, force: bool = False) -> Outcome:
    """Claim and send one message; never raises for a problem with the message itself.

    A forced attempt the relay refuses for now leaves a parked message parked.
    """
    row = claim(db, message_id, now, force)
    if row is None:
        return Outcome.SENT
    try:
        messages.send(message_from_row(row))
    except messages.UndeliverableMessage as error:
        park(db, row, str(error) or type(error).__name__, now)
        return Outcome.PARKED
    except messages.MailDeliveryError as error:
        attempts = row["attempts"] + 1
        db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, "
            "claimed_until = NULL WHERE id = ?",
            [
                attempts,
                isoformat(now + retry_delay(attempts)),
                str(error)[:ERROR_TEXT_LIMIT],
                message_id,
            ],
        )
        current_app.logger.warning(
            "outbox: %s message %s not sent (attempt %s): %s",
            row["kind"],
            message_id,
            attempts,
            error,
        )
        return Outcome.WAITING
    except Exception as error:  # noqa: BLE001 (one bad message must not stop the others)
        park(db, row, f"{type(error).__name__}: {error}", now)
        return Outcome.PARKED
    db.execute("DELETE FROM outbox WHERE id = ?", [message_id])
    return Outcome.SENT


def deliver_counted(
    db: Database, message_ids: Iterable[int], now: datetime, force: bool = False
) -> Counter[Outcome]:
    """Try the given messages now; how many ended in each outcome.

    Stops at the first relay failure: the relay is most likely down for the others too,
    and the visitor should not wait for one timeout per message. A parked message does
    not stop it: the problem was that message's own.
    """
    outcomes: Counter[Outcome] = Counter()
    for message_id in message_ids:
        outcome = deliver_one(db, message_id, now, force)
        outcomes[outcome] += 1
        if outcome == Outcome.WAITING:
            break
    return outcomes


def deliver(db: Database, message_ids: Iterable[int], now: datetime) -> int:
    """Try the given messages now (right after the commit that stored them); how many were sent."""
    return deliver_counted(db, message_ids, now)[Outcome.SENT]


def due_ids(db: Database, now: datetime, limit: int = RETRY_BATCH) -> list[int]:
    """Ids of the messages whose next attempt is due, oldest due first (parked ones never)."""
    rows = db.execute(
        "SELECT id FROM outbox WHERE next_attempt_at <= :now AND failed_at IS NULL "
        "AND (claimed_until IS NULL OR claimed_until <= :now) "
        "ORDER BY next_attempt_at, id LIMIT :limit",
        {"now": isoformat(now), "limit": limit},
    ).fetchall()
    return [row[0] for row in rows]


def send_due(db: Database, now: datetime, limit: int = RETRY_BATCH) -> RetryReport:
    """Send the messages that are due; see `RetryReport`."""
    return report(db, deliver_counted(db, due_ids(db, now, limit), now))


def unheld_ids(db: Database, now: datetime) -> list[int]:
    """Ids of every message no sender holds right now, waiting or parked, oldest first."""
    rows = db.execute(
        "SELECT id FROM outbox WHERE claimed_until IS NULL OR claimed_until <= ? ORDER BY id",
        [isoformat(now)],
    ).fetchall()
    return [row[0] for row in rows]


def send_all_now(db: Database, now: datetime) -> RetryReport:
    """Send every waiting and parked message now, whatever its next attempt time.

    For staff, once the relay or what parked a message is fixed. A message another
    sender holds is left to it, so nothing is sent twice. Like `send_due`, stops at the
    first relay failure; a message that still cannot be sent is parked again.
    """
    return report(db, deliver_counted(db, unheld_ids(db, now), now, force=True))


def report(db: Database, outcomes: Counter[Outcome]) -> RetryReport:
    """The `RetryReport` of a pass that ended with `outcomes`."""
    waiting = db.execute("SELECT count(*) FROM outbox WHERE failed_at IS NULL").fetchone()[0]
    return RetryReport(
        outcomes[Outcome.SENT], bool(outcomes[Outcome.WAITING]), waiting, outcomes[Outcome.PARKED]
    )


def pending(db: Database) -> list[dict]:
    """Every message in the outbox (waiting or parked), with its last error, oldest first."""
    return list(
        db.query(
            "SELECT id, kind, created_at, attempts, next_attempt_at, failed_at, last_error "
            "FROM outbox ORDER BY created_at, id"
        )
    )


def parked(db: Database) -> list[dict]:
    """The messages that could never be sent, newest failure first, for staff."""
    return list(
        db.query(
            "SELECT id, kind, prospect_id, recipient, created_at, failed_at, last_error "
            "FROM outbox WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC"
        )
    )


def backlog(db: Database) -> tuple[int, int]:
    """(waiting, parked): mails still to be sent, and mails set aside for staff."""
    waiting, parked = db.execute(
        "SELECT count(*) FILTER (WHERE failed_at IS NULL), "
        "count(*) FILTER (WHERE failed_at IS NOT NULL) FROM outbox"
    ).fetchone()
    return waiting, parked
