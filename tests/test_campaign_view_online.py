"""'View this issue in your browser': every campaign mail links to its archive page, in
the language of the version the reader got; the page holds no personal data and no
token; before publication it answers 404 with a friendly text; staff tests carry none."""

import re

from campaign_helpers import add_subscribers, new_campaign, send
from newsletter_helpers import html_part, text_part
from staff_helpers import csrf_token

from weprode.campaigns import archive
from weprode.db import utcnow

VIEW = re.compile(r"http://localhost(/newsletter/archive/\d+(?:\?lang=fr)?)")
PERSONAL = """# Spring news

Hello {{ first_name | default("reader") }}, this went to {{ email }}.
"""
FRENCH = """# Nouvelles de printemps

Bonjour {{ first_name | default("à vous") }}, ceci est parti vers {{ email }}.
"""


def view_link(message) -> str:
    """The one archive link of a mail, the same in its text and HTML parts."""
    [text_link] = set(VIEW.findall(text_part(message)))
    [html_link] = set(VIEW.findall(html_part(message)))
    assert text_link == html_link.replace("&amp;", "&")
    return text_link


def test_each_reader_gets_the_link_and_it_opens_once_published(app, db, client, mailbox):
    add_subscribers(
        app,
        db,
        [("ann@example.org", "Ann", "en"), ("luc@example.org", "Luc", "fr")],
    )
    campaign_id = new_campaign(
        db, versions={"en": ("Spring news", PERSONAL), "fr": ("Printemps", FRENCH)}
    )
    send(app, db, campaign_id)
    messages = {m["To"]: m for m in mailbox.wait_for(2)}
    english, french = messages["ann@example.org"], messages["luc@example.org"]
    assert "View this issue in your browser: http://localhost/newsletter/archive/" in text_part(
        english
    )
    assert "Voir ce numéro dans votre navigateur\u00a0: http" in text_part(french)
    assert "Voir ce numéro dans votre navigateur</a>" in html_part(french)
    english_link, french_link = view_link(english), view_link(french)
    assert english_link == f"/newsletter/archive/{campaign_id}"
    assert french_link == f"/newsletter/archive/{campaign_id}?lang=fr"
    # Sent, not yet published: a 404 that says why, in the reader's language.
    early = client.get(french_link)
    assert early.status_code == 404
    assert "pas encore" in early.get_data(as_text=True)
    with app.app_context():
        archive.publish(db, campaign_id, "staff@weprode.com", utcnow())
    for link, message, heading in (
        (english_link, english, "<h1>Spring news</h1>"),
        (french_link, french, "<h1>Nouvelles de printemps</h1>"),
    ):
        response = client.get(link)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        page = response.get_data(as_text=True)
        assert heading in page
        # Nobody's name, address or token: not the reader's, not anyone's.
        for personal in ("Ann", "Luc", "ann@example.org", "luc@example.org", "%40", "@example"):
            assert personal not in page, personal
        assert "/unsubscribe/" not in page and "/newsletter/manage/" not in page
        tokens_in_mail = re.findall(
            r"/(?:unsubscribe|newsletter/manage)/([^\s?\"<]+)", text_part(message)
        )
        assert tokens_in_mail and not any(token in page for token in tokens_in_mail)
    assert "Bonjour à vous" in client.get(french_link).get_data(as_text=True)


def test_a_reader_without_a_version_in_their_language_sees_the_one_they_read(
    app, db, client, mailbox
):
    add_subscribers(app, db, [("luc@example.org", "Luc", "fr")])
    campaign_id = new_campaign(db, language="all", subject="English only", body=PERSONAL)
    send(app, db, campaign_id)
    [message] = mailbox.wait_for(1)
    assert "Voir ce numéro dans votre navigateur" in text_part(message)  # French footer
    link = view_link(message)
    assert link == f"/newsletter/archive/{campaign_id}?lang=fr"  # every link opens French
    with app.app_context():
        archive.publish(db, campaign_id, "staff@weprode.com", utcnow())
    response = client.get(link)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # A French page around the English version, as the mail was; not indexed, and
    # pointing search engines at the English page.
    assert '<html lang="fr">' in page and "Ce numéro n’existe qu’en anglais." in page
    assert '<h1 lang="en">English only</h1>' in page and '<div class="prose" lang="en">' in page
    assert "<h1>Spring news</h1>" in page.split('<div class="prose" lang="en">')[1]
    assert '<meta name="robots" content="noindex">' in page
    canonical = f'<link rel="canonical" href="http://localhost/newsletter/archive/{campaign_id}">'
    assert canonical in page
    assert "Luc" not in page and "luc@example.org" not in page


def test_a_staff_test_mail_has_no_view_in_browser_link(app, db, staff_client, mailbox):
    campaign_id = new_campaign(db, subject="Draft")
    url = f"/admin/campaigns/{campaign_id}"
    staff_client.post(f"{url}/test/en", data={"csrf_token": csrf_token(staff_client, url)})
    [test_mail] = mailbox.wait_for(1)
    assert "/newsletter/archive" not in text_part(test_mail) + html_part(test_mail)
    assert "in your browser" not in text_part(test_mail)
