"""Subscriber records: addresses, history, suppression, consent, staff additions and erasure.

Shared by the public newsletter flows, the command line and (later) the staff area.
Every function takes `db` and, where time matters, `now`.
"""

from collections.abc import Iterable
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from .. import audit
from ..db import (
    Database,
    checkpoint,
    durable_transaction,
    first_row,
    isoformat,
    write_transaction,
)
from ..forms import EMAIL_MAX_LENGTH, has_forbidden_character
from ..tokens import address_hash, address_hashes
from . import subscriptions, topics

STATUSES = ("pending", "active", "churned", "bounced")
LANGUAGES = ("en", "fr")
# Records an import wrote are hidden until the import is done (see `importing.batches`):
# campaigns, counts, search and exports add this condition on `subscribers`. One
# import's status flips all its records at once; few imports are ever unfinished.
VISIBLE = "(import_id IS NULL OR import_id NOT IN (SELECT id FROM imports WHERE status != 'done'))"


class InvalidAddress(ValueError):
    """The text is not a usable e-mail address."""


class SuppressedAddress(ValueError):
    """The address unsubscribed or was erased; only a double opt-in may bring it back."""


def normalise_email(text: str | None) -> str:
    """The canonical form we store and hash: validated, trimmed, lower-cased."""
    text = (text or "").strip()
    if len(text) > EMAIL_MAX_LENGTH or has_forbidden_character(text):
        raise InvalidAddress("This is not a valid e-mail address.")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from error
    return result.normalized.lower()


def mask_email(email: str) -> str:
    """`jane@example.org` -> `j***@example.org`: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def get(db: Database, subscriber_id: int) -> dict | None:
    """The subscriber row as a dict, or None."""
    return first_row(db, "SELECT * FROM subscribers WHERE id = ?", [subscriber_id])


def find_by_email(db: Database, email: str) -> dict | None:
    """The subscriber with this (normalised) address, or None."""
    return first_row(db, "SELECT * FROM subscribers WHERE email = ?", [email])


def release_from_import(db: Database, email: str) -> None:
    """Let a person's own signup, or a staff addition, take an address an import holds.

    An unfinished import's record of the address is invisible: it goes, with its
    consent proof and history, so the caller starts afresh, and that import simply
    no longer includes the address. Call it inside the caller's write transaction.
    """
    db.execute(f"DELETE FROM subscribers WHERE email = ? AND NOT {VISIBLE}", [email])


def record_event(
    db: Database,
    subscriber_id: int,
    kind: str,
    now: datetime,
    source: str | None = None,
    campaign_id: int | None = None,
) -> None:
    """Append to the subscriber's history (subscribed, confirmed, churned, ...)."""
    db.execute(
        "INSERT INTO subscriber_events (subscriber_id, kind, at, source, campaign_id) "
        "VALUES (?, ?, ?, ?, ?)",
        [subscriber_id, kind, isoformat(now), source, campaign_id],
    )


def history(db: Database, subscriber_id: int) -> list[dict]:
    """The subscriber's events, oldest first."""
    return list(
        db.query(
            "SELECT kind, at, source, campaign_id FROM subscriber_events "
            "WHERE subscriber_id = ? ORDER BY at, id",
            [subscriber_id],
        )
    )


def is_suppressed(db: Database, email: str) -> bool:
    """True when the address is on the suppression list (under any known key)."""
    hashes = address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    sql = f"SELECT 1 FROM suppressions WHERE address_hash IN ({placeholders}) LIMIT 1"
    return db.execute(sql, hashes).fetchone() is not None


def suppression_sources(db: Database, email: str) -> set[str]:
    """Why the address is suppressed (`unsubscribe`, `objection`, `erasure`...), under any key."""
    hashes = address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    sql = f"SELECT source FROM suppressions WHERE address_hash IN ({placeholders})"
    return {row[0] for row in db.execute(sql, hashes)}


def suppress(db: Database, email: str, source: str, now: datetime) -> None:
    """Put the address on the suppression list; keeps the first entry's date."""
    db.execute(
        "INSERT OR IGNORE INTO suppressions (address_hash, created_at, source) VALUES (?, ?, ?)",
        [address_hash(email), isoformat(now), source],
    )


def lift_suppression(db: Database, email: str) -> None:
    """Take the address off the list, after a new double opt-in or an undo."""
    hashes = address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    db.execute(f"DELETE FROM suppressions WHERE address_hash IN ({placeholders})", hashes)


