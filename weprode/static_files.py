"""Static files with a fingerprint of their content in the URL, cached for a year.

`url_for('static', filename='css/site.css')` gives `/static/css/site.css?v=<hash>`: the
first 16 hex digits of the file's SHA-256, computed once per file and process (on every
call in debug mode, so an edited stylesheet shows at once). New bytes make a new URL,
so browsers and proxies may keep a fingerprinted response for a year without asking
again (`immutable`). A request without the fingerprint, or with one that is no longer
the file's (a page cached before a deployment), gets a short cache instead: its URL may
soon mean other bytes.

A query parameter rather than a renamed file: nothing to build at deployment, and the
file keeps its name on disk, so a web server in front can serve it unchanged. Libraries
that rename (Flask-Static-Digest) need a compile step run at every deployment.
"""

import hashlib
import posixpath
from datetime import timedelta

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join

FINGERPRINT_ARGUMENT = "v"
FINGERPRINT_LENGTH = 16
LONG_CACHE = timedelta(days=365)
# For URLs without the right fingerprint: few requests, and a change shows within the hour.
SHORT_CACHE = timedelta(hours=1)
EXTENSION_KEY = "weprode.static_fingerprints"


def file_fingerprint(folder: str, filename: str) -> str | None:
    """The fingerprint of `folder/filename`'s bytes, or None when there is no such file."""
    path = safe_join(folder, filename)
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 (safe_join gives a str or None)
            digest = hashlib.file_digest(handle, "sha256")
    except (TypeError, OSError):  # TypeError: safe_join refused the name (None)
        return None
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def fingerprint(app: Flask, filename: str) -> str | None:
    """The fingerprint of a file in the app's static folder, remembered per process.

    Only names in their plain form are remembered: requests may spell one file in
    endless ways (`css//site.css`, `css/./site.css`), which must not grow the memory.
    """
    if app.debug or posixpath.normpath(filename) != filename:
        return file_fingerprint(app.static_folder, filename)
    known = app.extensions.setdefault(EXTENSION_KEY, {})
    if filename not in known:
        known[filename] = file_fingerprint(app.static_folder, filename)
    return known[filename]


def add_fingerprint(endpoint: str, values: dict) -> None:
    """`url_for('static', ...)` hook: add `v=<fingerprint>` when the file exists."""
    if endpoint != "static" or FINGERPRINT_ARGUMENT in values or "filename" not in values:
        return
    value = fingerprint(current_app, values["filename"])
    if value:
        values[FINGERPRINT_ARGUMENT] = value


def set_cache_headers(response: Response) -> Response:
    """A year and `immutable` for the current fingerprinted URL of a file, else an hour."""
    if request.endpoint != "static" or response.status_code >= 400:
        return response
    filename = (request.view_args or {}).get("filename", "")
    asked = request.args.get(FINGERPRINT_ARGUMENT)
    current = asked is not None and asked == fingerprint(current_app, filename)
    cache = response.cache_control
    cache.no_cache = None
    cache.public = True
    cache.max_age = int((LONG_CACHE if current else SHORT_CACHE).total_seconds())
    cache.immutable = current or None
    return response


def init_app(app: Flask) -> None:
    """Fingerprint static URLs and set how long their responses may be kept."""
    app.url_defaults(add_fingerprint)
    app.after_request(set_cache_headers)
