"""Placeholders in a campaign's texts: checked when saving, evaluated per recipient.

Each `{{ placeholder }}` is swapped for a marker before Markdown runs, so a subscriber's
name is never parsed as Markdown or HTML; per recipient we only evaluate the
placeholders (cached by value), escape them for HTML and substitute.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from flask_babel import gettext as _
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from ..languages import either

ALLOWED_PLACEHOLDERS = frozenset({"first_name", "email"})
MAX_CACHED_VALUES = 100_000
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# The only forms a placeholder may take: a name, then optionally `| default("text")`
# (single or double quotes, at most 100 characters, no quote or backslash inside).
# The sandbox stops attribute tricks but not arithmetic: `{{ email * 20000000 }}`
# built a gigabyte per recipient. Names are checked against ALLOWED_PLACEHOLDERS.
PLACEHOLDER_FORM = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*"""
    r"""(?:\|\s*default\(\s*(?:"[^"\\]{0,100}"|'[^'\\]{0,100}')\s*\)\s*)?""",
    re.ASCII,
)
STATEMENT = re.compile(r"\{%|%\}|\{#")
MARKER = "WPRDPH{}X"

sandbox = SandboxedEnvironment(autoescape=False)


class PlaceholderError(ValueError):
    """The body or subject uses a placeholder we cannot fill."""


@dataclass(frozen=True)
class Placeholders:
    """A text with its placeholders replaced by markers, and the compiled expressions.

    `expressions[i]` is (compiled template, names of the variables it reads) for
    marker i. Values are cached by those variables' values: most placeholders read
    only the first name, which many recipients share, and a Jinja render costs
    ~10 µs per placeholder per message otherwise.
    """

    text: str
    expressions: tuple
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def values(self, context: dict[str, str]) -> list[str]:
        """Each placeholder's value for one recipient (plain text, not escaped)."""
        if len(self.cache) > MAX_CACHED_VALUES:
            self.cache.clear()
        result = []
        for index, (template, names) in enumerate(self.expressions):
            key = (index, *(context.get(name) for name in names))
            value = self.cache.get(key)
            if value is None:
                value = self.cache[key] = template.render(context)
            result.append(value)
        return result


def extract_placeholders(source: str, start: int = 0) -> Placeholders:
    """Replace `{{ ... }}` with markers; check each names only allowed variables.

    Raises `PlaceholderError` naming the first unknown variable or bad syntax, so a
    typo is caught when saving, not as a blank in 50,000 mails.
    """
    if STATEMENT.search(source):
        raise PlaceholderError(_("Only {{ placeholders }} are allowed, not {% %} or {# #}."))
    expressions = []

    def swap(match: re.Match[str]) -> str:
        expression = "{{" + match.group(1) + "}}"
        form = PLACEHOLDER_FORM.fullmatch(match.group(1))
        if form is None:
            shown = expression if len(expression) <= 60 else expression[:57] + "..."
            raise PlaceholderError(
                _(
                    "Placeholder %(shown)s is not allowed: write a name alone, as "
                    "{{ first_name }}, or with a default text, as "
                    '{{ first_name | default("there") }}.',
                    shown=shown,
                )
            )
        try:
            parsed = sandbox.parse(expression)
            unknown = {form.group(1)} - ALLOWED_PLACEHOLDERS
            if unknown:
                raise PlaceholderError(
                    _(
                        "Unknown placeholder %(name)s: use %(allowed)s.",
                        name=form.group(1),
                        allowed=either(sorted(ALLOWED_PLACEHOLDERS)),
                    )
                )
            compiled = sandbox.from_string(expression)
            compiled.render(first_name="Test", email="test@example.org")
        except PlaceholderError:
            raise
        except TemplateSyntaxError as error:
            raise PlaceholderError(
                _(
                    "Placeholder %(expression)s: %(problem)s",
                    expression=expression,
                    problem=error.message,
                )
            ) from error
        except Exception as error:  # e.g. an unknown filter, only found at render time
            raise PlaceholderError(
                _("Placeholder %(expression)s: %(problem)s", expression=expression, problem=error)
            ) from error
        names = tuple(sorted(meta.find_undeclared_variables(parsed)))
        expressions.append((compiled, names))
        return MARKER.format(start + len(expressions) - 1)

    text = PLACEHOLDER.sub(swap, source)
    if "{{" in text or "}}" in text:
        raise PlaceholderError(_("A placeholder is not closed: write {{ first_name }}."))
    return Placeholders(text, tuple(expressions))


def check_placeholders(*sources: str | None) -> None:
    """Validate texts (subject, body...) without keeping the result."""
    for source in sources:
        extract_placeholders(source or "")


def recipient_context(subscriber: dict) -> dict[str, str]:
    """What placeholders may read; missing values are left undefined for `default`."""
    context = {"email": subscriber["email"]}
    if subscriber.get("first_name"):
        context["first_name"] = subscriber["first_name"]
    return context


def substitute(text: str, values: Sequence[str], escape_html: bool) -> str:
    """Put each recipient's values where the markers are."""
    shown = [str(escape(value)) for value in values] if escape_html else values
    return fill(text, markers(len(values)), shown)


@lru_cache(maxsize=16)
def markers(count: int) -> tuple[str, ...]:
    """The markers of the first `count` placeholders."""
    return tuple(MARKER.format(index) for index in range(count))


def fill(text: str, names: Sequence[str], values: Sequence[str]) -> str:
    """`text` with each marker `names[i]` replaced by `values[i]`, in one pass.

    A campaign's text is cut at its markers once (`cut_at`); each message is then a
    join, where a `str.replace` per marker read the whole text each time (a tenth of
    a message's building time). A value is never read for markers in turn.
    """
    if not names:
        return text
    pieces = cut_at(text, tuple(names))
    value_of = dict(zip(names, values, strict=True))
    filled = [pieces[0]]
    for index in range(1, len(pieces), 2):
        filled += (value_of[pieces[index]], pieces[index + 1])
    return "".join(filled)


@lru_cache(maxsize=64)
def cut_at(text: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """`text` split around every occurrence of `names`: text, marker, text, ... text."""
    return tuple(re.split("(" + "|".join(map(re.escape, names)) + ")", text))
