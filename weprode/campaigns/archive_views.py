"""The public archive's pages and Atom feed: no session, no cookie, no personal data."""

from flask import Blueprint, abort, render_template, request
from flask_babel import format_date, get_locale
from flask_babel import gettext as _

from ..db import get_db, isoformat, parse_timestamp, utcnow
from ..languages import url_language
from ..newsletter import topics
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


def chosen_topic() -> dict | None:
    """The topic `?topic=slug` names, None without one; 404 for a slug we do not know."""
    slug = request.args.get("topic")
    if not slug:
        return None
    topic = topics.by_slug(get_db(), slug)
    if topic is None:
        abort(404, description=_("No topic of our newsletter has this name."))
    return topic


def topic_id(topic: dict | None) -> int | None:
    """The topic's id, or None for every topic."""
    return topic["id"] if topic else None


@bp.get("/newsletter/archive")
def index():
    """Published campaigns readable in the page language, newest first, 20 a page;
    `?topic=slug` keeps one topic's."""
    topic, language = chosen_topic(), page_language()
    rows, next_cursor = archive.page(
        get_db(), language, request.args.get("after"), topic_id=topic_id(topic)
    )
    return render_template(
        "archive/index.html",
        campaigns=with_dates(rows),
        next_cursor=next_cursor,
        after=request.args.get("after"),
        topic=topic,
        topic_name=topics.name(topic, language) if topic else None,
        url_language=url_language,
        topic_choices=[
            {**t, "name": topics.name(t, language)}
            for t in archive.published_topics(get_db())
            if language in t["languages"]
        ],
    )


@bp.get("/newsletter/archive/<int:campaign_id>")
def entry(campaign_id):
    """One published campaign, as any reader would see it (no name, no personal link).

    An issue written in the other language only is shown as the mail showed it to a
    reader of the page language: their page around the version that exists (the
    "View in your browser" link and the language switch both lead there); that page
    names the written one as canonical and is not indexed.
    """
    db = get_db()
    campaign = archive.entry_for_reader(db, campaign_id, page_language())
    if campaign is None:
        # Also what a "View in your browser" link shows before the issue is published:
        # mails carry the link from the start (see `render.view_in_browser_url`).
        abort(
            404,
            description=_(
                "This newsletter is not in our public archive, or not yet: we publish "
                "issues there after sending them. The e-mail you received holds the "
                "whole issue."
            ),
        )
    return render_template(
        "archive/entry.html",
        campaign=with_dates([campaign])[0],
        languages=archive.reading_languages(campaign),
        url_language=url_language,
    )


@bp.get("/newsletter/archive/feed.atom")
def feed():
    """An Atom feed of the archive in the page language (`?lang=fr` for French), of
    one topic with `?topic=slug`."""
    topic, language = chosen_topic(), page_language()
    rows, _next = archive.page(
        get_db(), language, limit=archive.FEED_SIZE, topic_id=topic_id(topic)
    )
    for row in rows:
        row["body"] = archive.public_html(row)
        row["url"] = absolute_url("archive.entry", campaign_id=row["id"])
    slug = topic["slug"] if topic else None
    body = render_template(
        "archive/feed.atom.xml",
        campaigns=rows,
        language=language,
        topic_name=topics.name(topic, language) if topic else None,
        # An empty feed was last changed... never: now is the honest answer.
        updated=rows[0]["published_at"] if rows else isoformat(utcnow()),
        feed_url=absolute_url("archive.feed", topic=slug),
        index_url=absolute_url("archive.index", topic=slug),
    )
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}
