"""The page language: chosen by `?lang=`, carried from page to page in links, never stored.

Visitors get no cookie, so the language cannot be remembered: it travels in the URL
instead. Every link a French page builds with `url_for` carries `lang=fr` (English,
the default, keeps clean URLs), so forms post, redirect and re-render in French too.
"""

from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale

# Endpoints whose URLs never carry the visitor's language.
UNLOCALISED_BLUEPRINTS = ("admin",)
UNLOCALISED_ENDPOINTS = ("static",)
# Each language named in itself, as a language switch should.
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def select_locale() -> str:
    """The page language: `?lang=` when it is a site language, else the default."""
    if not has_request_context():  # mails rendered by the command line or the worker
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    requested = request.args.get("lang")
    if requested in current_app.config["SITE_LANGUAGES"]:
        return requested
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def is_localised(endpoint: str) -> bool:
    """True for public endpoints: not static files, not the staff area."""
    if endpoint in UNLOCALISED_ENDPOINTS:
        return False
    return endpoint.partition(".")[0] not in UNLOCALISED_BLUEPRINTS


def keep_language(endpoint: str, values: dict[str, Any]) -> None:
    """`url_defaults` hook: add `lang` to public URLs unless the language is the default.

    It follows `get_locale()`, so a mail rendered under `force_locale("fr")` links to
    French pages as well. An explicit `lang=None` asks for the default-language URL.
    """
    if "lang" in values or not is_localised(endpoint):
        return
    language = str(get_locale())
    if language != current_app.config["BABEL_DEFAULT_LOCALE"]:
        values["lang"] = language


def language_path(language: str, keep_query: bool = False) -> str:
    """This page's path in `language`; with `keep_query`, other query arguments too."""
    args = request.args.to_dict(flat=False) if keep_query else {}
    args.pop("lang", None)
    if language != current_app.config["BABEL_DEFAULT_LOCALE"]:
        args["lang"] = [language]
    query = urlencode(args, doseq=True)
    return request.path + ("?" + query if query else "")


def language_context() -> dict[str, Any]:
    """Template values: the page language, and the site's languages with their names."""
    return {
        "page_language": str(get_locale()),
        "site_languages": [
            (code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["SITE_LANGUAGES"]
        ],
        "language_path": language_path,
    }


def init_app(app: Flask) -> None:
    """Install the hooks that keep the language in links and give it to templates."""
    app.url_defaults(keep_language)
    app.context_processor(language_context)
