"""Every mail we send is correct by outside yardsticks, checked on the bytes the relay got.

RFC 5322 (CRLF, lines, each header once, dates), RFC 2047 (encoded words of at most 75
characters with whitespace around them, only where needed) and RFC 2045 (7-bit
quoted-printable text, one multipart/alternative), for each kind of mail in English
and French, as a strict parser (email.policy.strict) reads them.
"""

import binascii
import re

import pytest
from campaign_helpers import BODY, FRENCH_BODY, add_subscribers, new_campaign, send
from hypothesis import given, settings
from hypothesis import strategies as st
from mail_helpers import (
    FRENCH_SUBJECT,
    header_problems,
    header_section,
    send_every_kind,
    strict,
    wire_problems,
)
from newsletter_helpers import html_part, text_part

from weprode.mail import bulk_smtp, wire

LANGUAGES = ["en", "fr"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_of_mail_parses_strictly_and_keeps_the_wire_rules(
    app, client, db, mailbox, language
):
    mails = send_every_kind(app, client, db, mailbox, language)
    problems = {kind: wire_problems(raw) for kind, raw in mails.items()}
    assert {kind: found for kind, found in problems.items() if found} == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_headers_encode_only_what_needs_it(app, client, db, mailbox, language):
    mails = send_every_kind(app, client, db, mailbox, language)
    for kind, raw in mails.items():
        head = header_section(raw)
        assert b"\r\nFrom: Weprode <" in b"\r\n" + head, kind
        assert b"=?utf-8?q?Weprode?=" not in head, kind
        assert b"=?utf-8?q?Jane_Doe?=" not in head, kind
    notification = header_section(mails["meeting_notification"])
    # Only the word with an accent is encoded, with whitespace on both sides.
    assert b"(Paul Martin, =?utf-8?q?R=C3=A9gion?= Exemple)" in notification.replace(b"\r\n", b"")
    assert strict(mails["meeting_notification"])["Subject"] == (
        "Meeting request: Exit plan for our Education Cloud (Paul Martin, Région Exemple)"
    )


def test_a_long_french_campaign_subject_folds_into_short_encoded_words(app, client, db, mailbox):
    raw = send_every_kind(app, client, db, mailbox, "fr")["campaign"]
    assert strict(raw)["Subject"] == FRENCH_SUBJECT
    subject = header_section(raw).split(b"Subject:")[1].split(b"\r\nDate:")[0]
    lines = (b"Subject:" + subject).split(b"\r\n")
    assert len(lines) > 1 and max(len(line) for line in lines) <= 76


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_parts_are_7bit_quoted_printable_in_one_multipart_alternative(
    app, client, db, mailbox, language
):
    mails = send_every_kind(app, client, db, mailbox, language)
    for kind, raw in mails.items():
        assert raw.isascii(), kind  # nothing for a relay without 8BITMIME to break
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998, kind
        message = strict(raw)
        assert message.get_content_type() == "multipart/alternative", kind
        parts = list(message.iter_parts())
        assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"], kind
        for part in parts:
            assert part["Content-Transfer-Encoding"] == "quoted-printable", kind
            assert part.get_content_charset() == "utf-8", kind


HEADER_TEXTS = [
    "Meeting request: Exit plan (Paul Martin, Région Exemple)",
    "Zoë ☺ " * 30,
    "日本語" * 40,
    "x" * 120 + " é " + "y" * 100,
    "Question: 2 + 2 = 4?",
    "🙂 émoji en tête",
]
NAMES = ["Jane Doe", 'O\'Brien, "Jim" <x@y>', "Zoë Lefèvre-Sénéchal", "Lycée: du Lac; @home"]


@pytest.mark.parametrize("text", HEADER_TEXTS)
def test_a_subject_reads_back_exactly_from_short_encoded_words(text):
    field = wire.unstructured("Subject", text)
    raw = f"{field}\r\n\r\n".encode()
    assert strict(raw)["Subject"] == " ".join(text.split())
    assert header_problems(raw) == []


@pytest.mark.parametrize("name", NAMES)
def test_a_display_name_stays_one_name_of_one_address(name):
    field = wire.address_field("Reply-To", [(name, "jane.doe@example.org")])
    [address] = strict(f"{field}\r\n\r\n".encode())["Reply-To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "jane.doe@example.org")


MARKDOWN_BODY = """# News from Weprode

Hello {{ first_name | default("there") }},

Our **new guide** to *sovereign* clouds is [out now](https://weprode.com/guide?a=1&b=2).

1. Read it
2. Tell [us](mailto:contact@weprode.com)
"""


def test_campaign_text_part_is_plain_text_with_numbered_links_not_markdown(app, db, mailbox):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    assert send(app, db, new_campaign(db, body=MARKDOWN_BODY)) == "sent"
    mailbox.wait_for(1)
    [raw] = mailbox.raw
    text = text_part(strict(raw)).replace("\r\n", "\n")
    for markdown_mark in ("**", "](", "# News", "*sovereign*"):
        assert markdown_mark not in text
    assert "News from Weprode\n=================\n" in text
    assert "Our new guide to sovereign clouds is out now [1]." in text
    assert "1. Read it\n2. Tell us [2]" in text
    body, _, footer = text.partition("\n-- \n")
    assert body.endswith("[1] https://weprode.com/guide?a=1&b=2\n[2] mailto:contact@weprode.com\n")
    assert "Unsubscribe from this topic in one click: http://localhost/unsubscribe/" in footer


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_parts_separate_the_signature_with_dash_dash_space(app, client, db, mailbox, language):
    mails = send_every_kind(app, client, db, mailbox, language)
    for kind, raw in mails.items():
        lines = text_part(strict(raw)).splitlines()
        assert "--" not in lines, kind
        if not kind.endswith("_notification"):  # staff notifications carry no signature
            assert lines.count("-- ") == 1, kind


def test_french_campaign_footer_follows_french_typography(app, client, db, mailbox):
    raw = send_every_kind(app, client, db, mailbox, "fr")["campaign"]
    text = text_part(strict(raw))
    assert "«\u00a0Lettre d’information\u00a0»" in text and "d'information" not in text
    assert "Se désabonner de ce thème en un clic\u00a0: http://localhost/unsubscribe/" in text


def test_campaign_html_is_laid_out_in_presentation_tables_not_divs(app, db, mailbox):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    assert send(app, db, new_campaign(db, body=MARKDOWN_BODY)) == "sent"
    mailbox.wait_for(1)
    [raw] = mailbox.raw
    html = html_part(strict(raw))
    assert "<div" not in html  # Outlook for Windows ignores widths and padding on divs
    tables = re.findall(r"<table\b[^>]*>", html)
    assert len(tables) >= 2 and all('role="presentation"' in table for table in tables)
    assert "max-width: 600px" in html and "<strong>new guide</strong>" in html
    assert '<!--[if mso]><table role="presentation" align="center" width="600">' in html


def test_text_after_a_very_long_header_name_is_still_encoded_never_raw():
    field = wire.unstructured("X-" + "Long" * 20, "Région Zoë")
    assert field.isascii() and "=?utf-8?q?R=C3=A9gion_Zo=C3=AB?=" in field


@pytest.mark.parametrize(
    "written",
    [("en", "fr"), ("en",), ("fr",)],
    ids=["both-versions", "english-only", "french-only"],
)
def test_every_reader_and_version_keeps_the_wire_rules_and_the_reader_typography(
    app, db, mailbox, written
):
    """A reader's own version or the other one: the bytes, and the footer in their language."""
    versions = {"en": ("Weprode news", BODY), "fr": (FRENCH_SUBJECT, FRENCH_BODY)}
    add_subscribers(app, db, [("ann@example.org", "Ann", "en"), ("luc@example.org", "Luc", "fr")])
    campaign = new_campaign(db, versions={language: versions[language] for language in written})
    assert send(app, db, campaign) == "sent"
    mailbox.wait_for(2)
    by_reader = {strict(raw)["To"]: raw for raw in mailbox.raw}
    assert {to: wire_problems(raw) for to, raw in by_reader.items()} == {
        "ann@example.org": [],
        "luc@example.org": [],
    }
    french = text_part(strict(by_reader["luc@example.org"]))
    assert "Se désabonner de ce thème en un clic\u00a0: http://localhost/unsubscribe/" in french
    assert "«\u00a0Lettre d’information\u00a0»" in french
    english = text_part(strict(by_reader["ann@example.org"]))
    assert "Unsubscribe from this topic in one click: http://localhost/unsubscribe/" in english


def test_transactional_mails_size_their_tables_with_css_and_give_outlook_a_column(
    app, client, db, mailbox
):
    mails = send_every_kind(app, client, db, mailbox, "en")
    for kind, raw in mails.items():
        if kind == "campaign":
            continue
        html = html_part(strict(raw))
        outside_outlook = re.sub(r"<!--\[if mso\]>.*?<!\[endif\]-->", "", html, flags=re.S)
        tables = re.findall(r"<table\b[^>]*>", outside_outlook)
        assert tables and all('role="presentation"' in table for table in tables), kind
        assert not re.search(
            r"<t[a-z]+\b[^>]*\b(width|cellpadding|cellspacing|align)=", outside_outlook
        ), kind
        assert "max-width:560px" in html, kind
        assert '<!--[if mso]><table role="presentation" align="center" width="560">' in html, kind


# Pieces, not single characters: long lines (soft breaks), spaces and "=" before a
# line end, bare CR, CRLF, dots and non-ASCII.
PIECES = [*"ab .=\t\r\n-é€x", "a" * 80, " \n", "=\n", "\r\n", ".\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_quoted_printable_line_by_line_equals_encoding_the_whole_text(text):
    """`wire.quoted_printable` encodes (and caches) one line at a time: the bytes must be
    those of encoding the whole canonical text at once."""
    canonical = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not canonical.endswith("\r\n"):
        canonical += "\r\n"
    whole = binascii.b2a_qp(canonical.encode("utf-8"), istext=True).decode("ascii")
    assert wire.quoted_printable(text) == whole


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([".", "\r\n", "\n", "\r", "x", ".."]), max_size=30).map("".join))
def test_dot_stuffing_doubles_every_leading_dot_and_ends_the_data(text):
    """RFC 5321 4.5.2: every line starting with "." gets one more; the fast path (no
    regex substitution) must give the bytes of the plain rule."""
    message = text.encode("ascii")
    content = re.sub(rb"(?m)^\.", b"..", message)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    assert bulk_smtp.dot_stuffed(message) == content + b".\r\n"
