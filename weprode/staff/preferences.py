"""A staff account's language and time zone: how the staff area reads for that person.

Weprode's staff are French, so a new account reads French in Europe/Paris time; each
person changes it on their "My account" page or with `flask staff set`.
"""

from functools import cache
from zoneinfo import available_timezones

import pytz
from flask_babel import lazy_gettext as _l

from ..db import Database

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
DEFAULT_TIME_ZONE = "Europe/Paris"
# Zones most staff pick, offered first; any IANA name is accepted.
COMMON_TIME_ZONES = ("Europe/Paris", "Europe/London", "UTC", "America/Montreal")
UNKNOWN_LANGUAGE = _l("Choose French or English.")
UNKNOWN_TIME_ZONE = _l("Unknown time zone: use an IANA name such as Europe/Paris.")


class PreferenceRejected(ValueError):
    """A language or time zone the staff area cannot use; the message says which."""


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted.

    Known both to the system's tz database and to pytz, which Flask-Babel converts
    dates with: a name only one of them knows would fail on every staff page. Names
    only with a slash or UTC: the legacy aliases ("EST5EDT", "Cuba") confuse more than
    they help.
    """
    names = {name for name in available_timezones() if "/" in name or name == "UTC"}
    return tuple(sorted((names & pytz.all_timezones_set) - {"Factory"}))


def check(language: str, time_zone: str) -> None:
    """Raise `PreferenceRejected` unless both can be used to render staff pages."""
    if language not in LANGUAGES:
        raise PreferenceRejected(str(UNKNOWN_LANGUAGE))
    if time_zone not in time_zones():
        raise PreferenceRejected(str(UNKNOWN_TIME_ZONE))


def change(
    db: Database, staff_id: int, language: str | None = None, time_zone: str | None = None
) -> bool:
    """Set the account's language and/or time zone (None keeps it); False if nothing changed."""
    row = db.execute("SELECT language, time_zone FROM staff WHERE id = ?", [staff_id]).fetchone()
    if row is None:
        return False
    language, time_zone = language or row[0], time_zone or row[1]
    check(language, time_zone)
    cursor = db.execute(
        "UPDATE staff SET language = ?, time_zone = ? "
        "WHERE id = ? AND NOT (language = ? AND time_zone = ?)",
        [language, time_zone, staff_id, language, time_zone],
    )
    return cursor.rowcount == 1
