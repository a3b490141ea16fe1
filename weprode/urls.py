"""Absolute URLs for links that leave the site: e-mails, the sitemap, robots.txt."""

from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from flask import current_app, has_request_context, url_for


def absolute_url(endpoint: str, **values: Any) -> str:
    """A URL on the configured public host, for e-mails, the sitemap and robots.txt.

    Works outside a request too (the command line, the campaign worker), where
    `url_for` would need SERVER_NAME: the path comes from the URL map directly, with
    the same URL defaults (the language of a mail rendered under `force_locale`).
    """
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        current_app.inject_url_defaults(endpoint, values)
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


# Paths on our host that are not pages in a language: files and the staff area.
UNLOCALISED_PREFIXES = ("/static/", "/admin")


def in_language(url: str, language: str) -> str:
    """`url` opening our page in `language` (a link in a mail to a French reader).

    Only links to the public host (`PUBLIC_URL`) change, and only when they name no
    language yet; the default language keeps clean URLs, as `url_for` does.
    """
    config = current_app.config
    if language == config["BABEL_DEFAULT_LOCALE"]:
        return url
    parts = urlsplit(url)
    public = urlsplit(config["PUBLIC_URL"])
    if (parts.scheme, parts.netloc.lower()) != (public.scheme, public.netloc.lower()):
        return url
    named = parse_qs(parts.query, keep_blank_values=True)
    if parts.path.startswith(UNLOCALISED_PREFIXES) or "lang" in named:
        return url
    query = f"{parts.query}&lang={language}" if parts.query else f"lang={language}"
    return urlunsplit(parts._replace(query=query))
