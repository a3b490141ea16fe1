"""The preference page of a subscribed person, rendered once per language and topic list.

Every mail carries the link, so the page is opened often, and rendering the full layout
costs ten times a bare response. What differs from one person to the next is small:
their token (in the form actions and language links), masked address, first name, and
which language and topics are ticked. The page is rendered once with markers in their
place (`skeleton`), kept per page language, notice and offered topics, then filled in
per request. tests/test_preference_page.py checks the result is the page a plain render
gives, for several people.
"""

from collections.abc import Iterable

from flask import current_app, render_template, request
from flask_babel import get_locale
from markupsafe import escape

from .forms import PreferencesForm, offer_topics

# Plain ASCII letters and digits: URL building and HTML escaping leave them as they are.
TOKEN_MARK = "PrefTokenMark0"
EMAIL_MARK = "PrefEmailMark0"
NAME_MARK = "PrefNameMark0"
CACHE = "weprode.preference_skeletons"
# Skeletons differ by language, notice and topic list: a few exist; a bound all the same.
MOST_SKELETONS = 64


def skeleton(offered: list[dict], saved: bool) -> str:
    """The page with markers for the person's values, nothing ticked (cached)."""
    key = (str(get_locale()), saved, tuple(tuple(topic.items()) for topic in offered))
    cache = current_app.extensions.setdefault(CACHE, {})
    page = cache.get(key)
    if page is None:
        if len(cache) >= MOST_SKELETONS:
            cache.clear()
        form = PreferencesForm(formdata=None, first_name=NAME_MARK, language="", topics=[])
        offer_topics(form.topics, offered)
        # Links to this page (form actions, the language switch) carry the marker too.
        real_args = request.view_args
        request.view_args = {**(real_args or {}), "token": TOKEN_MARK}
        try:
            page = render_template(
                "newsletter/preferences.html",
                token=TOKEN_MARK,
                form=form,
                standing="subscribed",
                masked_email=EMAIL_MARK,
                saved=saved,
            )
        finally:
            request.view_args = real_args
        cache[key] = page
    return page


def tick(page: str, name: str, value: str) -> str:
    """Tick the box or radio `name`=`value`, as the macros write a ticked one."""
    found = f'name="{name}" value="{escape(value)}"'
    return page.replace(found, f"{found} checked", 1)


def render(
    token: str,
    subscriber: dict,
    masked_email: str,
    offered: list[dict],
    receives: Iterable[int],
    saved: bool,
) -> str:
    """The subscribed person's page: the skeleton filled in with their values."""
    page = (
        skeleton(offered, saved)
        .replace(TOKEN_MARK, token)
        .replace(EMAIL_MARK, str(escape(masked_email)))
        .replace(NAME_MARK, str(escape(subscriber["first_name"] or "")))
    )
    page = tick(page, "language", subscriber["language"])
    for topic_id in sorted(receives):
        page = tick(page, "topics", str(topic_id))
    return page
