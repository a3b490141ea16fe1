"""No English left in the French staff area: every string staff read in a staff template
goes through the catalogue.

Two checks that fail differently. The templates are parsed (Jinja's own parser): any
literal text or attribute a person reads, or a string printed by `{{ }}` without
`_()`, is untranslated, whatever data a page shows. Then every staff page is rendered
for a French staff member with data in it: no visible text may be an English catalogue
entry whose French differs (a string wrapped in `_()` but left out of the catalogue, or
a Python-side label or message).
"""

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nu_checker
import pytest
from babel.messages.pofile import read_po
from jinja2 import nodes
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in
from staff_pages import seed_staff_data, staff_paths

from weprode import create_app
from weprode.db import connect

TEMPLATES = Path(__file__).parent.parent / "templates"
CATALOGUE = Path(__file__).parent.parent / "weprode/translations/fr/LC_MESSAGES/messages.po"
STAFF_TEMPLATES = sorted((TEMPLATES / "admin").glob("*.html"))
# Attributes whose value a person reads or hears.
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "summary"}
VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Literal text that is the same in both languages: names, symbols, units.
SAME_IN_BOTH = {"Weprode", "WEPRODE", "#", "px", "%", "CSV", "RFC"}
# Filters that print their value as it is (others, such as language_name, translate it).
PASS_THROUGH = {"e", "escape", "safe", "upper", "lower", "capitalize", "title", "trim", "format"}
WORD = re.compile(r"[A-Za-zÀ-ÿ]{2,}")


class ReadText(HTMLParser):
    """The text and read attributes of an HTML fragment; <script>/<style>/<code> skipped."""

    SKIPPED = {"script", "style", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.skipping, self.foreign = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        # Text marked as another language (a language named in itself, an English
        # campaign version) is meant to be read in that language.
        language = dict(attrs).get("lang")
        if language and not language.startswith(("fr", "{")) and tag not in VOID:
            self.foreign.append(tag)
        if self.foreign:
            return
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.found.append(value)
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.found.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        if self.foreign and self.foreign[-1] == tag:
            self.foreign.pop()

    def handle_data(self, data):
        # A macro printing attributes (` aria-invalid="true"`) leaves them outside any tag.
        if re.fullmatch(r'(\s*[\w-]+="[^"]*")+\s*', data):
            return
        if not self.skipping and not self.foreign:
            self.found.append(data)


def words_to_translate(text):
    """The words of `text` a translator would have to translate (not names or symbols).

    Placeholder syntax shown to staff (`{{ first_name }}`) is code, not wording.
    """
    if "{{" in text:
        return []
    return [word for word in WORD.findall(text) if word not in SAME_IN_BOTH]


def printed_strings(expression):
    """String constants `{{ expression }}` prints as they are (not through gettext)."""
    if isinstance(expression, nodes.Const):
        return [expression.value] if isinstance(expression.value, str) else []
    if isinstance(expression, nodes.CondExpr):
        return printed_strings(expression.expr1) + (
            printed_strings(expression.expr2) if expression.expr2 is not None else []
        )
    if isinstance(expression, nodes.Concat):
        return [text for node in expression.nodes for text in printed_strings(node)]
    if isinstance(expression, nodes.Filter) and expression.name in PASS_THROUGH:
        return printed_strings(expression.node) if expression.node is not None else []
    if isinstance(expression, nodes.Call | nodes.Getattr | nodes.Getitem | nodes.Name):
        return []  # a function's result or data: not a literal of the template
    if isinstance(expression, nodes.BinExpr):
        return printed_strings(expression.left) + printed_strings(expression.right)
    return []


def untranslated_in_template(source, environment):
    """Every piece of English a person would read in the template `source`."""
    tree = environment.parse(source)
    problems = []
    literal_html = []
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                literal_html.append(child.data)
            else:
                problems += [s for s in printed_strings(child) if words_to_translate(s)]
    # Literal text between tags, as one document so attributes split by {{ }} still parse.
    reader = ReadText()
    reader.feed("\n".join(literal_html))
    problems += [text.strip() for text in reader.found if words_to_translate(text)]
    return problems


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 40,
            "DATABASE": str(tmp_path_factory.mktemp("db") / "t.sqlite3"),
        },
        instance_path=tmp_path_factory.mktemp("instance"),
    )
    return app.jinja_env


