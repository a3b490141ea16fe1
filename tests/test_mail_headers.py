"""Header injection: no text from outside can add a header to a mail we send.

RFC 2047 encoded words (`=?utf-8?q?...?=`) are decoded by mail programs, and some Python
patch levels (CVE-2024-6923, 3.11.7 among them) wrote a decoded CR LF back out raw, so a
name like `=?utf-8?q?x=0D=0AReply-To:...?=` became a Reply-To of its own. These tests run
on the interpreter under test: the forms refuse such text next to the field, and every
mail built from it anyway (a stored row, an imported name) arrives with its real headers.
"""

import base64
import email
import email.policy
from datetime import UTC, datetime

import pytest
from campaign_helpers import add_subscribers, new_campaign, send
from contact_helpers import by_recipient, send_contact, send_meeting
from newsletter_helpers import sign_up

from weprode.contact import prospects, service
from weprode.mail import messages

NOTIFY = "contact@weprode.com"
PERSON = "jane.doe@example.org"
INJECTED = "Reply-To: attacker@evil.example"


def b_word(charset, text):
    """`text` as one base64 encoded word."""
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


# Each hides a line break (or a character some reader takes for one) before a header.
PAYLOADS = [
    "=?utf-8?q?x=0D=0AReply-To:_attacker@evil.example?=",
    "=?UTF-8?Q?x=0d=0aReply-To:_attacker@evil.example=0D=0AX-Priority:_1?=",
    b_word("utf-8", "x\r\nReply-To: attacker@evil.example\r\nX-Priority: 1"),
    b_word("latin-1", "café\r\nReply-To: attacker@evil.example"),
    "=?ISO-8859-1?Q?caf=E9=0AReply-To:_attacker@evil.example?=",
    "=?Utf-8?B?eA0KUmVwbHktVG86IGF0dGFja2VyQGV2aWwuZXhhbXBsZQ==?=",
    # Folded: two words a decoder joins, the break in the second.
    "=?utf-8?q?x?= =?utf-8?q?=0D=0AReply-To:_attacker@evil.example?=",
    # NEL, LINE SEPARATOR, NUL and a lone CR, encoded and raw.
    "=?utf-8?q?x=C2=85Reply-To:_attacker@evil.example?=",
    "=?utf-8?q?x=E2=80=A8Reply-To:_attacker@evil.example?=",
    "=?utf-8?q?x=00=0DReply-To:_attacker@evil.example?=",
    f"x\u2028{INJECTED}",
    f"x\x85{INJECTED}",
    f"x\x0b{INJECTED}",
    # An encoded word inside an encoded word.
    "=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3D0D=3D0AReply-To:_attacker@evil.example=3F=3D?=",
]
# An address can hide one too: every character of this local part is allowed by RFC 5322.
ADDRESS_PAYLOAD = "=?utf-8?q?x=0D=0ABcc=3A_v=40evil.example?=@example.org"

# The header lines of a contact notification, in order: nothing more, nothing less.
NOTIFICATION_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
]
CAMPAIGN_HEADERS_NAMED_BY_US = ["From", "Reply-To", "To", "Subject", "List-Unsubscribe"]

# Every field that reaches a header (subject, Reply-To's name, To) on every public form.
FORM_FIELDS = [
    (send_contact, "subject", "contact-subject"),
    (send_contact, "first_name", "contact-first_name"),
    (send_contact, "last_name", "contact-last_name"),
    (send_contact, "company", "contact-company"),
    (send_meeting, "topic", "meeting-topic"),
    (send_meeting, "first_name", "meeting-first_name"),
    (send_meeting, "last_name", "meeting-last_name"),
    (send_meeting, "company", "meeting-company"),
]


def signup_first_name(client, value):
    return sign_up(client, first_name=value)


def signup_email(client, value):
    return sign_up(client, email=value)


def rights_email(client, value):
    data = {"email": value, "kind": "access"}
    return client.post("/privacy/request", data=data)


