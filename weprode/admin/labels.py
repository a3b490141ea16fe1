"""Staff-facing words for the codes stored in the database (statuses), in the page language.

The codes stay in the database, CSV exports and CSS classes; only what staff read is
translated. A code without a word here is shown as it is rather than hidden.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from flask_babel import (
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
    gettext,
    pgettext,
)

from ..campaigns.batch import PAUSED_BY_FAILURES
from ..campaigns.ledger import PAUSED_BY_STAFF
from ..db import parse_timestamp
from ..deliverability.effects import PAUSED_BY_BOUNCES
from ..mail.kinds import mail_kind
from ..newsletter import topics
from ..newsletter.importing.statuses import import_status


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
        "import_rolled_back": pgettext("audit action", "import rolled back"),
        "rights_erase": pgettext("audit action", "erasure (rights request)"),
        "rights_export": pgettext("audit action", "copy of data (rights request)"),
        "segment_saved": pgettext("audit action", "segment saved"),
        "suppression_lifted": pgettext("audit action", "address taken off the exclusion list"),
        "staff_created": pgettext("audit action", "staff account created"),
        "staff_disabled": pgettext("audit action", "staff account disabled"),
        "staff_enabled": pgettext("audit action", "staff account enabled"),
        "staff_password_reset": pgettext("audit action", "staff password reset"),
        "staff_totp_reset": pgettext("audit action", "second factor reset"),
        "staff_preferences": pgettext("audit action", "language or time zone changed"),
        "campaign_audience": pgettext("audit action", "campaign audience chosen"),
        "campaign_test": pgettext("audit action", "campaign test sent"),
        "campaign_send": pgettext("audit action", "campaign sent"),
        "campaign_schedule": pgettext("audit action", "campaign scheduled"),
        "campaign_pause": pgettext("audit action", "campaign paused"),
        "campaign_resume": pgettext("audit action", "campaign resumed"),
        "campaign_cancel": pgettext("audit action", "campaign cancelled"),
        "campaign_publish": pgettext("audit action", "campaign published"),
        "campaign_unpublish": pgettext("audit action", "campaign unpublished"),
        "welcome_switch_on": pgettext("audit action", "welcome mail switched on"),
        "topic_moved": pgettext("audit action", "topic moved"),
        "segment_deleted": pgettext("audit action", "segment deleted"),
    }
    return words.get(code, code)


def change_source(code: str | None) -> str:
    """`one-click` -> how a change to a subscriber came about (how they left, how they
    signed up, in their history); free text typed by staff is shown as it is."""
    words = {
        "form": pgettext("churn source", "signup form"),
        "import": pgettext("churn source", "import"),
        "undo": pgettext("churn source", "undo link"),
        "bounce": pgettext("churn source", "bounce"),
        "one-click": pgettext("churn source", "one-click link in a mail"),
        "page": pgettext("churn source", "unsubscribe page"),
        "preferences": pgettext("churn source", "preference page"),
        "staff": pgettext("churn source", "by staff"),
        "rights-request": pgettext("churn source", "rights request"),
        "complaint": pgettext("churn source", "spam complaint"),
        "restore": pgettext("churn source", "restored from a backup"),
    }
    return words.get(code or "", code or "")


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


# The reasons a campaign is paused are stored in English, with their figures (the CLI
# and the logs read them as they are); staff pages show them in the staff language.
def bounce_pause(what: str) -> re.Pattern:
    """The reason `effects.campaign_pause_reason` stores when `what` passed its limit."""
    return re.compile(
        rf"{re.escape(PAUSED_BY_BOUNCES)}: (?P<count>\d+) {what} in (?P<attempts>\d+) "
        r"attempts \((?P<share>[\d.]+) %, more than (?P<limit>[\d.]+) ?%\)"
    )


def bounce_figures(found: re.Match) -> dict:
    """A bounce pause's figures, written in the staff language's way."""
    return {
        "count": int(found["count"]),
        "attempts": int(found["attempts"]),
        "share": format_decimal(float(found["share"])),
        "limit": format_decimal(float(found["limit"])),
    }


# Each stored reason's shape, and how staff read it.
PAUSE_REASONS: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (
        re.compile(rf"{re.escape(PAUSED_BY_FAILURES)}; last answer: (?P<answer>.*)", re.S),
        lambda found: gettext(
            "Paused after repeated failures; last answer: %(answer)s", answer=found["answer"]
        ),
    ),
    (
        re.compile(
            rf"{re.escape(PAUSED_BY_FAILURES)}; every mail relay failed: (?P<answer>.*)", re.S
        ),
        lambda found: gettext(
            "Paused after repeated failures; every mail relay failed: %(answer)s",
            answer=found["answer"],
        ),
    ),
    (
        bounce_pause("hard bounces"),
        lambda found: gettext(
            "Paused: too many hard bounces (%(count)s in %(attempts)s attempts, "
            "%(share)s %%, more than %(limit)s %%)",
            **bounce_figures(found),
        ),
    ),
    (
        bounce_pause("complaints"),
        lambda found: gettext(
            "Paused: too many complaints (%(count)s in %(attempts)s attempts, "
            "%(share)s %%, more than %(limit)s %%)",
            **bounce_figures(found),
        ),
    ),
]


def pause_reason(stored: str | None) -> str:
    """Why a campaign is paused, as stored (`Paused after repeated failures; last
    answer: 421 ...`), in the staff language; an unknown reason is shown as it is."""
    if not stored:
        return ""
    if stored == PAUSED_BY_STAFF:
        return gettext("Paused by staff")
    for pattern, wording in PAUSE_REASONS:
        if found := pattern.fullmatch(stored):
            return wording(found)
    return stored


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
        pause_reason,
        import_status,
        change_source,
        mail_kind,
    ):
        app.add_template_filter(function)
