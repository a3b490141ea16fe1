"""Turn a campaign into messages: Markdown once, then cheap per-recipient substitution.

The expensive work (Markdown, sanitising, the layout, CSS inlining, header encoding)
happens once per campaign. Each `{{ placeholder }}` is swapped for a marker before
Markdown runs, so a subscriber's name is never parsed as Markdown or HTML; per
recipient we only evaluate the placeholders, escape them for HTML, substitute, and
encode the two parts as quoted-printable (`wire`). Lines end in CRLF and stay under
76 characters.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

import css_inline
import dkim
import nh3
from flask import current_app, render_template
from flask_babel import gettext as _
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from .. import tokens
from ..deliverability import verp
from ..languages import either
from ..mail import messages, wire
from ..urls import absolute_url
from .plaintext import markdown, plain_text

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
UNSUBSCRIBE_MARKER = "WPRDUNSUBX"
CRLF = "\r\n"

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


def body_html(markdown_text: str) -> str:
    """Markdown to sanitised HTML (raw HTML in the source is shown as text)."""
    return nh3.clean(markdown.render(markdown_text), link_rel="noopener")


def recipient_context(subscriber: dict) -> dict[str, str]:
    """What placeholders may read; missing values are left undefined for `default`."""
    context = {"email": subscriber["email"]}
    if subscriber.get("first_name"):
        context["first_name"] = subscriber["first_name"]
    return context


def substitute(text: str, values: Sequence[str], escape_html: bool) -> str:
    """Put each recipient's values where the markers are."""
    for index, value in enumerate(values):
        text = text.replace(MARKER.format(index), str(escape(value)) if escape_html else value)
    return text


@lru_cache(maxsize=4096)
def subject_field(value: str) -> str:
    """The Subject header line(s), encoded and folded by `wire` (cached: names repeat).

    The value passes `messages.header_text` first: a subject holds subscribers' names,
    which must not carry encoded words or line breaks into the header.
    """
    return wire.unstructured("Subject", messages.header_text(value))


def message_id(key: bytes, campaign_id: int, subscriber_id: int, domain: str) -> str:
    """Deterministic per (campaign, subscriber), so a resend is recognisably the same."""
    digest = hmac.new(key, f"{campaign_id}:{subscriber_id}".encode(), hashlib.sha256)
    return f"<campaign-{campaign_id}.{subscriber_id}.{digest.hexdigest()[:16]}@{domain}>"


@dataclass
class PreparedCampaign:
    """Everything per campaign, computed once; `message_for` builds one recipient's bytes."""

    campaign_id: int
    sender: str
    envelope_sender: str
    headers_before: str
    headers_after: str
    subject: Placeholders
    text: Placeholders
    html: Placeholders
    boundary: str
    domain: str
    unsubscribe_prefix: str
    make_token: object
    message_id_key: bytes
    dkim_key: bytes | None = None
    dkim_selector: bytes = b""
    dkim_domain: bytes = b""
    test_mail: bool = False
    # subscriber_id -> VERP envelope sender, when BOUNCE_ADDRESS is set.
    make_envelope_sender: object = None

    def envelope_sender_for(self, subscriber: dict) -> str:
        """The `MAIL FROM` of this subscriber's message: its VERP address, if on."""
        if self.make_envelope_sender is None:
            return self.envelope_sender
        return self.make_envelope_sender(subscriber["id"])

    def parts_for(self, subscriber: dict, unsubscribe: str) -> tuple[str, str, str]:
        """(subject, text, html) personalised for one subscriber."""
        context = recipient_context(subscriber)
        body_values = self.text.values(context)
        subject = substitute(self.subject.text, self.subject.values(context), escape_html=False)
        text = substitute(self.text.text, body_values, escape_html=False)
        html = substitute(self.html.text, body_values, escape_html=True)
        text = text.replace(UNSUBSCRIBE_MARKER, unsubscribe)
        html = html.replace(UNSUBSCRIBE_MARKER, str(escape(unsubscribe)))
        return subject, text, html

    def message_for(self, subscriber: dict, now: datetime) -> bytes:
        """The complete message (bytes, CRLF) for one subscriber."""
        unsubscribe = self.unsubscribe_prefix + self.make_token(subscriber["id"])
        subject, text, html = self.parts_for(subscriber, unsubscribe)
        if self.test_mail:
            # Nothing a mailbox provider could act on, and a new Message-ID each time so
            # a second test is not hidden as a duplicate of the first.
            identity = f"Message-ID: {wire.new_message_id(self.sender)}{CRLF}"
        else:
            key, campaign_id = self.message_id_key, self.campaign_id
            identity = (
                f"Message-ID: {message_id(key, campaign_id, subscriber['id'], self.domain)}{CRLF}"
                f"List-Unsubscribe: <{unsubscribe}>{CRLF}"
            )
        headers = (
            f"{self.headers_before}"
            f"To: {subscriber['email']}{CRLF}"
            f"{subject_field(subject)}{CRLF}"
            f"Date: {wire.date_value(now)}{CRLF}"
            f"{identity}"
            f"{self.headers_after}"
        )
        body = wire.alternative(self.boundary, text, html)
        message = (headers + CRLF + body).encode("ascii")
        if self.dkim_key:
            message = dkim_signature(self, message) + message
        return message


