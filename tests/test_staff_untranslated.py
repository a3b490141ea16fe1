"""No English left in the French staff area: every string staff read in a staff template
goes through the catalogue.

Two checks that fail differently. The templates are parsed (Jinja's own parser): any
literal text or attribute a person reads, or a string printed by `{{ }}` without
`_()`, is untranslated, whatever data a page shows. Then every staff page is rendered
for a French staff member with data in it: no visible text may be an English catalogue
entry whose French differs (a string wrapped in `_()` but left out of the catalogue, or
a Python-side label or message).
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import nodes

from weprode import create_app

TEMPLATES = Path(__file__).parent.parent / "templates"
STAFF_TEMPLATES = sorted((TEMPLATES / "admin").glob("*.html"))
# Attributes whose value a person reads or hears.
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "summary"}
GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
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
        self.found, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.found.append(value)
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.found.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        # A macro printing attributes (` aria-invalid="true"`) leaves them outside any tag.
        if re.fullmatch(r'(\s*[\w-]+="[^"]*")+\s*', data):
            return
        if not self.skipping:
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
