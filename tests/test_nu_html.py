"""Every page and every mail's HTML passes the Nu HTML Checker (vnu.jar).

The documents are collected through the app (pages from the test client, mails from
the real SMTP sink), then checked in one run of vnu, since starting the JVM costs more
than checking them all. No errors anywhere; warnings only where a mail client needs
the markup (`ALLOWED_MAIL_WARNINGS`, each with its reason). Without java the tests
are skipped, unless WEPRODE_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import os
import re

import nu_checker
import pytest
from app_helpers import base_config, migrated_app
from campaign_helpers import BODY, FRENCH_BODY, add_subscribers, new_campaign, send
from contact_helpers import VALID_CONTACT, VALID_MEETING, by_recipient
from newsletter_helpers import (
    VALID_SIGNUP,
    html_part,
    link_path,
    manage_path,
    unsubscribe_path,
)

from weprode.campaigns import archive, compose, render
from weprode.db import connect, utcnow
from weprode.newsletter import subscriptions, topics

NU_SECRET_KEY = "nu-checker-secret-key-that-is-long-enough-0123456789"
LANGUAGES = ("en", "fr")
PUBLIC_PATHS = {
    "home": "/",
    "services": "/services",
    "about": "/about",
    "newsletter": "/newsletter",
    "contact": "/contact",
    "legal": "/legal",
    "privacy": "/privacy",
    "rights-request": "/privacy/request",
    "rights-request-erase": "/privacy/request?kind=erase",
    "archive-empty": "/newsletter/archive",
    "contact-thanks": "/contact/thanks",
    "meeting-thanks": "/contact/thanks?kind=meeting",
}
RECTIFIED = {"first_name": "Jane", "last_name": "Doe", "company": "Lycée", "language": "fr"}
# Warnings a mail may carry, each because a mail client needs that markup. Matched
# against vnu's message text. None today: the transactional layout and campaigns use
# only current HTML.
ALLOWED_MAIL_WARNINGS: dict[str, str] = {}
# vnu's errors for the presentational table attributes of the transactional layout.
LAYOUT_ATTRIBUTES = re.compile(
    r"The “(width|cellpadding|cellspacing|align)” attribute on the “(table|td)” element is obsolete"
)
# Pages get no warning at all.
ALLOWED_PAGE_WARNINGS: dict[str, str] = {}


def build_app(folder, smtp_sink, **overrides):
    """A migrated app on its own folder, configured like the root conftest's `app`."""
    config = base_config(
        folder / "test.sqlite3", smtp_sink.port, SECRET_KEY=NU_SECRET_KEY, **overrides
    )
    return migrated_app(config, folder / "instance")


def with_lang(path, language):
    """`path` in `language` (English is the default: no argument)."""
    if language == "en":
        return path
    return path + ("&" if "?" in path else "?") + f"lang={language}"


class Collector:
    """Documents by name, each checked to be the status we meant to capture."""

    def __init__(self):
        self.pages = {}
        self.mails = {}

    def page(self, name, response, status=200):
        assert response.status_code == status, (name, response.status_code)
        assert response.mimetype == "text/html", (name, response.mimetype)
        self.pages[name] = response.get_data(as_text=True)

    def mail(self, name, message):
        self.mails[name] = html_part(message)


def collect_public_pages(client, found):
    """Every page in the sitemap, and a few more reached by links, in each language."""
    for language in LANGUAGES:
        for name, path in PUBLIC_PATHS.items():
            found.page(f"{name}-{language}", client.get(with_lang(path, language)))