def test_there_are_staff_templates_to_check():
    names = {path.name for path in STAFF_TEMPLATES}
    assert {"campaign.html", "campaign_edit.html", "campaigns.html", "base.html"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("path", STAFF_TEMPLATES, ids=lambda path: path.name)
def test_no_staff_template_holds_text_outside_the_catalogue(environment, path):
    assert untranslated_in_template(path.read_text(encoding="utf-8"), environment) == []


@pytest.mark.parametrize(
    "planted",
    [
        "<p>Campaign sent.</p>",
        '<a href="/admin" title="Back home">←</a>',
        "<td>{{ 'Not chosen' if missing else value }}</td>",
        '{{ "Edit" ~ name }}',
        '<img src="x.png" alt="A chart">',
        "<p>{% if x %}Waiting{% endif %}</p>",
        '<input type="submit" value="Save">',
    ],
)
def test_the_template_check_catches_a_planted_english_string(environment, planted):
    source = STAFF_TEMPLATES[0].read_text(encoding="utf-8")
    clean = untranslated_in_template(source, environment)
    assert clean == []
    assert untranslated_in_template(source + planted, environment) != []


def test_the_template_check_lets_translated_and_data_pass(environment):
    fine = (
        "<p>{{ _('Campaign sent.') }} {{ campaign.subject }} {{ count|numberformat }}</p>"
        "<a title=\"{{ _('Back') }}\" href=\"{{ url_for('admin.dashboard') }}\">Weprode</a>"
        "<code>{{ first_name }}</code><td>{{ ngettext('%(num)s day', '%(num)s days', n) }}</td>"
    )
    assert untranslated_in_template(fine, environment) == []


# The rendered check: English catalogue entries left on French staff pages.


def english_entries():
    """English msgids (without placeholders) whose French differs, as shown on a page."""
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    found = set()
    for message in catalogue:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for english in ids:
            if not english or "%(" in english or english in strings:
                continue
            if words_to_translate(english):
                found.add(" ".join(english.split()))
    return found


def english_left(html, entries):
    """The visible texts of `html` (text nodes and read attributes) that are English entries."""
    reader = ReadText()
    reader.feed(html.split("<body", 1)[-1])
    return sorted({" ".join(text.split()) for text in reader.found} & entries)


@pytest.fixture
def french_staff(make_app):
    app = make_app(STAFF_LANGUAGE="fr")
    ids = seed_staff_data(app, STAFF_EMAIL, STAFF_PASSWORD)
    client = app.test_client()
    assert log_in(client).status_code == 302
    db = connect(app.config["DATABASE"])
    ids["bounce"] = db.execute("SELECT id FROM bounce_events ORDER BY id LIMIT 1").fetchone()[0]
    db.close()
    return app, client, ids


def staff_responses(client, ids):
    """Every staff page, and pages answering a mistake, as (what, status, html)."""
    paths = [
        *staff_paths(ids),
        "/admin/campaigns/new",
        f"/admin/campaigns/{ids['draft']}/preview/fr",
        f"/admin/subscribers/{ids['subscriber']}/unsubscribe",
        f"/admin/subscribers/{ids['subscriber']}/erase",
        f"/admin/deliverability/bounces/{ids['bounce']}",
        f"/admin/deliverability/bounces/{ids['bounce']}/lift",
        "/admin/account/totp",
        "/admin/no-such-page",
        "/admin/subscribers?status=bogus",
    ]
    for path in paths:
        response = client.get(path)
        yield path, response.status_code, response.get_data(as_text=True)
    posts = {
        "/admin/campaigns/new": {},
        "/admin/account": {"language": "fr", "time_zone": "Lune/Tranquillité"},
        f"/admin/campaigns/{ids['draft']}/send": {"audience": "fr"},
    }
    for path, data in posts.items():
        token = csrf_token(client, path if "send" not in path else path.rsplit("/", 1)[0])
        response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=True)
        yield f"POST {path}", response.status_code, response.get_data(as_text=True)


def test_no_french_staff_page_shows_an_english_catalogue_entry(french_staff):
    app, client, ids = french_staff
    entries = english_entries()
    assert {"Campaigns", "Save draft", "Send now", "Dashboard"} <= entries
    seen, problems = 0, []
    for what, status, html in staff_responses(client, ids):
        assert status < 500, what
        assert '<html lang="fr">' in html, what
        seen += 1
        left = english_left(html, entries)
        if left:
            problems.append(f"{what}: {left}")
    assert seen >= 25
    assert problems == [], "\n".join(problems)


def test_the_rendered_check_catches_a_planted_english_entry(french_staff):
    app, client, ids = french_staff
    html = client.get("/admin/campaigns").get_data(as_text=True)
    entries = english_entries()
    assert english_left(html, entries) == []
    planted = html.replace("</h1>", "</h1><p>Older campaigns</p>", 1)
    assert english_left(planted, entries) == ["Older campaigns"]
    attribute = html.replace("<h1>", '<h1 title="Save draft">', 1)
    assert english_left(attribute, entries) == ["Save draft"]


def test_every_french_staff_page_is_valid_html(french_staff):
    """The Nu HTML Checker over the same pages (test_nu_html covers the public ones)."""
    reason = nu_checker.unavailable_reason()
    if reason:
        if os.environ.get("WEPRODE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    app, client, ids = french_staff
    documents = {
        re.sub(r"\W+", "-", what).strip("-"): html
        for what, status, html in staff_responses(client, ids)
    }
    # Pages with several forms repeat Flask-WTF's id="csrf_token" (known, older than this).
    messages = [
        m for m in nu_checker.check(documents) if m.is_error and "csrf_token" not in m.message
    ]
    assert not messages, "\n".join(map(str, messages))