# Signed so a forwarder cannot strip or swap the opt-out headers unnoticed.
DKIM_HEADERS = [
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]


def dkim_signature(prepared: PreparedCampaign, message: bytes) -> bytes:
    """The DKIM-Signature header line for `message` (bytes, CRLF)."""
    return dkim.sign(
        message,
        prepared.dkim_selector,
        prepared.dkim_domain,
        prepared.dkim_key,
        include_headers=DKIM_HEADERS,
        canonicalize=(b"relaxed", b"relaxed"),
    )


def dkim_settings(config: Mapping[str, Any]) -> tuple[bytes | None, bytes, bytes]:
    """(key, selector, domain) when DKIM is configured, else (None, b"", b"")."""
    key_file = config["DKIM_PRIVATE_KEY_FILE"]
    if not key_file:
        return None, b"", b""
    with open(key_file, "rb") as handle:
        key = handle.read()
    return key, config["DKIM_SELECTOR"].encode(), config["DKIM_DOMAIN"].encode()


TEST_SUBJECT_PREFIX = "[TEST] "


def prepare(campaign: dict, test_mail: bool = False) -> PreparedCampaign:
    """Render the campaign's layout once; returns a `PreparedCampaign`.

    A `test_mail` (staff's "Send a test") says so in its subject and at its top, and its
    unsubscribe links lead nowhere: no List-Unsubscribe header, "#" in the footer.
    """
    config = current_app.config
    prefix = TEST_SUBJECT_PREFIX if test_mail else ""
    subject = extract_placeholders(prefix + campaign["subject"])
    body_source = extract_placeholders(campaign["body_markdown"])
    # A French campaign's footer is French, so its links lead to the French pages.
    lang = "fr" if campaign["language"] == "fr" else None
    context = {
        "campaign": campaign,
        "test_mail": test_mail,
        "unsubscribe_url": "#" if test_mail else UNSUBSCRIBE_MARKER,
        "privacy_url": absolute_url("site.privacy", lang=lang),
        "site_url": absolute_url("site.home", lang=lang),
    }
    text = render_template("email/campaign.txt", body_text=plain_text(body_source.text), **context)
    layout = render_template(
        "email/campaign.html", body_html=Markup(body_html(body_source.text)), **context
    )
    html = css_inline.inline(layout)
    sender = config["CAMPAIGN_SENDER"] or config["MAIL_DEFAULT_SENDER"]
    envelope_sender = parseaddr(sender)[1]
    domain = envelope_sender.partition("@")[2] or "weprode.com"
    boundary = f"=_weprode_{campaign['id']}_{hashlib.sha256(html.encode()).hexdigest()[:12]}"
    dkim_key, dkim_selector, dkim_domain = dkim_settings(config)
    reply_to = config["CAMPAIGN_REPLY_TO"]
    before = [wire.address_field("From", [sender])] + (
        [f"Reply-To: {reply_to}"] if reply_to else []
    )
    after = [
        f"List-Id: Weprode newsletter <newsletter.{domain}>",
        *([] if test_mail else ["List-Unsubscribe-Post: List-Unsubscribe=One-Click"]),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    return PreparedCampaign(
        campaign_id=campaign["id"],
        sender=sender,
        envelope_sender=envelope_sender,
        headers_before="".join(line + CRLF for line in before),
        headers_after="".join(line + CRLF for line in after),
        dkim_key=dkim_key,
        dkim_selector=dkim_selector,
        dkim_domain=dkim_domain,
        test_mail=test_mail,
        subject=subject,
        text=Placeholders(text, body_source.expressions),
        html=Placeholders(html, body_source.expressions),
        boundary=boundary,
        domain=domain,
        # Built once: url_for and the token's key derivation cost more than the rest.
        unsubscribe_prefix=absolute_url("newsletter.unsubscribe", token="T").removesuffix("T"),
        make_token=tokens.unsubscribe_token_maker(campaign["id"]),
        message_id_key=tokens.address_hash_keys()[-1],
        make_envelope_sender=verp.envelope_sender_maker("campaign", campaign["id"]),
    )