def collect_error_pages(client, found):
    """404, a bad token (400), every public form sent back with errors (400)."""
    for language in LANGUAGES:
        lang = with_lang
        found.page(f"404-{language}", client.get(lang("/no-such-page", language)), 404)
        found.page(f"405-{language}", client.put(lang("/newsletter", language)), 405)
        found.page(
            f"bad-unsubscribe-{language}", client.get(lang("/unsubscribe/x.y", language)), 400
        )
        found.page(
            f"bad-confirm-{language}", client.get(lang("/newsletter/confirm/x.y", language)), 400
        )
        found.page(
            f"bad-rights-link-{language}", client.get(lang("/privacy/request/x.y", language)), 400
        )
        found.page(
            f"bad-undo-{language}", client.post(lang("/unsubscribe/undo/x.y", language)), 400
        )
        found.page(
            f"signup-errors-{language}",
            client.post(lang("/newsletter", language), data={"email": "not an address"}),
            400,
        )
        found.page(
            f"contact-errors-{language}",
            client.post(lang("/contact", language), data={"contact-email": "x"}),
            400,
        )
        found.page(
            f"meeting-errors-{language}",
            client.post(lang("/contact/meeting", language), data={"meeting-email": "x"}),
            400,
        )
        found.page(
            f"rights-errors-{language}",
            client.post(lang("/privacy/request", language), data={"email": "x"}),
            400,
        )


def collect_rate_limited(client, found):
    """The 429 page, in each language (the app allows one form a minute)."""
    for language in LANGUAGES:
        url = with_lang("/privacy/request", language)
        client.post(url, environ_base={"REMOTE_ADDR": f"192.0.2.{len(language)}"})
        response = client.post(url, environ_base={"REMOTE_ADDR": f"192.0.2.{len(language)}"})
        found.page(f"429-{language}", response, 429)


def collect_newsletter_flow(app, db, client, mailbox, found):
    """Signup, its mail, confirm, unsubscribe, undo: every page and mail of the flow."""
    with app.test_request_context():
        values = {"slug": "events", "name_en": "Events", "name_fr": "Événements", "public": True}
        events = topics.create(db, values, "nu@weprode.com", utcnow())
    events_campaign = new_campaign(db, topic_id=events)
    for language in LANGUAGES:
        mailbox.clear()
        email = f"nu-{language}@example.org"
        response = client.post(
            with_lang("/newsletter", language),
            data={**VALID_SIGNUP, "email": email, "language": language},
        )
        found.page(f"signup-thanks-{language}", response)
        [message] = mailbox.wait_for(1)
        found.mail(f"mail-confirmation-{language}", message)
        confirm = link_path(message, "/newsletter/confirm/")
        found.page(f"confirm-{language}", client.get(confirm))
        found.page(f"confirmed-{language}", client.post(confirm))

        # Another address: each address gets at most one mail per 10 minutes.
        mailbox.clear()
        already = f"nu-already-{language}@example.org"
        add_subscribers(app, db, [(already, "Ann", language)])
        client.post("/newsletter", data={**VALID_SIGNUP, "email": already, "language": language})
        [message] = mailbox.wait_for(1)
        found.mail(f"mail-already-subscribed-{language}", message)

        subscriber_id = db.execute(
            "SELECT id FROM subscribers WHERE email = ?", [email]
        ).fetchone()[0]
        # A campaign of a second topic: its link leaves that topic only, and says so.
        with app.app_context():
            subscriptions.join(db, subscriber_id, [events], utcnow())
            db.conn.commit()
            topic_link = with_lang(unsubscribe_path(app, subscriber_id, events_campaign), language)
        found.page(f"unsubscribe-topic-{language}", client.get(topic_link))
        found.page(f"unsubscribed-topic-{language}", client.post(topic_link))
        unsubscribe = with_lang(unsubscribe_path(app, subscriber_id), language)
        found.page(f"unsubscribe-{language}", client.get(unsubscribe))
        done = client.post(unsubscribe)
        found.page(f"unsubscribed-{language}", done)
        undo = re.search(r'action="([^"]*/unsubscribe/undo/[^"]*)"', done.get_data(as_text=True))
        found.page(f"undone-{language}", client.post(undo.group(1).replace("&amp;", "&")))
        found.page(f"unsubscribe-already-{language}", client.get(unsubscribe))

        manage = with_lang(manage_path(app, subscriber_id), language)
        found.page(f"preferences-{language}", client.get(manage))
        bad = client.post(manage, data={"first_name": "x" * 101})
        found.page(f"preferences-errors-{language}", bad, status=400)
        saved = client.post(manage, data={"first_name": "Nu", "language": language, "topics": "1"})
        found.page(f"preferences-saved-{language}", client.get(saved.headers["Location"]))
        leave = with_lang(manage_path(app, subscriber_id) + "/leave", language)
        found.page(f"preferences-left-{language}", client.post(leave))
        found.page(f"preferences-after-leaving-{language}", client.get(manage))


