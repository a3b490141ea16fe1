"""The page language: chosen by `?lang=`, carried from page to page in links, never stored.

Visitors get no cookie, so the language cannot be remembered: it travels in the URL
instead. Every link a French page builds with `url_for` carries `lang=fr` (English,
the default, keeps clean URLs), so forms post, redirect and re-render in French too.
The staff area follows the signed-in staff member's account (language and time zone);
before login (login page, second factor) it is in `STAFF_LANGUAGE`.
"""

from collections.abc import Callable
from typing import Any

from babel.lists import format_list
from flask import Flask, current_app, has_app_context, has_request_context, request, url_for
from flask_babel import get_locale
from flask_login import current_user

# Endpoints whose URLs never carry the visitor's language: the staff area, shown in
# the staff member's own language instead.
UNLOCALISED_BLUEPRINTS = ("admin",)
UNLOCALISED_ENDPOINTS = ("static",)
# Set by `query_arguments` on a view: the query arguments it reads, with accepted values.
QUERY_ARGUMENTS_ATTR = "_query_arguments"
# Each language named in itself, as a language switch should.
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def select_locale() -> str:
    """The page language: STAFF_LANGUAGE in the staff area; elsewhere `?lang=` when it
    is a site language, else the default."""
    if not has_request_context():  # mails rendered by the command line or the worker
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if is_staff_request():
        return staff_preference("language") or current_app.config["STAFF_LANGUAGE"]
    requested = request.args.get("lang")
    if requested in current_app.config["SITE_LANGUAGES"]:
        return requested
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    """The signed-in staff member's zone on staff pages; None (UTC) everywhere else.

    Public pages and mails show no local time of a reader we do not know.
    """
    if has_request_context() and is_staff_request():
        return staff_preference("time_zone")
    return None


def staff_preference(name: str) -> str | None:
    """`language` or `time_zone` of the signed-in staff member; None before login."""
    if not current_user or not current_user.is_authenticated:
        return None
    return getattr(current_user, name, None)


def either(words: list) -> str:
    """`a, b or c` in the current language (English outside an app)."""
    locale = str(get_locale()) if has_app_context() else "en"
    return format_list([str(word) for word in words], style="or", locale=locale)


def after_colon(message: object) -> str:
    """`message` as it reads after "Error:", which French wants followed by a small
    letter: "Erreur : veuillez saisir…". A first word in capitals (an acronym) or
    with a capital further on (a name such as "WEPRODE") keeps its case."""
    text = str(message)
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:] == word[1:].lower():
        return text[0].lower() + text[1:]
    return text


def is_staff_request() -> bool:
    """True for requests to the staff area, error pages under its path included.

    A request that matched no route (a 404 or 405 under /admin) has no blueprint:
    its path decides, so staff read their error pages in their language too.
    """
    if request.blueprint is not None:
        return request.blueprint in UNLOCALISED_BLUEPRINTS
    for name in UNLOCALISED_BLUEPRINTS:
        blueprint = current_app.blueprints.get(name)
        prefix = blueprint.url_prefix if blueprint else None
        if prefix and (request.path == prefix or request.path.startswith(prefix + "/")):
            return True
    return False


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


def query_arguments(**accepted: tuple[str, ...]) -> Callable[[Callable], Callable]:
    """Mark a view that reads query arguments: `name=(accepted values, ...)`.

    Links to the page in another language keep these arguments, and only with an
    accepted value; anything else in the query string is dropped, so no link ever
    echoes what a visitor (or a poisoned cache entry) put in the URL.
    """

    def mark(view: Callable) -> Callable:
        setattr(view, QUERY_ARGUMENTS_ATTR, accepted)
        return view

    return mark


def kept_arguments() -> dict[str, str]:
    """The query arguments this page reads, with an accepted value (see `query_arguments`)."""
    view = current_app.view_functions.get(request.endpoint)
    accepted = getattr(view, QUERY_ARGUMENTS_ATTR, {})
    return {
        name: request.args[name]
        for name, values in accepted.items()
        if request.args.get(name) in values
    }


def url_language(language: str) -> str | None:
    """`lang` in the URLs of `language`; None (no argument) for the default language."""
    return None if language == current_app.config["BABEL_DEFAULT_LOCALE"] else language


def language_path(language: str, keep_query: bool = False) -> str:
    """This page's path in `language`; with `keep_query`, the arguments the view reads.

    Built with `url_for` from the route the request matched, never from the raw path:
    `/%5Cevil.example` would give `/\\evil.example`, which browsers resolve to another
    host. A request that matched no route (404, 405) gets the home page instead.
    """
    lang = url_language(language)
    if request.url_rule is None:
        return url_for("site.home", lang=lang)
    args = kept_arguments() if keep_query else {}
    return url_for(request.endpoint, **request.view_args, **args, lang=lang)


def is_canonical_request() -> bool:
    """True when the query string is exactly the page's canonical one (its `lang`, if any)."""
    lang = url_language(str(get_locale()))
    return request.args.to_dict(flat=False) == ({"lang": [lang]} if lang else {})


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
    app.jinja_env.filters["after_colon"] = after_colon
