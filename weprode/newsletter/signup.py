"""Signing up: the pending request, the confirmation mail and its limits, confirming."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_mail import Message

from .. import tokens
from ..db import Database, durable_transaction, isoformat, parse_timestamp, write_transaction
from ..deliverability import verp
from ..mail import messages
from ..urls import absolute_url
from . import subscribers, subscriptions, topics

# Every wording ever shown stays here, so a stored version id can always be quoted.
CONSENT_TEXTS = {
    "2026-11-v1": _l(
        "I agree to receive Weprode's newsletter about sovereignty of the Education Cloud "
        "at this address. I can unsubscribe at any time with the link in every issue."
    ),
    # Shown above the topic checkboxes: ticking a topic is the consent to receive it.
    "2026-12-v2": _l(
        "I agree to receive at this address the topics I tick. I can unsubscribe from "
        "each of them at any time with the link in every mail."
    ),
}
CURRENT_CONSENT_VERSION = "2026-12-v2"

# (window, most mails allowed in it) per address, so our form cannot flood an inbox.
MAIL_LIMITS = ((timedelta(minutes=10), 1), (timedelta(days=1), 3))
# The kinds of `newsletter_mail_sends` rows counted by those limits (others count apart).
SIGNUP_MAIL_KINDS = ("confirm", "already")


@dataclass(frozen=True)
class SignupRequest:
    """What the visitor submitted, already validated."""

    email: str
    first_name: str | None
    language: str
    text_version: str
    page: str | None
    topic_ids: tuple[int, ...] = ()  # none named: the main topic


def may_send(
    db: Database,
    email: str,
    now: datetime,
    kinds: tuple[str, ...] = SIGNUP_MAIL_KINDS,
    limits: tuple[tuple[timedelta, int], ...] = MAIL_LIMITS,
) -> bool:
    """True while the address is under every limit, counting only mails of `kinds`."""
    address = tokens.address_hash(email)
    marks = ", ".join("?" for _ in kinds)
    for window, most in limits:
        sent = db.execute(
            "SELECT count(*) FROM newsletter_mail_sends "
            f"WHERE address_hash = ? AND sent_at > ? AND kind IN ({marks})",
            [address, isoformat(now - window), *kinds],
        ).fetchone()[0]
        if sent >= most:
            return False
    return True


def record_send(db: Database, email: str, kind: str, now: datetime) -> int:
    """Count a mail against the address's limits; return the row id."""
    row = {"address_hash": tokens.address_hash(email), "kind": kind, "sent_at": isoformat(now)}
    return db["newsletter_mail_sends"].insert(row).last_pk


def prepare(
    db: Database, request: SignupRequest, now: datetime
) -> tuple[str | None, dict | None, int | None]:
    """Store the request and decide which mail it earns: "confirm", "already" or None.

    A confirmed subscriber who already receives every topic asked for gets a note;
    anyone else gets a fresh request (a confirmed one for the topics it adds: anyone
    may type any address). A confirmed subscriber is never downgraded.
    The request's name and language are kept apart (`request_*`) and only copied onto
    the subscriber by `confirm`: anyone may type any address, and must not choose how
    its owner is greeted. Nothing changes when the address is over its mail limit, so
    an earlier link stays valid. Returns (kind, subscriber, send_id).
    """
    with write_transaction(db):
        subscribers.release_from_import(db, request.email)
        existing = subscribers.find_by_email(db, request.email)
        wanted = request.topic_ids or (topics.main_topic_id(db),)
        kind = "confirm"
        if existing and existing["status"] == "active":
            receives = subscriptions.active_topic_ids(db, existing["id"])
            kind = "already" if receives.issuperset(wanted) else "confirm"
        if not may_send(db, request.email, now):
            return None, existing, None
        if kind == "confirm":
            values = {
                "request_first_name": request.first_name or None,
                "request_language": request.language,
                "requested_at": isoformat(now),
                "request_text_version": request.text_version,
                "request_page": request.page,
                "request_topics": subscriptions.request_text(wanted),
            }
            if existing is None:
                values |= {
                    "email": request.email,
                    "language": request.language,  # nobody's to overwrite; the name waits
                    "status": "pending",
                    "source": "form",
                    "created_at": isoformat(now),
                }
                subscriber_id = db["subscribers"].insert(values).last_pk
            else:
                subscriber_id = existing["id"]
                db["subscribers"].update(subscriber_id, values)
            subscribers.record_event(db, subscriber_id, "signup_requested", now, "form")
        else:
            subscriber_id = existing["id"]
        send_id = record_send(db, request.email, kind, now)
    return kind, subscribers.get(db, subscriber_id), send_id


def requested_topic_names(db: Database, subscriber: dict) -> list[str]:
    """The topics a pending request asks for, named in the language its mail is in."""
    language = subscriber["request_language"] or subscriber["language"]
    wanted = subscriptions.requested(db, subscriber["request_topics"])
    requested = [topics.get(db, topic_id) for topic_id in wanted]
    return [topics.name(topic, language) for topic in requested if topic]


