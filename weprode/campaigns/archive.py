"""The public archive: sent campaigns staff chose to publish, read without any name.

A published campaign is rendered for nobody in particular: placeholders take their
default text (`{{ first_name | default("there") }}` reads "there"), no token and no
address appear, and its unsubscribe link is replaced by the signup page.
"""

from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup

from ..db import (
    Database,
    first_row,
    format_keyset_cursor,
    isoformat,
    keyset_page,
    parse_keyset_cursor,
    write_transaction,
)
from . import audiences, ledger, placeholders, render

LANGUAGES = audiences.VERSION_LANGUAGES
PAGE_SIZE = 20
FEED_SIZE = 20
# The languages a campaign has a version in, as "en fr" (`reading_languages` reads it).
VERSION_LANGUAGES = (
    "(SELECT group_concat(language, ' ') FROM (SELECT language FROM campaign_versions "
    "WHERE campaign_id = c.id ORDER BY language)) AS languages"
)
# One row per published campaign and version: an issue is readable in a language when
# it has a version in it. A subquery, so that paging and conditions name plain columns
# (`published_at`, `id`, `language`).
# Each row names its topic (`topic_id`, `topic_slug`, `topic_name_en`/`_fr`).
ARCHIVED = (
    "SELECT * FROM (SELECT c.id, v.language, v.subject, v.preheader, v.body_markdown, "
    f"{VERSION_LANGUAGES}, c.finished_at, a.published_at, c.topic_id, t.slug AS topic_slug, "
    "t.name_en AS topic_name_en, t.name_fr AS topic_name_fr FROM archived_campaigns a "
    "JOIN campaigns c ON c.id = a.campaign_id "
    "JOIN campaign_versions v ON v.campaign_id = c.id "
    "JOIN topics t ON t.id = c.topic_id)"
)


class NotPublishable(ledger.CampaignStateError):
    """Only a campaign that was sent may be shown to the public."""


def publish(db: Database, campaign_id: int, staff: str, now: datetime) -> bool:
    """Show a sent campaign on the archive; False if it already was."""
    with write_transaction(db):
        campaign = ledger.get(db, campaign_id)
        if campaign is None or campaign["status"] != "sent":
            raise NotPublishable(_("Only a sent campaign can be published."))
        cursor = db.execute(
            "INSERT INTO archived_campaigns (campaign_id, published_at, published_by) "
            "VALUES (?, ?, ?) ON CONFLICT (campaign_id) DO NOTHING",
            [campaign_id, isoformat(now), staff],
        )
    return cursor.rowcount == 1


def unpublish(db: Database, campaign_id: int) -> bool:
    """Take a campaign off the archive; False if it was not on it."""
    with write_transaction(db):
        cursor = db.execute("DELETE FROM archived_campaigns WHERE campaign_id = ?", [campaign_id])
    return cursor.rowcount == 1


def is_published(db: Database, campaign_id: int) -> bool:
    """True while the campaign is on the archive."""
    return bool(
        db.execute(
            "SELECT 1 FROM archived_campaigns WHERE campaign_id = ?", [campaign_id]
        ).fetchone()
    )


def reading_languages(campaign: dict) -> list[str]:
    """The page languages a campaign can be read in: those of its versions.

    `campaign` is an `ARCHIVED` row (`languages`: "en fr") or a campaign with its
    `versions` (`compose.get`).
    """
    if "versions" in campaign:
        written = set(campaign["versions"])
    else:
        written = set((campaign["languages"] or "").split())
    return [language for language in LANGUAGES if language in written]


def page(
    db: Database,
    language: str,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    topic_id: int | None = None,
) -> tuple[list[dict], str | None]:
    """Published campaigns readable in `language` (of one topic when given), newest
    publication first."""
    conditions, params = ["language = ?"], [language]
    if topic_id is not None:
        conditions.append("topic_id = ?")
        params.append(topic_id)
    rows, last = keyset_page(
        db,
        ARCHIVED,
        ("published_at", "id"),
        limit=limit,
        after=parse_keyset_cursor(cursor),
        conditions=conditions,
        params=params,
    )
    for row in rows:
        with_topic_name(row, language)
    return rows, format_keyset_cursor(last)


def with_topic_name(row: dict, language: str) -> dict:
    """An `ARCHIVED` row with its public `title` and its topic's name in `language`."""
    row["title"] = public_subject(row)
    row["topic_name"] = (
        row[f"topic_name_{language}"] if language in LANGUAGES else row["topic_name_en"]
    )
    return row


def published_topics(db: Database) -> list[dict]:
    """The topics with at least one published issue, in the staff's order, each with
    the languages its issues can be read in (`languages`: ["en", "fr"])."""
    rows = db.query(
        "SELECT t.id, t.slug, t.name_en, t.name_fr, group_concat(DISTINCT v.language) "
        "AS written FROM archived_campaigns a JOIN campaigns c ON c.id = a.campaign_id "
        "JOIN campaign_versions v ON v.campaign_id = c.id JOIN topics t ON t.id = c.topic_id "
        "GROUP BY t.id ORDER BY t.position, t.id"
    )
    return [
        {**row, "languages": reading_languages({"languages": row["written"].replace(",", " ")})}
        for row in rows
    ]


def entry(db: Database, campaign_id: int, language: str) -> dict | None:
    """A published campaign's version in `language`, with its public title and body;
    None when it is not published or has no version in that language."""
    row = first_row(db, f"{ARCHIVED} WHERE id = ? AND language = ?", [campaign_id, language])
    if row is not None:
        with_topic_name(row, language)
        row["body"] = public_html(row)
    return row


def entry_for_reader(db: Database, campaign_id: int, language: str) -> dict | None:
    """The version a reader of `language` got by mail: theirs, else the one written
    (as `audiences.version_for` chose), its topic named in `language`; None when the
    campaign is not published."""
    for version in (language, *(other for other in LANGUAGES if other != language)):
        if (row := entry(db, campaign_id, version)) is not None:
            return with_topic_name(row, language)
    return None


def all_published(db: Database) -> list[dict]:
    """Every published campaign's id, date and reading languages, for the sitemap."""
    rows = db.query(
        f"SELECT c.id, a.published_at, {VERSION_LANGUAGES} FROM archived_campaigns a "
        "JOIN campaigns c ON c.id = a.campaign_id ORDER BY a.published_at DESC, c.id DESC"
    )
    return [
        {"id": row["id"], "published_at": row["published_at"], "languages": reading_languages(row)}
        for row in rows
    ]


def public_subject(campaign: dict) -> str:
    """A version's subject with every placeholder at its default (empty without one)."""
    subject = placeholders.extract_placeholders(campaign["subject"])
    return placeholders.substitute(subject.text, subject.values({}), escape_html=False)


def public_html(campaign: dict) -> Markup:
    """A version's body as sanitised HTML, placeholders at their defaults, escaped."""
    body = placeholders.extract_placeholders(campaign["body_markdown"])
    html = render.body_html(body.text)
    return Markup(placeholders.substitute(html, body.values({}), escape_html=True))
