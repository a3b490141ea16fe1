"""Staff-facing words for the codes stored in the database (statuses), in the page language.

The codes stay in the database, CSV exports and CSS classes; only what staff read is
translated. A code without a word here is shown as it is rather than hidden.
"""

from datetime import UTC, datetime

from flask import Flask
from flask_babel import format_datetime, get_locale, get_timezone, gettext, pgettext

from ..db import parse_timestamp
from ..newsletter import topics


def subscriber_status(code: str) -> str:
    """`active` -> the word for an active subscriber."""
    words = {
        "pending": pgettext("subscriber status", "pending"),
        "active": pgettext("subscriber status", "active"),
        "churned": pgettext("subscriber status", "unsubscribed"),
        "bounced": pgettext("subscriber status", "bounced"),
    }
    return words.get(code, code)


def campaign_status(code: str) -> str:
    """`sending` -> the word for a campaign being sent."""
    words = {
        "draft": pgettext("campaign status", "draft"),
        "scheduled": pgettext("campaign status", "scheduled"),
        "sending": pgettext("campaign status", "sending"),
        "paused": pgettext("campaign status", "paused"),
        "sent": pgettext("campaign status", "sent"),
        "cancelled": pgettext("campaign status", "cancelled"),
    }
    return words.get(code, code)


def delivery_status(code: str) -> str:
    """`queued` -> the word for one mail of a campaign waiting to go."""
    words = {
        "queued": pgettext("delivery status", "queued"),
        "sending": pgettext("delivery status", "sending"),
        "sent": pgettext("delivery status", "sent"),
        "failed": pgettext("delivery status", "failed"),
        "skipped": pgettext("delivery status", "skipped"),
    }
    return words.get(code, code)


def subscriber_event(code: str) -> str:
    """`churned` -> what happened, for a subscriber's history."""
    words = {
        "signup_requested": pgettext("subscriber event", "signup requested"),
        "confirmed": pgettext("subscriber event", "confirmed"),
        "imported": pgettext("subscriber event", "imported"),
        "added_by_staff": pgettext("subscriber event", "added by staff"),
        "rectified": pgettext("subscriber event", "rectified"),
        "churned": pgettext("subscriber event", "unsubscribed"),
        "left_topic": pgettext("subscriber event", "left a topic"),
        "unsubscribed_again": pgettext("subscriber event", "unsubscribed again"),
        "resubscribed": pgettext("subscriber event", "resubscribed"),
        "bounced": pgettext("subscriber event", "address bounced"),
    }
    return words.get(code, code)


def audit_action(code: str) -> str:
    """`login_failed` -> what a staff member did, for the audit log."""
    words = {
        "login": pgettext("audit action", "login"),
        "login_failed": pgettext("audit action", "failed login"),
        "login_throttled": pgettext("audit action", "login refused (too many failures)"),
        "logout": pgettext("audit action", "logout"),
        "totp_enabled": pgettext("audit action", "second factor turned on"),
        "export": pgettext("audit action", "CSV export"),
        "import": pgettext("audit action", "CSV import"),
        "rectify": pgettext("audit action", "rectification"),
        "unsubscribe": pgettext("audit action", "unsubscription"),
        "erase": pgettext("audit action", "erasure"),
        "prospect_status": pgettext("audit action", "prospect status"),
        "prospect_note": pgettext("audit action", "prospect note"),
        "campaign_created": pgettext("audit action", "campaign created"),
        "topic_created": pgettext("audit action", "topic created"),
        "topic_changed": pgettext("audit action", "topic changed"),
        "topic_moved": pgettext("audit action", "topic moved"),
        "segment_saved": pgettext("audit action", "segment saved"),
        "segment_deleted": pgettext("audit action", "segment deleted"),
    }
    return words.get(code, code)


def language_name(code: str) -> str:
    """`fr` -> French, in the page language (subscribers' and prospects' language)."""
    words = {"en": gettext("English"), "fr": gettext("French")}
    return words.get(code, code)


def topic_name(topic: dict) -> str:
    """A topic's name in the page language."""
    return topics.name(topic, str(get_locale()))


def staff_time(stored: str | None) -> str:
    """A stored UTC timestamp as staff read it (`5 janv. 2026, 15:03:00`); empty for none.

    In the signed-in staff member's language and time zone (flask-babel converts to the
    zone `languages.select_timezone` gives); the layout names the zone once.
    """
    moment = parse_timestamp(stored)
    return format_datetime(moment, "medium") if moment else ""


def from_staff_time(text: str) -> datetime:
    """A date and time typed by staff (`2026-05-04T09:30`) as an aware UTC datetime.

    Staff type it in their own time zone, the one their pages show. ValueError when
    it is no date and time.
    """
    typed = datetime.fromisoformat(text)
    if typed.tzinfo is None:
        typed = get_timezone().localize(typed)
    return typed.astimezone(UTC)


def init_app(app: Flask) -> None:
    """Make the words and the time format available to templates as filters."""
    for function in (
        subscriber_status,
        campaign_status,
        delivery_status,
        subscriber_event,
        audit_action,
        language_name,
        topic_name,
        staff_time,
    ):
        app.add_template_filter(function)