def confirmation_message(subscriber: dict, topic_names: list[str] | None = None) -> Message:
    """The double opt-in mail, in the language the request asked for.

    It greets with the subscriber's confirmed name only, never the requested one: the
    address is not proven yet, so text typed by whoever filled in the form stays out of
    a mail we send to it. A language is no such lever, and the rightful requester
    reads the mail in the language they chose; `topic_names` (in that language) say
    what the link subscribes to.
    """
    requested_at = parse_timestamp(subscriber["requested_at"])
    token = tokens.make_confirm_token(subscriber["id"], requested_at)
    with force_locale(subscriber["request_language"] or subscriber["language"]):
        return messages.render_message(
            subscriber["email"],
            _("Please confirm your subscription to the Weprode newsletter"),
            "confirm_subscription",
            subscriber=subscriber,
            confirm_url=absolute_url("newsletter.confirm", token=token),
            valid_days=tokens.confirm_max_age().days,
            topic_names=topic_names or [],
        )


def already_subscribed_message(subscriber: dict) -> Message:
    """A short note to a confirmed subscriber who signed up again."""
    with force_locale(subscriber["language"]):
        return messages.render_message(
            subscriber["email"],
            _("You are already subscribed to the Weprode newsletter"),
            "already_subscribed",
            subscriber=subscriber,
            unsubscribe_url=absolute_url(
                "newsletter.unsubscribe", token=tokens.make_unsubscribe_token(subscriber["id"])
            ),
        )


def subscribe(db: Database, request: SignupRequest, now: datetime) -> str | None:
    """Handle a signup: store it, then mail the person if their limits allow.

    Raises `messages.MailDeliveryError` when the relay fails; the send is then not
    counted against the address, so the visitor can simply try again.
    """
    kind, subscriber, send_id = prepare(db, request, now)
    if kind is None:
        return None
    if kind == "confirm":
        message = confirmation_message(subscriber, requested_topic_names(db, subscriber))
    else:
        message = already_subscribed_message(subscriber)
    # A bounce of this mail names the subscriber through its VERP tag (when configured).
    message.envelope_sender = verp.envelope_sender(kind, subscriber["id"])
    try:
        messages.send(message)
    except messages.MailDeliveryError:
        db["newsletter_mail_sends"].delete(send_id)
        raise
    return kind


class ConfirmOutcome(StrEnum):
    """What following a confirmation link did."""

    CONFIRMED = "confirmed"
    ALREADY = "already"  # this request was confirmed before
    EXPIRED = "expired"
    INVALID = "invalid"


def confirm(db: Database, token: str, now: datetime) -> tuple[ConfirmOutcome, dict | None]:
    """Confirm a signup from its token; returns (outcome, subscriber).

    Confirming consumes the request, so neither a link from an older request nor one
    used before the person unsubscribed can bring them back.
    """
    check = tokens.check_confirm_token(token, now)
    if check.status == tokens.TokenStatus.INVALID:
        return ConfirmOutcome.INVALID, None
    subscriber_id, requested_at = check.payload
    stamp = isoformat(requested_at)
    with durable_transaction(db):
        subscriber = subscribers.get(db, subscriber_id)
        if subscriber is None:
            return ConfirmOutcome.INVALID, None
        if subscriber["requested_at"] != stamp:
            # Confirming clears the request, so a used link only matches a stored proof.
            used = subscribers.has_consent_submitted_at(db, subscriber_id, stamp)
            active = used and subscriber["status"] == "active"
            outcome = ConfirmOutcome.ALREADY if active else ConfirmOutcome.INVALID
            return outcome, subscriber
        if check.status == tokens.TokenStatus.EXPIRED:
            return ConfirmOutcome.EXPIRED, subscriber
        topic_ids = subscriptions.requested(db, subscriber["request_topics"])
        language = subscriber["request_language"] or subscriber["language"]
        db["subscribers"].update(
            subscriber_id,
            {
                "status": "active",
                # The first confirmation's date; a confirmed person adding topics keeps it.
                "confirmed_at": subscriber["confirmed_at"]
                if subscriber["status"] == "active"
                else isoformat(now),
                # The confirmed request's name (if it gave one) and language apply now.
                "first_name": subscriber["request_first_name"] or subscriber["first_name"],
                "language": language,
                "requested_at": None,
                "request_first_name": None,
                "request_language": None,
                "request_text_version": None,
                "request_page": None,
                "request_topics": None,
                "churned_at": None,
                "churn_source": None,
                "churn_campaign_id": None,
                # The person's own opt-in is the one thing that lifts a bounce.
                "bounced_at": None,
            },
        )
        subscribers.lift_suppression(db, subscriber["email"])
        joined = subscriptions.join(db, subscriber_id, topic_ids, now)
        # Imported here: the campaigns package imports its command line, which reaches
        # the contact and rights modules, which import this one.
        from ..campaigns import welcome

        welcome.queue(db, subscriber_id, joined)
        subscribers.record_consent(
            db,
            subscriber_id,
            "double-opt-in",
            requested_at,
            now,
            topic_ids,
            text_version=subscriber["request_text_version"],
            page=subscriber["request_page"],
            source="form",
            language=language,
        )
        subscribers.record_event(db, subscriber_id, "confirmed", now, "form")
    return ConfirmOutcome.CONFIRMED, subscribers.get(db, subscriber_id)
