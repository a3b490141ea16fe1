"""People's rights: receive a request, verify it by e-mail, then act on it.

A request is answered the same way whether or not we hold data about the address:
it is recorded and a verification link is mailed (valid one hour), so neither the
page nor its timing tells a stranger who is in our files. Only the owner of the
mailbox learns what we hold. The command line (requests by post or e-mail) calls
the same functions as the web flow.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Message

from ... import audit, tokens
from ...cli import counted
from ...contact import prospects
from ...db import (
    Database,
    checkpoint,
    durable_transaction,
    isoformat,
    parse_timestamp,
    write_transaction,
)
from ...mail import messages
from ...newsletter import optout, subscribers
from ...urls import absolute_url
from . import export, records

SUBJECTS = {
    "access": _l("Your request for a copy of your data"),
    "rectify": _l("Your request to correct your data"),
    "erase": _l("Your request to erase your data"),
    "object": _l("Your request to stop all marketing"),
}


@dataclass(frozen=True)
class Holdings:
    """What we hold about an address, in short, for the pages that say what will happen."""

    subscriber: dict | None
    prospect: dict | None
    interactions: int = 0
    notes: int = 0
    deliveries: int = 0

    @property
    def anything(self) -> bool:
        """True when some record names the address (besides rights requests)."""
        return self.subscriber is not None or self.prospect is not None


@dataclass(frozen=True)
class Correction:
    """Corrected identity; a None field is not shown to the person and stays as it is."""

    language: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None


def count_rows(db: Database, table: str, column: str, row: dict | None) -> int:
    """How many rows of `table` point at `row` through `column` (0 when no row)."""
    if row is None:
        return 0
    return db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", [row["id"]]).fetchone()[0]


def holdings(db: Database, email: str) -> Holdings:
    """The subscriber and prospect rows for `email` and how many rows hang off them."""
    subscriber = subscribers.find_by_email(db, email)
    prospect = prospects.find_by_email(db, email)
    return Holdings(
        subscriber=subscriber,
        prospect=prospect,
        interactions=count_rows(db, "interactions", "prospect_id", prospect),
        notes=count_rows(db, "prospect_notes", "prospect_id", prospect),
        deliveries=count_rows(db, "deliveries", "subscriber_id", subscriber),
    )


def verification_message(rights_request: dict, language: str) -> Message:
    """The mail carrying the signed link, in the language of the page it was asked on."""
    received_at = parse_timestamp(rights_request["received_at"])
    token = tokens.make_rights_token(rights_request["id"], received_at)
    values = {"token": token}
    if language != current_app.config["BABEL_DEFAULT_LOCALE"]:
        values["lang"] = language
    with force_locale(language):
        return messages.render_message(
            rights_request["email"],
            str(SUBJECTS[rights_request["kind"]]),
            "rights_verify",
            kind=rights_request["kind"],
            verify_url=absolute_url("rights.verify", **values),
            valid_minutes=int(tokens.RIGHTS_MAX_AGE.total_seconds() // 60),
        )


def submit(db: Database, email: str, kind: str, language: str, now: datetime) -> bool:
    """Record a web request and mail its verification link; True if a mail went out.

    Over the per-address limit nothing is recorded or sent (and the visitor sees the
    same page). Raises `messages.MailDeliveryError` when the relay fails; the request
    is then dropped so it does not count against the address and can be retried.
    """
    with write_transaction(db):
        records.expire_unverified(db, now)
        if not records.may_mail(db, email, now):
            return False
        request_id = records.create(db, email, kind, now)
    try:
        messages.send(verification_message(records.get(db, request_id), language))
    except messages.MailDeliveryError:
        db["rights_requests"].delete(request_id)
        raise
    return True


def open_request(db: Database, token: str, now: datetime) -> tuple[tokens.TokenStatus, dict | None]:
    """(token status, request) for a link. Changes nothing."""
    check = tokens.check_rights_token(token, now)
    if check.status == tokens.TokenStatus.INVALID:
        return tokens.TokenStatus.INVALID, None
    request_id, received_at = check.payload
    rights_request = records.get(db, request_id)
    if rights_request is None or rights_request["received_at"] != isoformat(received_at):
        return tokens.TokenStatus.INVALID, None
    if check.status == tokens.TokenStatus.EXPIRED or rights_request["status"] == "expired":
        return tokens.TokenStatus.EXPIRED, rights_request
    return tokens.TokenStatus.OK, rights_request


def record_offline(db: Database, email: str, kind: str, now: datetime) -> int:
    """Record a request that came by post or e-mail, its sender already checked by staff."""
    with write_transaction(db):
        return records.create(db, email, kind, now, channel=records.POST_OR_EMAIL, verified=True)


def give_copy(db: Database, request_id: int, now: datetime) -> dict:
    """Complete an access request and return the JSON-ready document.

    The copy is numbered once, at the first completion: downloading again from the
    same link regenerates the document without counting another copy.
    """
    with write_transaction(db):
        rights_request = records.get(db, request_id)
        email = rights_request["email"]
        if rights_request["status"] != "completed":
            copy_number = records.completed_copies(db, email) + 1
            records.complete(db, request_id, now, copy_number=copy_number)
        copy_number = records.get(db, request_id)["copy_number"]
        return export.document(db, email, now, copy_number)


def erase_personal_data(db: Database, email: str, now: datetime) -> dict[str, int]:
    """Delete everything naming the address but the suppression hash; return counts.

    Subscriber rows take consents, history and deliveries with them, prospects take
    their requests, notes and queued mails (ON DELETE CASCADE); audit entries stay but
    lose the address. Rights requests stay: they prove the erasure was done.
    """
    hashes = tokens.address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    with durable_transaction(db):
        subscribers.suppress(db, email, "erasure", now)
        removed = {
            "subscribers": db.execute("DELETE FROM subscribers WHERE email = ?", [email]).rowcount,
            "prospects": db.execute("DELETE FROM prospects WHERE email = ?", [email]).rowcount,
            # Mails addressed to them that no prospect row holds (none expected, but sure).
            "outbox": db.execute(
                "DELETE FROM outbox WHERE recipient = ? OR instr(lower(reply_to), ?) > 0",
                [email, email],
            ).rowcount,
            "mail_sends": db.execute(
                f"DELETE FROM newsletter_mail_sends WHERE address_hash IN ({placeholders})",
                hashes,
            ).rowcount,
            "audit_details": audit.forget_address(db, email),
        }
    return removed


# What each count of `erase_personal_data` is, as staff read it (singular, plural).
REMOVED_NAMES = {
    "subscribers": ("newsletter record", "newsletter records"),
    "prospects": ("contact file", "contact files"),
    "outbox": ("queued mail", "queued mails"),
    "mail_sends": ("confirmation mail log entry", "confirmation mail log entries"),
    "audit_details": ("audit entry naming the address", "audit entries naming the address"),
}


def describe_removed(removed: dict[str, int]) -> str:
    """`1 newsletter record, 2 audit entries naming the address`, or `nothing`."""
    parts = [
        counted(count, *REMOVED_NAMES.get(name, (name, name)))
        for name, count in removed.items()
        if count
    ]
    return ", ".join(parts) or "nothing"


def erase(db: Database, request_id: int, now: datetime) -> dict[str, int]:
    """Carry out an erasure request; idempotent. Returns what was deleted.

    Ends with a checkpoint: the WAL still held every page image of the deleted rows.
    """
    with durable_transaction(db):
        rights_request = records.get(db, request_id)
        removed = erase_personal_data(db, rights_request["email"], now)
        if rights_request["status"] != "completed":
            records.complete(db, request_id, now, note=f"deleted {describe_removed(removed)}")
    checkpoint(db)
    return removed


def object_to_marketing(db: Database, request_id: int, now: datetime) -> None:
    """Stop all marketing: unsubscribe, flag the prospect, suppress the address.

    Suppression keeps staff additions and imports from bringing the address back;
    only the person's own double opt-in lifts it.
    """
    with durable_transaction(db):
        rights_request = records.get(db, request_id)
        email = rights_request["email"]
        subscriber = subscribers.find_by_email(db, email)
        if subscriber is not None:
            optout.unsubscribe(db, subscriber["id"], "rights-request", now)
        subscribers.suppress(db, email, "objection", now)
        record_marketing_objection(db, email, now)
        records.complete(db, request_id, now)


def record_marketing_objection(db: Database, email: str, now: datetime) -> None:
    """Flag the address's prospect records: no prospecting, whatever staff do later."""
    db.execute(
        "UPDATE prospects SET marketing_objection_at = coalesce(marketing_objection_at, ?) "
        "WHERE email = ?",
        [isoformat(now), email],
    )


def rectify(db: Database, request_id: int, correction: Correction | None, now: datetime) -> None:
    """Apply the person's corrections to their subscriber and prospect records.

    `correction` is None when we hold nothing to correct: the request is closed.
    """
    with write_transaction(db):
        if correction is None:
            records.complete(db, request_id, now, note="no data held")
            return
        email = records.get(db, request_id)["email"]
        subscriber = subscribers.find_by_email(db, email)
        if subscriber is not None:
            db["subscribers"].update(
                subscriber["id"],
                {"first_name": correction.first_name or None, "language": correction.language},
            )
            subscribers.record_event(db, subscriber["id"], "rectified", now, "rights-request")
        prospect = prospects.find_by_email(db, email)
        if prospect is not None:
            values = {"language": correction.language, "job_title": correction.job_title or None}
            for name in ("first_name", "last_name", "company"):
                if getattr(correction, name):
                    values[name] = getattr(correction, name)
            db["prospects"].update(prospect["id"], values)
        records.complete(db, request_id, now)
