"""Handling a contact or meeting request: save it, then mail the person and the sales team.

The request and both mails are stored in one transaction before anything is sent, so a
relay outage loses nothing: the outbox retries later and the visitor is thanked anyway.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import Message

from ..db import Database, isoformat, write_transaction
from ..mail import messages, outbox
from ..newsletter import signup
from ..urls import absolute_url
from . import prospects

FORMAT_LABELS = {"video": "Video call", "on_site": "On site"}
# Anyone can type anyone's address: at most this many acknowledgements per address
# (window, most), counted like the newsletter's mails. The team is notified every time.
ACK_KIND = "contact_acknowledgement"
ACK_LIMITS = ((timedelta(minutes=10), 1), (timedelta(days=1), 3))


@dataclass(frozen=True)
class ContactRequest:
    """A validated submission of either form."""

    identity: prospects.Identity
    interaction: prospects.Interaction
    subscribe_newsletter: bool = False
    consent_version: str = signup.CURRENT_CONSENT_VERSION
    page: str = "/contact"


def acknowledgement(request: ContactRequest) -> Message:
    """The mail to the person, in their language, answered by the sales team.

    It repeats nothing they typed, not even their first name: the address is not
    verified, so the form must not carry someone's chosen text to a stranger.
    """
    interaction = request.interaction
    with force_locale(interaction.language):
        subject = (
            _("Your meeting request to Weprode")
            if interaction.kind == "meeting"
            else _("Your message to Weprode")
        )
        return messages.render_message(
            request.identity.email,
            subject,
            "contact_acknowledgement",
            reply_to=current_app.config["CONTACT_NOTIFY_ADDRESS"],
            sender=current_app.config["CONTACT_SENDER"],
            identity=request.identity,
            interaction=interaction,
        )


def notification(request: ContactRequest, prospect_id: int, now: datetime) -> Message:
    """The mail to the sales team, with everything sent and Reply-To set to the person."""
    identity, interaction = request.identity, request.interaction
    who = f"{identity.first_name} {identity.last_name}, {identity.company}"
    if interaction.kind == "meeting":
        subject = f"Meeting request: {interaction.topic} ({who})"
    else:
        subject = f"Contact: {interaction.subject or 'message'} ({who})"
    with force_locale("en"):
        return messages.render_message(
            current_app.config["CONTACT_NOTIFY_ADDRESS"],
            subject,
            "contact_notification",
            reply_to=(f"{identity.first_name} {identity.last_name}", identity.email),
            identity=identity,
            interaction=interaction,
            format_label=FORMAT_LABELS.get(interaction.format),
            received_at=isoformat(now),
            prospect_url=absolute_url("admin.prospect_detail", prospect_id=prospect_id),
        )


def submit(db: Database, request: ContactRequest, now: datetime) -> int:
    """Save the request and queue both mails in one transaction, then try to send them.

    Returns the prospect id. A relay failure leaves the mails in the outbox (retried by
    `flask --app app outbox retry`) and is not an error for the visitor. The
    acknowledgement is skipped when the address is over `ACK_LIMITS`.
    """
    ack = acknowledgement(request)
    email = request.identity.email
    with write_transaction(db):
        prospect_id, _interaction_id = prospects.record_request(
            db, request.identity, request.interaction, now
        )
        # The team's notification goes first: if only one mail gets through, that one.
        message_ids = [
            outbox.enqueue(
                db,
                "contact_notification",
                notification(request, prospect_id, now),
                now,
                prospect_id,
            )
        ]
        if signup.may_send(db, email, now, kinds=(ACK_KIND,), limits=ACK_LIMITS):
            signup.record_send(db, email, ACK_KIND, now)
            message_ids.append(outbox.enqueue(db, ACK_KIND, ack, now, prospect_id))
    outbox.deliver(db, message_ids, now)
    if request.subscribe_newsletter:
        subscribe_to_newsletter(db, request, now)
    return prospect_id


def subscribe_to_newsletter(db: Database, request: ContactRequest, now: datetime) -> str | None:
    """Start the newsletter's double opt-in for the person who ticked the box.

    A failure to send the confirmation is logged, not raised: the request itself was
    saved and answered, and the person can sign up again from any page's footer.
    """
    signup_request = signup.SignupRequest(
        email=request.identity.email,
        first_name=request.identity.first_name,
        language=request.interaction.language,
        text_version=request.consent_version,
        page=request.page,
    )
    try:
        return signup.subscribe(db, signup_request, now)
    except messages.MailDeliveryError as error:
        current_app.logger.error("newsletter confirmation from the contact form failed: %s", error)
        return None
