"""The public pages, robots.txt, sitemap.xml and the favicon. None of them use a session."""

from typing import Any

from flask import (
    Blueprint,
    current_app,
    render_template,
    send_from_directory,
)
from flask_babel import format_date, get_locale

from .. import languages
from ..campaigns import archive
from ..db import get_db
from ..privacy import policy, retention
from ..urls import absolute_url

bp = Blueprint("site", __name__)

# Pages listed in the sitemap; endpoints of capabilities not installed are skipped.
PUBLIC_PAGES = [
    "site.home",
    "site.services",
    "site.about",
    "newsletter.signup",
    "archive.index",
    "contact.contact",
    "site.legal",
    "site.privacy",
    "rights.request",
]

CACHE_ONE_DAY = 86400
PAGE_CACHE = "weprode.page_cache"


def render_page(template: str, **context: Any) -> str:
    """Render a public page once per canonical URL, then serve it from memory.

    These pages are the same for every visitor and change only with a deployment, yet
    rendering one costs ~2 ms (translations, the footer form); the cache makes them
    nearly as cheap as a static file. The debug server renders every time.

    The key is the page's canonical URL (path and language), and only a request for
    exactly that URL fills it: one carrying anything else in its query string
    (`utm_source=`, padding, an unknown `lang`) gets the cached page, or a page
    rendered for it alone, so no visitor's URL can shape what the next visitors get.
    """
    if current_app.debug:
        return render_template(template, **context)
    cache = current_app.extensions.setdefault(PAGE_CACHE, {})
    key = (template, languages.language_path(str(get_locale())))
    html = cache.get(key)
    if html is None:
        html = render_template(template, **context)
        if languages.is_canonical_request():
            cache[key] = html
    return html


@bp.get("/")
def home():
    """What Weprode does and for whom."""
    return render_page("site/home.html")


@bp.get("/services")
def services():
    """The sovereignty services."""
    return render_page("site/services.html")


@bp.get("/about")
def about():
    """The company: identity, location, mission."""
    return render_page("site/about.html")


@bp.get("/legal")
def legal():
    """The legal notice (mentions légales)."""
    return render_page("site/legal.html")


@bp.get("/privacy")
def privacy():
    """The privacy policy."""
    return render_page(
        "site/privacy.html",
        retention_rules=retention.RULES,
        backup_keep_days=current_app.config["BACKUP_KEEP_DAYS"],
        purposes=policy.PURPOSES,
        withdraw_consent=policy.WITHDRAW_CONSENT,
        automated_decisions=policy.AUTOMATED_DECISIONS,
        post_mortem=policy.POST_MORTEM,
        last_updated=policy.LAST_UPDATED,
        # Day, month, year in both languages (the "long" format of `en` is American).
        last_updated_text=format_date(policy.LAST_UPDATED, format="d MMMM y"),
    )


@bp.get("/robots.txt")
def robots():
    """Let crawlers in, keep them out of the staff area and one-time links.

    `/privacy/request/` (with the slash) covers the signed links, not the form itself.
    """
    body = render_template("site/robots.txt", sitemap_url=absolute_url("site.sitemap"))
    return body, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/sitemap.xml")
def sitemap():
    """The public pages in every language, each with its translations as alternates,
    then the archived newsletters and each topic's archive page, in the languages each
    can be read in."""
    languages = current_app.config["SITE_LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    pages = [in_languages(endpoint, languages) for endpoint in sitemap_endpoints()]
    if "archive.entry" in current_app.view_functions:
        db = get_db()
        pages += [
            in_languages("archive.entry", issue["languages"], campaign_id=issue["id"])
            for issue in archive.all_published(db)
        ]
        # Each topic's archive page, in the languages its issues can be read in.
        pages += [
            in_languages("archive.index", topic["languages"], topic=topic["slug"])
            for topic in archive.published_topics(db)
        ]
    body = render_template("site/sitemap.xml", pages=pages, default_language=default)
    return body, 200, {"Content-Type": "application/xml; charset=utf-8"}


def in_languages(endpoint: str, languages: list[str], **values: Any) -> dict[str, str]:
    """{language: the page's absolute URL in it} (no `lang` for the default language)."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    return {
        language: absolute_url(endpoint, **values, lang=None if language == default else language)
        for language in languages
    }


def sitemap_endpoints() -> list[str]:
    """The public pages whose blueprint is registered."""
    return [e for e in PUBLIC_PAGES if e in current_app.view_functions]


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links to."""
    return send_from_directory(
        current_app.static_folder + "/img", "favicon.ico", max_age=CACHE_ONE_DAY
    )
