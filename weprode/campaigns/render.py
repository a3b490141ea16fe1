"""Turn a campaign into messages: Markdown once, then cheap per-recipient substitution.

The expensive work (Markdown, sanitising, the layout, CSS inlining, header encoding)
happens once per campaign and recipient language: a French subscriber's mail has a
French footer, `lang="fr"` and links opening French pages, whichever version (English
or French content) they get. Per recipient we only evaluate the placeholders (see
`placeholders`), escape them for HTML, substitute, and encode the two parts as
quoted-printable (`wire`). Lines end in CRLF and stay under 76 characters.
"""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

import css_inline
import nh3
from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup, escape

from .. import tokens
from ..deliverability import verp
from ..mail import messages, signing, wire
from ..urls import absolute_url, in_language
from .audiences import version_for
from .placeholders import (
    Placeholders,
    extract_placeholders,
    fill,
    markers,
    recipient_context,
    substitute,
)
from .plaintext import markdown, plain_text

UNSUBSCRIBE_MARKER = "WPRDUNSUBX"
MANAGE_MARKER = "WPRDMANAGEX"
CRLF = "\r\n"
# The languages subscribers and versions come in; anything else is read as the first.
LANGUAGES = ("en", "fr")


def body_html(markdown_text: str, rewrite_link: Callable[[str], str] | None = None) -> str:
    """Markdown to sanitised HTML (raw HTML in the source is shown as text).

    `rewrite_link(url)`, when given, changes each link's address (`plaintext.rewrite_links`).
    """
    env = {"rewrite_link": rewrite_link} if rewrite_link else {}
    return nh3.clean(markdown.render(markdown_text, env), link_rel="noopener")


@lru_cache(maxsize=4096)
def subject_field(value: str) -> str:
    """The Subject header line(s), encoded and folded by `wire` (cached: names repeat).

    The value passes `messages.header_text` first: a subject holds subscribers' names,
    which must not carry encoded words or line breaks into the header.
    """
    return wire.unstructured("Subject", messages.header_text(value))


def message_id(key: bytes, campaign_id: int, subscriber_id: int, domain: str) -> str:
    """Deterministic per (campaign, subscriber), so a resend is recognisably the same."""
    digest = hmac.digest(key, f"{campaign_id}:{subscriber_id}".encode(), "sha256").hex()
    return f"<campaign-{campaign_id}.{subscriber_id}.{digest[:16]}@{domain}>"


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
    # After the token: `?lang=fr` for a French reader, so the opt-out page opens in French.
    unsubscribe_suffix: str = ""
    # The preference page's link ("Manage my subscription"), built like the opt-out one.
    manage_prefix: str = ""
    manage_suffix: str = ""
    make_manage_token: object = None
    language: str = "en"  # the reader's: footer, `lang`, links
    version: str = "en"  # the content's

    def envelope_sender_for(self, subscriber: dict) -> str:
        """The `MAIL FROM` of this subscriber's message: its VERP address, if on."""
        if self.make_envelope_sender is None:
            return self.envelope_sender
        return self.make_envelope_sender(subscriber["id"])

    def parts_for(
        self, subscriber: dict, unsubscribe: str, manage: str = "#"
    ) -> tuple[str, str, str]:
        """(subject, text, html) personalised for one subscriber (`manage`: their
        preference page's link; previews and tests leave it inert)."""
        context = recipient_context(subscriber)
        body_values = [*self.text.values(context), unsubscribe, manage]
        names = (*markers(len(body_values) - 2), UNSUBSCRIBE_MARKER, MANAGE_MARKER)
        subject = substitute(self.subject.text, self.subject.values(context), escape_html=False)
        text = fill(self.text.text, names, body_values)
        html = fill(self.html.text, names, [str(escape(value)) for value in body_values])
        return subject, text, html

    def manage_link(self, subscriber: dict) -> str:
        """The subscriber's preference page, in their language."""
        if self.make_manage_token is None:
            return "#"
        return self.manage_prefix + self.make_manage_token(subscriber["id"]) + self.manage_suffix

    def message_for(self, subscriber: dict, now: datetime) -> bytes:
        """The complete message (bytes, CRLF) for one subscriber."""
        token = self.make_token(subscriber["id"])
        unsubscribe = self.unsubscribe_prefix + token + self.unsubscribe_suffix
        subject, text, html = self.parts_for(subscriber, unsubscribe, self.manage_link(subscriber))
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
            message = (
                signing.dkim_signature(message, self.dkim_selector, self.dkim_domain, self.dkim_key)
                + message
            )
        return message


TEST_SUBJECT_PREFIX = "[TEST] "
TOKEN_SLOT = "WPRDTOKENX"