def collect_contact_flow(client, mailbox, found):
    """Both forms: the acknowledgement and the team's notification of each."""
    forms = {
        "contact": ("/contact", VALID_CONTACT),
        "meeting": ("/contact/meeting", VALID_MEETING),
    }
    for language in LANGUAGES:
        for kind, (path, valid) in forms.items():
            mailbox.clear()
            address = f"nu-{kind}-{language}@example.org"
            data = {**valid, f"{kind}-email": address}
            response = client.post(with_lang(path, language), data=data)
            assert response.status_code == 303, (kind, language, response.status_code)
            mails = by_recipient(mailbox.wait_for(2))
            found.mail(f"mail-{kind}-ack-{language}", mails[address])
            found.mail(f"mail-{kind}-notification-{language}", mails["contact@weprode.com"])


def collect_rights_flow(client, mailbox, found):
    """The request, its mail, and the page each kind of link opens, then the result."""
    for language in LANGUAGES:
        lang = "" if language == "en" else f"?lang={language}"
        for kind in ("access", "rectify", "erase", "object"):
            mailbox.clear()
            # A prospect's address, so that the correction form has fields to get wrong.
            email = (
                f"nu-contact-{language}@example.org"
                if kind == "rectify"
                else f"nu-{kind}@example.org"
            )
            response = client.post(f"/privacy/request{lang}", data={"email": email, "kind": kind})
            found.page(f"rights-sent-{kind}-{language}", response)
            [message] = mailbox.wait_for(1)
            found.mail(f"mail-rights-{kind}-{language}", message)
            link = link_path(message, "/privacy/request/")
            found.page(f"rights-{kind}-{language}", client.get(link))
            if kind == "rectify":
                found.page(
                    f"rights-rectify-errors-{language}",
                    client.post(link, data={"first_name": "x" * 300, "language": "xx"}),
                    400,
                )
            if kind != "access":
                data = RECTIFIED if kind == "rectify" else {}
                found.page(f"rights-{kind}-done-{language}", client.post(link, data=data))


def collect_campaign(app, db, mailbox, found):
    """A campaign as each reader gets it: their version, the other one as a fallback, a test.

    Only the two readers are left. Names end in the reader's language; `fallback` is a
    mail whose content is the other version (the only one written).
    """
    db.execute("DELETE FROM subscribers")
    db.conn.commit()
    add_subscribers(
        app, db, [("nu-c-en@example.org", "Ann", "en"), ("nu-c-fr@example.org", "Luc", "fr")]
    )
    both = {"en": ("Weprode news", BODY), "fr": ("Nouvelles de Weprode", FRENCH_BODY)}
    for name, versions in (
        ("mail-campaign", both),
        ("mail-campaign-only-en", {"en": both["en"]}),
        ("mail-campaign-only-fr", {"fr": both["fr"]}),
    ):
        mailbox.clear()
        campaign_id = new_campaign(db, versions=versions)
        send(app, db, campaign_id)
        mails = by_recipient(mailbox.wait_for(2))
        for reader in LANGUAGES:
            found.mail(f"{name}-{reader}", mails[f"nu-c-{reader}@example.org"])
        if versions is both:
            with app.app_context():
                archive.publish(db, campaign_id, "nu@weprode.com", utcnow())
            client = app.test_client()
            for language in LANGUAGES:
                index = with_lang("/newsletter/archive", language)
                found.page(f"archive-{language}", client.get(index))
                issue = with_lang(f"/newsletter/archive/{campaign_id}", language)
                found.page(f"archive-issue-{language}", client.get(issue))
    campaign = compose.get(db, new_campaign(db, versions=both))
    with app.test_request_context("/admin/campaigns"):
        for language in LANGUAGES:
            prepared = render.prepare_version(campaign, language, language, test_mail=True)
            subscriber = {"id": 0, "email": "staff@weprode.com", "first_name": None}
            found.mails[f"mail-campaign-test-{language}"] = prepared.parts_for(subscriber, "#")[2]