def record_consent(
    db: Database,
    subscriber_id: int,
    method: str,
    submitted_at: datetime,
    confirmed_at: datetime,
    topic_ids: Iterable[int],
    **proof: str | None,
) -> None:
    """Store the proof of consent, one per topic: how, when asked, when confirmed, which
    wording, where, in which language."""
    for topic_id in topic_ids:
        db["consents"].insert(
            {
                "subscriber_id": subscriber_id,
                "topic_id": topic_id,
                "method": method,
                "submitted_at": isoformat(submitted_at),
                "confirmed_at": isoformat(confirmed_at),
                "text_version": proof.get("text_version"),
                "page": proof.get("page"),
                "source": proof.get("source"),
                "language": proof.get("language"),
            }
        )


def has_consent_submitted_at(db: Database, subscriber_id: int, submitted_at: str) -> bool:
    """True if a consent proof records a request submitted at that moment."""
    sql = "SELECT 1 FROM consents WHERE subscriber_id = ? AND submitted_at = ? LIMIT 1"
    return db.execute(sql, [subscriber_id, submitted_at]).fetchone() is not None


def consents(db: Database, subscriber_id: int) -> list[dict]:
    """The subscriber's consent proofs, oldest first."""
    return list(
        db.query("SELECT * FROM consents WHERE subscriber_id = ? ORDER BY id", [subscriber_id])
    )


def add_confirmed(
    db: Database,
    email: str,
    source: str,
    now: datetime,
    first_name: str | None = None,
    language: str = "en",
    topic_ids: Iterable[int] | None = None,
) -> tuple[int, bool]:
    """Add (or reactivate) a subscriber on staff authority; `source` says where consent came from.

    They receive `topic_ids` (the main topic when None). Refuses suppressed addresses:
    someone who left can only come back by confirming a signup themselves.
    """
    email = normalise_email(email)
    if language not in LANGUAGES:
        raise ValueError(f"Language must be one of: {', '.join(LANGUAGES)}.")
    if is_suppressed(db, email):
        raise SuppressedAddress(
            f"{email} unsubscribed or was erased; it can only come back by signing up "
            "and confirming itself."
        )
    stamp = isoformat(now)
    with durable_transaction(db):
        release_from_import(db, email)
        existing = find_by_email(db, email)
        joining = list(topic_ids) if topic_ids is not None else [topics.main_topic_id(db)]
        if existing and existing["status"] == "active":
            joined = subscriptions.join(db, existing["id"], joining, now)
            if joined:
                record_consent(db, existing["id"], "staff", now, now, joined, source=source)
                record_event(db, existing["id"], "added_by_staff", now, source=source)
            return existing["id"], bool(joined)
        values = {
            "email": email,
            "first_name": first_name or None,
            "language": language,
            "status": "active",
            "source": f"staff: {source}",
            "confirmed_at": stamp,
            "churned_at": None,
            "churn_source": None,
            "churn_campaign_id": None,
        }
        if existing:
            db["subscribers"].update(existing["id"], values)
            subscriber_id = existing["id"]
        else:
            subscriber_id = db["subscribers"].insert({**values, "created_at": stamp}).last_pk
        subscriptions.join(db, subscriber_id, joining, now)
        record_consent(db, subscriber_id, "staff", now, now, joining, source=source)
        record_event(db, subscriber_id, "added_by_staff", now, source=source)
    return subscriber_id, True


def rectify(
    db: Database, subscriber_id: int, first_name: str | None, language: str, now: datetime
) -> bool:
    """Correct the name or language at the person's request; True if found."""
    if language not in LANGUAGES:
        raise ValueError("Unknown language.")
    with write_transaction(db):
        if get(db, subscriber_id) is None:
            return False
        db["subscribers"].update(
            subscriber_id, {"first_name": (first_name or "").strip() or None, "language": language}
        )
        record_event(db, subscriber_id, "rectified", now, "staff")
    return True


def erase(db: Database, subscriber_id: int, now: datetime) -> bool:
    """Delete the person's data; keep only the keyed hash so they are never mailed again.

    Their history and consent proofs go with them (ON DELETE CASCADE), the address
    leaves the audit details, and a checkpoint empties the WAL of the old pages.
    """
    with durable_transaction(db):
        subscriber = get(db, subscriber_id)
        if subscriber is None:
            return False
        suppress(db, subscriber["email"], "erasure", now)
        db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id])
        audit.forget_address(db, subscriber["email"])
    checkpoint(db)
    return True
