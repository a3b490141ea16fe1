"""Each transactional mail's HTML names itself (its subject as `<title>`) and declares the
language it is written in (`<html lang>`), English and French alike."""

import html
import re
from email.header import decode_header, make_header

import pytest
from campaign_helpers import add_subscribers
from contact_helpers import VALID_CONTACT, VALID_MEETING, by_recipient
from newsletter_helpers import VALID_SIGNUP, html_part

NOTIFY = "contact@weprode.com"


def declared(message):
    """(the `<html lang>`, the `<title>` text) of a message's HTML part."""
    document = html_part(message)
    lang = re.search(r"<html lang=\"([^\"]*)\">", document).group(1)
    title = html.unescape(re.search(r"<title>(.*?)</title>", document, re.S).group(1))
    return lang, title


def subject(message):
    return str(make_header(decode_header(message["Subject"])))


def assert_declares(message, language):
    lang, title = declared(message)
    assert lang == language
    assert title.strip() and title == subject(message)


def with_lang(path, language):
    return path if language == "en" else f"{path}?lang={language}"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_confirmation_and_already_subscribed(app, client, db, mailbox, language):
    data = {**VALID_SIGNUP, "email": "new@example.org", "language": language}
    client.post(with_lang("/newsletter", language), data=data)
    [confirmation] = mailbox.wait_for(1)
    assert_declares(confirmation, language)

    mailbox.clear()
    add_subscribers(app, db, [("old@example.org", None, language)])
    client.post("/newsletter", data={**data, "email": "old@example.org"})
    [already] = mailbox.wait_for(1)
    assert_declares(already, language)


def test_confirmation_follows_the_requested_language_not_the_stored_one(app, client, db, mailbox):
    """A pending English subscriber asking again in French gets a French mail, said so."""
    client.post("/newsletter", data={**VALID_SIGNUP, "email": "p@example.org", "language": "en"})
    mailbox.wait_for(1)
    db.execute("UPDATE newsletter_mail_sends SET sent_at = '2000-01-01T00:00:00+00:00'")
    db.conn.commit()
    mailbox.clear()
    data = {**VALID_SIGNUP, "email": "p@example.org", "language": "fr"}
    client.post("/newsletter?lang=fr", data=data)
    [message] = mailbox.wait_for(1)
    assert_declares(message, "fr")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize(
    ("path", "valid", "prefix"),
    [("/contact", VALID_CONTACT, "contact"), ("/contact/meeting", VALID_MEETING, "meeting")],
)
def test_contact_acknowledgement_and_notification(client, mailbox, language, path, valid, prefix):
    address = "person@example.org"
    response = client.post(with_lang(path, language), data={**valid, f"{prefix}-email": address})
    assert response.status_code == 303
    mails = by_recipient(mailbox.wait_for(2))
    assert_declares(mails[address], language)
    assert_declares(mails[NOTIFY], "en")  # the team reads English


@pytest.mark.parametrize("language", ["en", "fr"])
def test_rights_verification(client, mailbox, language):
    data = {"email": "someone@example.org", "kind": "erase"}
    client.post(with_lang("/privacy/request", language), data=data)
    [message] = mailbox.wait_for(1)
    assert_declares(message, language)
