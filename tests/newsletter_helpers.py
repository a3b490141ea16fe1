"""Helpers for the newsletter tests: submitting the form, reading links out of mails."""

import io
import re

from weprode import tokens
from weprode.newsletter import importing

VALID_SIGNUP = {
    "email": "Jane.Doe@Example.org",
    "first_name": "Jane",
    "language": "en",
    "topics": "1",
    "consent_version": "2026-12-v2",
    "source_page": "/newsletter",
}


def sign_up(client, **changes):
    """POST the signup form with valid data, changed as asked."""
    data = {**VALID_SIGNUP, **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post("/newsletter", data=data)


def text_part(message):
    """The text/plain body of a received message."""
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message):
    """The text/html body of a received message."""
    return message.get_body(preferencelist=("html",)).get_content()


def link_path(message, prefix):
    """The path of the first link starting with `prefix` in the message's text part."""
    match = re.search(r"http://localhost(" + re.escape(prefix) + r"[^\s]+)", text_part(message))
    assert match, f"no {prefix} link in:\n{text_part(message)}"
    return match.group(1)


def unsubscribe_path(app, subscriber_id, campaign_id=None):
    """An opt-out link as a campaign would carry it (until campaigns exist)."""
    with app.app_context():
        return "/unsubscribe/" + tokens.make_unsubscribe_token(subscriber_id, campaign_id)


def import_confirmed(db, addresses, now):
    """A staff import of already-confirmed addresses (one per line); returns the report."""
    return importing.import_subscribers(
        db,
        io.StringIO("email\n" + "".join(f"{address}\n" for address in addresses)),
        source="fair",
        legal_basis="consent at the fair",
        mode="confirmed",
        actor="tester",
        now=now,
    )


def manage_path(app, subscriber_id):
    """The preference page's link as a mail carries it."""
    with app.app_context():
        return "/newsletter/manage/" + tokens.make_manage_token(subscriber_id)