@dataclass
class PreparedAudience:
    """A campaign prepared for each reader language; sends each subscriber theirs."""

    variants: dict[str, PreparedCampaign]

    def for_subscriber(self, subscriber: Mapping[str, Any]) -> PreparedCampaign:
        """The variant in the subscriber's language (the first language's if unknown)."""
        return self.variants.get(subscriber.get("language")) or self.variants[LANGUAGES[0]]

    def message_for(self, subscriber: dict, now: datetime) -> bytes:
        """The complete message for one subscriber, in their language."""
        return self.for_subscriber(subscriber).message_for(subscriber, now)

    def envelope_sender_for(self, subscriber: dict) -> str:
        """The subscriber's `MAIL FROM` (their VERP address, if on)."""
        return self.for_subscriber(subscriber).envelope_sender_for(subscriber)

    @property
    def envelope_sender(self) -> str:
        """The campaign's `MAIL FROM` without VERP (the same in every language)."""
        return self.variants[LANGUAGES[0]].envelope_sender


def prepare(campaign: dict, test_mail: bool = False) -> PreparedAudience:
    """Render the campaign once per reader language; `campaign["versions"]` holds the content.

    A reader gets the version of their language, or the other one when only one exists
    (`audiences.version_for`); the footer, `lang` and links follow the reader anyway.
    """
    available = campaign["versions"].keys()
    return PreparedAudience(
        {
            language: prepare_version(
                campaign, version_for(language, available), language, test_mail
            )
            for language in LANGUAGES
        }
    )


def view_in_browser_url(campaign_id: int, language: str) -> str:
    """The campaign's archive page for readers of `language` ("View in your browser"):
    the same for every such reader, so it holds no token.

    Built for every mail, published or not: staff publish after sending, and a mail
    cannot change once sent. Until the campaign is published (or once taken off) the
    page answers 404 with a text saying the archive shows only what we publish. A
    reader whose language has no version sees there, as in the mail, the one written.
    """
    with force_locale(language):
        return absolute_url("archive.entry", campaign_id=campaign_id)


def prepare_version(
    campaign: dict, version: str, language: str, test_mail: bool = False
) -> PreparedCampaign:
    """Render one version of the campaign for readers of `language`; a `PreparedCampaign`.

    A `test_mail` (staff's "Send a test") says so in its subject and at its top, and its
    unsubscribe links lead nowhere: no List-Unsubscribe header, "#" in the footer.
    """
    config = current_app.config
    content = campaign["versions"][version]
    prefix = TEST_SUBJECT_PREFIX if test_mail else ""
    subject = extract_placeholders(prefix + content["subject"])
    body_source = extract_placeholders(content["body_markdown"])
    # Links are built under the reader's locale, so they carry `?lang=` (urls.absolute_url).
    with force_locale(language):
        unsubscribe_url = absolute_url("newsletter.unsubscribe", token=TOKEN_SLOT)
        manage_url = absolute_url("newsletter.manage", token=TOKEN_SLOT)
        context = {
            "campaign": campaign,
            "content": content,
            "language": language,
            "version": version,
            "test_mail": test_mail,
            "unsubscribe_url": "#" if test_mail else UNSUBSCRIBE_MARKER,
            "manage_url": "#" if test_mail else MANAGE_MARKER,
            "privacy_url": absolute_url("site.privacy"),
            "view_url": None if test_mail else view_in_browser_url(campaign["id"], language),
            "site_url": absolute_url("site.home"),
            # `compose.get` adds the topic: the footer says what the reader signed up for.
            "topic_name": campaign["topic"][f"name_{language}"],
        }

        # Links the author wrote to our own pages open them in the reader's language too.
        def localise(url: str) -> str:
            return in_language(url, language)

        body_text = plain_text(body_source.text, localise)
        text = render_template("email/campaign.txt", body_text=body_text, **context)
        content = Markup(body_html(body_source.text, localise))
        layout = render_template("email/campaign.html", body_html=content, **context)
    html = css_inline.inline(layout)
    sender = config["CAMPAIGN_SENDER"] or config["MAIL_DEFAULT_SENDER"]
    envelope_sender = parseaddr(sender)[1]
    domain = envelope_sender.partition("@")[2] or "weprode.com"
    boundary = f"=_weprode_{campaign['id']}_{hashlib.sha256(html.encode()).hexdigest()[:12]}"
    dkim_key, dkim_selector, dkim_domain = signing.dkim_settings(config)
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
    # Built once: url_for and the token's key derivation cost more than the rest.
    unsubscribe_prefix, _, unsubscribe_suffix = unsubscribe_url.partition(TOKEN_SLOT)
    manage_prefix, _, manage_suffix = manage_url.partition(TOKEN_SLOT)
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
        unsubscribe_prefix=unsubscribe_prefix,
        unsubscribe_suffix=unsubscribe_suffix,
        manage_prefix=manage_prefix,
        manage_suffix=manage_suffix,
        make_manage_token=None if test_mail else tokens.manage_token_maker(),
        language=language,
        version=version,
        make_token=tokens.unsubscribe_token_maker(campaign["id"]),
        message_id_key=tokens.address_hash_keys()[-1],
        make_envelope_sender=verp.envelope_sender_maker("campaign", campaign["id"]),
    )
