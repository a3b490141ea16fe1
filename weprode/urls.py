"""Absolute URLs for links that leave the site: e-mails, the sitemap, robots.txt."""

from typing import Any

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