@pytest.fixture(scope="module")
def report(tmp_path_factory, smtp_sink):
    """Every document, and vnu's messages about them (one run of the checker)."""
    reason = nu_checker.unavailable_reason()
    if reason:
        if os.environ.get("WEPRODE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    app = build_app(tmp_path_factory.mktemp("nu"), smtp_sink)
    client = app.test_client()
    found = Collector()
    collect_public_pages(client, found)
    collect_error_pages(client, found)
    db = connect(app.config["DATABASE"])
    try:
        collect_newsletter_flow(app, db, client, smtp_sink, found)
        collect_contact_flow(client, smtp_sink, found)
        collect_rights_flow(client, smtp_sink, found)
        collect_campaign(app, db, smtp_sink, found)
    finally:
        db.close()
    limited = build_app(
        tmp_path_factory.mktemp("nu-limited"),
        smtp_sink,
        RATELIMIT_ENABLED=True,
        RATELIMIT_PUBLIC_FORMS="1 per minute",
    )
    collect_rate_limited(limited.test_client(), found)
    messages = nu_checker.check({**found.pages, **found.mails})
    return found, messages


def problems(messages, names, allowed_warnings):
    """The messages about `names` that are errors, or warnings not allowed."""
    return [
        m
        for m in messages
        if m.document in names
        and (m.is_error or not any(text in m.message for text in allowed_warnings))
    ]


def test_every_page_in_both_languages_has_no_error_and_no_warning(report):
    found, messages = report
    assert len(found.pages) > 80
    wrong = problems(messages, found.pages, ALLOWED_PAGE_WARNINGS)
    assert not wrong, "\n".join(map(str, wrong))


def test_every_kind_of_mail_html_has_no_error(report):
    found, messages = report
    kinds = {re.sub(r"-(en|fr)$", "", name) for name in found.mails}
    assert {
        "mail-confirmation",
        "mail-already-subscribed",
        "mail-contact-ack",
        "mail-contact-notification",
        "mail-meeting-ack",
        "mail-meeting-notification",
        "mail-rights-access",
        "mail-campaign",
        "mail-campaign-only-en",  # French readers get it as a fallback
        "mail-campaign-only-fr",
        "mail-campaign-test",
    } <= kinds
    wrong = problems(messages, found.mails, ALLOWED_MAIL_WARNINGS)
    assert not wrong, "\n".join(map(str, wrong))


def test_mail_layout_uses_no_obsolete_attributes(report):
    """The transactional layout sizes its tables with inline CSS (Outlook gets its fixed
    column from a conditional comment), not with attributes vnu calls obsolete."""
    found, messages = report
    wrong = [m for m in problems(messages, found.mails, {}) if LAYOUT_ATTRIBUTES.search(m.message)]
    assert not wrong, "\n".join(map(str, wrong))


def test_the_checker_finds_errors():
    """The harness itself: a broken document is reported, under its name."""
    reason = nu_checker.unavailable_reason()
    if reason:
        if os.environ.get("WEPRODE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    [message] = nu_checker.check(
        {"broken": "<!doctype html><html lang=en><title>t</title><p>a</b>"}, warnings=False
    )
    assert message.document == "broken" and message.is_error
