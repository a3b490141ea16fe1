"""A durable outbox: mails that must not be lost when the relay is down.

A message is stored in the same transaction as the request it belongs to, tried right
after the commit, and kept with a growing delay (`next_attempt_at`) while the relay
fails; `flask --app app outbox retry` sends whatever is due. A delivered message is
deleted: the outbox holds personal data only until it has done its job.

Sending claims a row first by pushing its `next_attempt_at` past a lease, so a request
and the retry command never send the same message twice. A process that dies between
the relay accepting a message and the row being deleted sends it once more after the
lease: at least once, never silently dropped.
"""

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

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
    return Message(
        subject=row["subject"],
        recipients=[row["recipient"]],
        body=row["body_text"],
        html=row["body_html"],
        reply_to=tuple(reply_to) if isinstance(reply_to, list) else reply_to,
        extra_headers=json.loads(row["headers"]) if row["headers"] else None,
    )


def retry_delay(attempts: int) -> timedelta:
    """The wait after `attempts` failures: 1, 2, 4 ... minutes, at most 6 hours."""
    delay = FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY_DELAY)


def claim(db: Database, message_id: int, now: datetime) -> dict | None:
    """Take the message for sending if it is due and nobody holds it; return the row or None."""
    cursor = db.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND next_attempt_at <= ?",
        [isoformat(now + CLAIM_LEASE), message_id, isoformat(now)],
    )
    if cursor.rowcount != 1:
        return None
    return first_row(db, "SELECT * FROM outbox WHERE id = ?", [message_id])


def deliver_one(db: Database, message_id: int, now: datetime) -> bool:
    """Claim and send one message; True when delivered (or already gone), False on failure."""
    row = claim(db, message_id, now)
    if row is None:
        return True
    try:
        messages.send(message_from_row(row))
    except messages.MailDeliveryError as error:
        attempts = row["attempts"] + 1
        db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
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
        return False
    db.execute("DELETE FROM outbox WHERE id = ?", [message_id])
    return True


def deliver(db: Database, message_ids: Iterable[int], now: datetime) -> int:
    """Try the given messages now (right after the commit that stored them).

    Stops at the first failure: the relay is most likely down for the others too, and
    the visitor should not wait for one timeout per message. Returns how many were sent.
    """
    sent = 0
    for message_id in message_ids:
        if not deliver_one(db, message_id, now):
            break
        sent += 1
    return sent


def due_ids(db: Database, now: datetime, limit: int = RETRY_BATCH) -> list[int]:
    """Ids of the messages whose next attempt is due, oldest due first."""
    rows = db.execute(
        "SELECT id FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        [isoformat(now), limit],
    ).fetchall()
    return [row[0] for row in rows]


def send_due(db: Database, now: datetime, limit: int = RETRY_BATCH) -> tuple[int, bool, int]:
    """Send the messages that are due; return (sent, failed, still waiting in the outbox).

    `failed` is True when the relay refused or could not be reached.
    """
    ids = due_ids(db, now, limit)
    sent = deliver(db, ids, now)
    return sent, sent < len(ids), db["outbox"].count


def pending(db: Database) -> list[dict]:
    """Every message still waiting, with its attempts and last error, oldest first."""
    return list(
        db.query(
            "SELECT id, kind, created_at, attempts, next_attempt_at, last_error "
            "FROM outbox ORDER BY created_at, id"
        )
    )
