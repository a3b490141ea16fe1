"""Whom a campaign goes to: an audience staff choose by name, and which version each gets.

An audience is a condition on `subscribers`; today all active subscribers or those of
one language. A campaign goes to its topic's readers in the audience, narrowed by its
saved segment when it has one (`segments`); `recipients` writes that condition once
for the counts and the freeze. There is no default: a campaign without an audience
cannot be sent.
"""

from collections.abc import Collection
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..db import Database
from ..newsletter import topics
from ..newsletter.subscribers import VISIBLE
from . import segments

VERSION_LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class Audience:
    """A named set of subscribers: `condition` is SQL on `subscribers` with `params`."""

    key: str
    label: object  # a lazy translation: staff read it in STAFF_LANGUAGE
    condition: str
    params: tuple = ()


# Subscribers of an import still in progress are not `VISIBLE`: they get nothing yet.
# The unary `+` keeps SQLite off the (status, created_at) index: walking it reads the
# rows in signup order, one random page per reader (3 to 9 times slower at 100,000,
# bench/audiences.py), where the topic's index hands over ids in rowid order.
ACTIVE = f"+status = 'active' AND {VISIBLE}"
# A campaign goes to one topic: people who receive it (the topic id is the parameter).
IN_TOPIC = (
    "id IN (SELECT subscriber_id FROM subscriptions WHERE topic_id = ? AND status = 'active')"
)
# The same, row by row through the subscriptions primary key: for the freeze's id windows,
# where the IN form would list the whole topic again for every window.
RECEIVES_TOPIC = (
    "EXISTS (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = subscribers.id "
    "AND x.topic_id = ? AND x.status = 'active')"
)
AUDIENCES = {
    audience.key: audience
    for audience in (
        Audience("all", _l("All active subscribers"), ACTIVE),
        Audience("fr", _l("French-speaking subscribers"), f"{ACTIVE} AND language = ?", ("fr",)),
        Audience("en", _l("English-speaking subscribers"), f"{ACTIVE} AND language = ?", ("en",)),
    )
}


class AudienceMissing(ValueError):
    """The campaign names no audience, or one that does not exist (any more)."""


def get(key: str | None) -> Audience:
    """The audience named `key`; `AudienceMissing` with a message for staff otherwise."""
    if not key:
        raise AudienceMissing(_("Choose the audience before sending: nobody is chosen by default."))
    audience = AUDIENCES.get(key)
    if audience is None:
        raise AudienceMissing(_("Unknown audience %(key)s; choose one of the list.", key=repr(key)))
    return audience


def version_for(language: str | None, available: Collection[str]) -> str:
    """The version a reader of `language` gets: theirs, else the first one that exists."""
    if language in available:
        return language
    return next(version for version in VERSION_LANGUAGES if version in available)


def recipients(
    audience: Audience, topic_id: int, segment: dict | None = None, row_by_row: bool = False
) -> tuple[str, list]:
    """SQL on `subscribers` and its parameters: the topic's readers in the audience and
    the segment (None: no narrowing); `row_by_row` for the freeze's id windows."""
    narrowing, params = segments.condition(segment)
    in_topic = RECEIVES_TOPIC if row_by_row else IN_TOPIC
    return (
        f"{audience.condition} AND {narrowing} AND {in_topic}",
        [*audience.params, *params, topic_id],
    )


def counts(
    db: Database,
    key: str,
    available: Collection[str],
    topic_id: int | None = None,
    segment_id: int | None = None,
) -> dict[str, dict[str, int]]:
    """Per version: how many of the topic's readers get it in their language (`own`) or
    as a fallback.

    `{"en": {"own": 250, "fallback": 50, "total": 300}, "fr": {...}, "all": {"total": 350}}`;
    a version that does not exist gets nobody. With no version at all, nobody is counted
    under a version, but `all` still says how many the audience holds. Without
    `topic_id`, the main topic's readers; with `segment_id`, only the segment's.
    """
    audience = get(key)
    if topic_id is None:
        topic_id = topics.main_topic_id(db)
    result = {version: {"own": 0, "fallback": 0, "total": 0} for version in VERSION_LANGUAGES}
    total = 0
    condition, params = recipients(audience, topic_id, segments.get(db, segment_id))
    for language, number in db.execute(
        f"SELECT language, count(*) FROM subscribers WHERE {condition} GROUP BY language",
        params,
    ).fetchall():
        total += number
        if not available:
            continue
        version = version_for(language, available)
        result[version]["own" if version == language else "fallback"] += number
        result[version]["total"] += number
    return {**result, "all": {"total": total}}
