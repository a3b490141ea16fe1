"""The public archive's pages and Atom feed: no session, no cookie, no personal data."""

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _

from ..db import get_db, isoformat, parse_timestamp, utcnow
from ..urls import absolute_url
from . import archive

bp = Blueprint("archive", __name__)


def page_language() -> str:
    """The language the visitor reads this page in."""
    return str(get_locale())


def with_dates(rows: list[dict]) -> list[dict]:
    """Each row with its publication day written out in the page language."""
    for row in rows:
        row["published_on"] = parse_timestamp(row["published_at"]).date()
        row["published_text"] = format_date(row["published_on"], format="d MMMM y")
    return rows


@bp.get("/newsletter/archive")
def index():
    """Published campaigns readable in the page language, newest first, 20 a page."""
    rows, next_cursor = archive.page(get_db(), page_language(), request.args.get("after"))
    return render_template(
        "archive/index.html",
        campaigns=with_dates(rows),
        next_cursor=next_cursor,
        after=request.args.get("after"),
    )


@bp.get("/newsletter/archive/<int:campaign_id>")
def entry(campaign_id):
    """One published campaign, as any reader would see it (no name, no personal link).

    An issue published in the other language only (the language switch leads there)
    sends the reader to the archive in the language they chose.
    """
    db = get_db()
    campaign = archive.entry(db, campaign_id, page_language())
    if campaign is None:
        if archive.is_published(db, campaign_id):  # in the other language only
            return redirect(url_for("archive.index"))
        abort(404, description=_("This newsletter is not in our archive."))
    return render_template(
        "archive/entry.html",
        campaign=with_dates([campaign])[0],
        languages=archive.reading_languages(campaign),
    )


@bp.get("/newsletter/archive/feed.atom")
def feed():
    """An Atom feed of the archive in the page language (`?lang=fr` for French)."""
    language = page_language()
    rows, _next = archive.page(get_db(), language, limit=archive.FEED_SIZE)
    for row in rows:
        row["body"] = archive.public_html(row)
        row["url"] = absolute_url("archive.entry", campaign_id=row["id"])
    body = render_template(
        "archive/feed.atom.xml",
        campaigns=rows,
        language=language,
        # An empty feed was last changed... never: now is the honest answer.
        updated=rows[0]["published_at"] if rows else isoformat(utcnow()),
        feed_url=absolute_url("archive.feed"),
        index_url=absolute_url("archive.index"),
    )
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}