def header_lines(raw):
    """The header names of a received message, as its bytes have them (nothing decoded)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32).keys()


def assert_no_line_break(value):
    assert not any(c in str(value) for c in "\r\n\x00\x85\u2028\u2029"), repr(value)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("send_form, field, field_id", FORM_FIELDS)
def test_contact_forms_refuse_hidden_line_breaks_next_to_the_field(
    client, db, mailbox, send_form, field, field_id, payload
):
    response = send_form(client, **{field: payload})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field_id}-error">')[1].split("</div>")[0]
    assert "encoded text" in error
    assert db["prospects"].count == 0 and db["outbox"].count == 0
    assert mailbox.messages == []


@pytest.mark.parametrize(
    "post, value, field_id",
    [
        (send_contact, ADDRESS_PAYLOAD, "contact-email"),
        (send_meeting, ADDRESS_PAYLOAD, "meeting-email"),
        (signup_email, ADDRESS_PAYLOAD, "signup-email"),
        (rights_email, ADDRESS_PAYLOAD, "email"),
        *[(signup_first_name, payload, "signup-first-name") for payload in PAYLOADS],
    ],
)
def test_newsletter_and_rights_forms_refuse_them_too(client, db, mailbox, post, value, field_id):
    if post in (send_contact, send_meeting):
        response = post(client, email=value)
    else:
        response = post(client, value)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field_id}-error">' in html
    assert "encoded text" in html.split(f'id="{field_id}-error">')[1].split("</div>")[0]
    assert mailbox.messages == []
    assert db["subscribers"].count == 0 and db["rights_requests"].count == 0


def test_french_visitors_get_the_message_in_french(client, mailbox):
    response = client.post("/contact?lang=fr", data={"contact-subject": PAYLOADS[0]})
    html = response.get_data(as_text=True)
    error = html.split('id="contact-subject-error">')[1].split("</div>")[0]
    assert "texte encodé" in error


def identity_and_interaction(form, field, payload):
    identity = {"first_name": "Jane", "last_name": "Doe", "company": "Acme"}
    interaction = {"subject": "Hosting", "topic": "Exit plan"}
    if field in identity:
        identity[field] = payload
    else:
        interaction[field] = payload
    person = prospects.Identity(email=PERSON, **identity)
    if form == "contact":
        return person, prospects.Interaction(
            kind="contact", subject=interaction["subject"], message="Hi"
        )
    return person, prospects.Interaction(
        kind="meeting", topic=interaction["topic"], format="video", time_slots=("Mon", "Tue")
    )


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "form, field",
    [
        ("contact", "subject"),
        ("contact", "first_name"),
        ("contact", "last_name"),
        ("contact", "company"),
        ("meeting", "topic"),
        ("meeting", "first_name"),
        ("meeting", "last_name"),
        ("meeting", "company"),
    ],
)
def test_a_mail_built_from_such_text_anyway_keeps_its_real_headers(
    app, db, mailbox, form, field, payload
):
    """Past the forms (a stored row, another entry point), the mail itself stays safe."""
    person, interaction = identity_and_interaction(form, field, payload)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app.test_request_context():
        service.submit(db, service.ContactRequest(person, interaction), now)
    mailbox.wait_for(2)
    raw = dict(zip([m["To"] for m in mailbox.messages], mailbox.raw, strict=True))
    assert header_lines(raw[NOTIFY]) == NOTIFICATION_HEADERS
    assert b"attacker@evil.example" not in raw[PERSON].split(b"\r\n\r\n")[0]
    notification = by_recipient(mailbox.messages)[NOTIFY]
    [reply_to] = notification.get_all("Reply-To")
    assert reply_to.addresses[0].addr_spec == PERSON
    assert notification["To"] == NOTIFY
    assert notification["From"] == "Weprode <newsletter@weprode.com>"
    for name in ("Subject", "Reply-To", "From", "To"):
        assert_no_line_break(notification[name])
    assert notification.get_all("X-Priority") is None
    assert "=?" not in str(notification["Subject"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_subscriber_name_in_a_campaign_subject_cannot_add_a_header(app, db, mailbox, payload):
    """Names come from signups and imports made before this check existed."""
    [subscriber_id] = add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    db.execute("UPDATE subscribers SET first_name = ? WHERE id = ?", [payload, subscriber_id])
    campaign_id = new_campaign(db, subject="News for {{ first_name }}")
    assert send(app, db, campaign_id) == "sent"
    mailbox.wait_for(1)
    [raw] = mailbox.raw
    names = header_lines(raw)
    for name in CAMPAIGN_HEADERS_NAMED_BY_US:
        assert names.count(name) == 1, name
    assert "X-Priority" not in names
    [message] = mailbox.messages
    assert message["Reply-To"] == "contact@weprode.com"
    assert message["To"] == "ada@example.org"
    assert str(message["Subject"]).startswith("News for ")
    assert_no_line_break(message["Subject"])
    assert "=?" not in str(message["Subject"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_header_text_leaves_nothing_to_decode_into_a_line(payload):
    safe = messages.header_text(payload)
    assert_no_line_break(safe)
    assert "=?" not in safe
    assert messages.decoded_words(safe) == safe
    assert not messages.is_header_safe(payload)


def test_ordinary_text_passes_unchanged():
    for text in ("Lycée du Lac", "O'Brien-Smith", "Question: 2 + 2 = 4?", "日本語", "Zoë ☺"):
        assert messages.header_text(text) == text
        assert messages.is_header_safe(text)


def test_an_unsafe_address_is_never_altered_but_refused(app):
    with app.test_request_context(), pytest.raises(messages.UndeliverableMessage):
        messages.render_message(
            ADDRESS_PAYLOAD, "Hi", "rights_verify", verify_url="x", valid_minutes=60
        )
