"""The public archive: sent campaigns staff chose to publish, read without any name.

A published campaign is rendered for nobody in particular: placeholders take their
default text (`{{ first_name | default("there") }}` reads "there"), no token and no
address appear, and its unsubscribe link is replaced by the signup page.
"""

from datetime import datetime

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
from . import ledger, render

LANGUAGES = ("en", "fr")
PAGE_SIZE = 20
FEED_SIZE = 20
# A subquery, so that paging and conditions name plain columns (`published_at`, `id`).
ARCHIVED = (
    "SELECT * FROM (SELECT c.id, c.subject, c.preheader, c.body_markdown, c.language, "
    "c.finished_at, a.published_at FROM archived_campaigns a "
    "JOIN campaigns c ON c.id = a.campaign_id)"
)


class NotPublishable(ledger.CampaignStateError):
    """Only a campaign that was sent may be shown to the public."""


def publish(db: Database, campaign_id: int, staff: str, now: datetime) -> bool:
    """Show a sent campaign on the archive; False if it already was."""
    with write_transaction(db):
        campaign = ledger.get(db, campaign_id)
        if campaign is None or campaign["status"] != "sent":
            raise NotPublishable("Only a sent campaign can be published.")
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


def readable_in(language: str) -> tuple[str, list[str]]:
    """The condition (and its parameters) for campaigns a reader of `language` can read.

    A campaign sent to everybody has one text for all, so it is listed in both.
    """
    return "language IN (?, 'all')", [language]


def reading_languages(campaign: dict) -> list[str]:
    """The page languages a campaign can be read in: `readable_in` seen from the campaign."""
    return list(LANGUAGES) if campaign["language"] == "all" else [campaign["language"]]


def page(
    db: Database, language: str, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], str | None]:
    """Published campaigns readable in `language`, newest publication first."""
    condition, params = readable_in(language)
    rows, last = keyset_page(
        db,
        ARCHIVED,
        ("published_at", "id"),
        limit=limit,
        after=parse_keyset_cursor(cursor),
        conditions=[condition],
        params=params,
    )
    for row in rows:
        row["title"] = public_subject(row)
    return rows, format_keyset_cursor(last)


def entry(db: Database, campaign_id: int, language: str) -> dict | None:
    """A published campaign readable in `language`, with its public title and body."""
    condition, params = readable_in(language)
    row = first_row(db, f"{ARCHIVED} WHERE id = ? AND {condition}", [campaign_id, *params])
    if row is not None:
        row["title"] = public_subject(row)
        row["body"] = public_html(row)
    return row


def all_published(db: Database) -> list[dict]:
    """Every published campaign's id, date and reading languages, for the sitemap."""
    rows = db.query(f"{ARCHIVED} ORDER BY published_at DESC, id DESC")
    return [
        {"id": row["id"], "published_at": row["published_at"], "languages": reading_languages(row)}
        for row in rows
    ]


def public_subject(campaign: dict) -> str:
    """The subject with every placeholder at its default (an empty text without one)."""
    subject = render.extract_placeholders(campaign["subject"])
    return render.substitute(subject.text, subject.values({}), escape_html=False)


def public_html(campaign: dict) -> Markup:
    """The body as sanitised HTML, placeholders at their defaults, escaped."""
    body = render.extract_placeholders(campaign["body_markdown"])
    html = render.body_html(body.text)
    return Markup(render.substitute(html, body.values({}), escape_html=True))
