"""A campaign in Chromium: write it, fix a placeholder, preview, test, send, watch it finish."""

import re

import pytest
from browser_helpers import (
    assert_no_serious_axe_violations,
    describe,
    field_error,
    heading,
    split_status_reports,
    stat,
    submit,
)
from newsletter_helpers import html_part, text_part
from playwright.sync_api import expect
from staff_helpers import ENGLISH_STAFF

from weprode import tokens
from weprode.campaigns import audiences, segments, worker
from weprode.db import connect, utcnow
from weprode.newsletter import subscribers, topics
from weprode.staff import accounts

MAIL_TIMEOUT_S = 5
# While sending, the detail page's script polls the figures every 2 seconds.
REFRESH_TIMEOUT_MS = 8000
STAFF_EMAIL = "newsroom@weprode.com"
STAFF_PASSWORD = "Glacier-Lake-Savoie-42"

# (email, first name, language): the English audience is the first three.
SUBSCRIBERS = [
    ("jane.english@example.org", "Jane", "en"),
    ("omar.english@example.org", "Omar", "en"),
    ("anonymous.english@example.org", None, "en"),
    ("claire.french@example.org", "Claire", "fr"),
]
AUDIENCE = [s for s in SUBSCRIBERS if s[2] == "en"]
SUBJECT = "Sovereign clouds for schools"
BAD_BODY = """# News from Weprode

Hello {{ firstname }},

Our **new guide** to sovereign Education Clouds is out.
"""
BODY = BAD_BODY.replace("{{ firstname }}", '{{ first_name | default("there") }}')
UNKNOWN_PLACEHOLDER = "Unknown placeholder firstname"


@pytest.fixture(scope="module")
def newsroom(live_server):
    """A staff account and the subscribers, by e-mail -> id."""
    db = connect(live_server.app.config["DATABASE"])
    ids = {}
    try:
        with live_server.app.app_context():
            accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
            for email, first_name, language in SUBSCRIBERS:
                ids[email] = subscribers.add_confirmed(
                    db, email, "browser test", utcnow(), first_name=first_name, language=language
                )[0]
    finally:
        db.close()
    return ids


def status(page):
    return page.locator("p", has_text="Status:").locator(".status")


def log_in(page, base):
    page.goto(base + "/admin/login")
    page.locator("#email").fill(STAFF_EMAIL)
    page.locator("#password").fill(STAFF_PASSWORD)
    response = submit(page, page.get_by_role("button", name="Log in"))
    assert response.status == 200
    assert heading(page) == "Dashboard"


def run_worker(live_server):
    """One pass of `flask campaigns worker`, from the test thread."""
    db = connect(live_server.app.config["DATABASE"])
    try:
        with live_server.app.app_context():
            return worker.run_once(db, utcnow())
    finally:
        db.close()


def unsubscribe_url(live_server, subscriber_id, campaign_id):
    with live_server.app.app_context():
        token = tokens.make_unsubscribe_token(subscriber_id, campaign_id)
    return f"http://localhost/unsubscribe/{token}"


def test_compose_preview_test_send_and_watch_the_campaign_finish(
    page, live_server, newsroom, mailbox, browser_problems
):
    base = live_server.url
    log_in(page, base)

    # 1. Campaigns -> New campaign; a typo in a placeholder comes back next to the body.
    staff_nav = page.get_by_role("navigation", name="Staff")
    submit(page, staff_nav.get_by_role("link", name="Campaigns"))
    assert heading(page) == "Campaigns"
    submit(page, page.get_by_role("link", name="New campaign"))
    assert heading(page) == "New campaign"
    new_url = page.url
    english = page.get_by_role("group", name="English version")
    audience = page.get_by_label(f"English-speaking subscribers ({len(AUDIENCE)} now)")
    assert not audience.is_checked()  # nobody is chosen by default
    english.get_by_label("Subject").fill(SUBJECT)
    topic = page.get_by_role("group", name="Newsletter topic").get_by_role("radio").first
    assert not topic.is_checked()  # nor the topic
    topic.check()
    audience.check()
    english.get_by_label("Body (Markdown)").fill(BAD_BODY)
    response = submit(page, page.get_by_role("button", name="Save draft"))
    assert response.status == 400
    assert page.get_by_role("alert").inner_text().strip()
    error = field_error(page, "en-body_markdown")
    assert error and UNKNOWN_PLACEHOLDER in error, error
    assert field_error(page, "en-subject") is None
    assert english.get_by_label("Body (Markdown)").input_value() == BAD_BODY
    assert english.get_by_label("Subject").input_value() == SUBJECT
    assert audience.is_checked()
    assert_no_serious_axe_violations(page, "the campaign editor with an error")

    # 2. Fixed and saved: the draft's page, with the audience counted.
    english.get_by_label("Body (Markdown)").fill(BODY)
    response = submit(page, page.get_by_role("button", name="Save draft"))
    assert response.status == 200
    match = re.fullmatch(re.escape(base) + r"/admin/campaigns/(\d+)", page.url)
    assert match, page.url
    campaign_id = int(match.group(1))
    detail_url = page.url
    assert heading(page) == SUBJECT
    assert page.get_by_role("status").inner_text().strip() == "Campaign saved."
    expect(status(page)).to_have_text("draft")
    assert stat(page, "Recipients") == str(len(AUDIENCE))
    assert page.locator("progress").count() == 0
    counts = page.locator("[data-audience-counts]").inner_text()
    assert f"{len(AUDIENCE)} get the English version" in counts

    # 3. Preview: both frames show the e-mail as a subscriber without a first name sees it.
    submit(page, page.get_by_role("link", name="Preview the English version"))
    assert heading(page) == "Preview of the English version"
    for name in ("HTML version, desktop width", "HTML version, mobile width"):
        frame = page.frame_locator(f'iframe[title="{name}"]')
        expect(frame.locator("h1")).to_have_text("News from Weprode")
        expect(frame.locator("body")).to_contain_text("Hello there,")
        expect(frame.locator("strong", has_text="new guide")).to_have_count(1)
    assert "Hello there," in page.locator("pre.preview-text").inner_text()
    assert_no_serious_axe_violations(page, "the preview page")
    submit(page, page.get_by_role("link", name="← Back to the campaign"))

    # 4. A test goes to the signed-in staff member only.
    test_button = f"Send a test of the English version to {STAFF_EMAIL}"
    response = submit(page, page.get_by_role("button", name=test_button))
    assert response.status == 200
    sent = f"Test of the English version sent to {STAFF_EMAIL}."
    assert page.get_by_role("status").inner_text().strip() == sent
    tests = mailbox.wait_for(1, timeout=MAIL_TIMEOUT_S)
    assert [m["To"] for m in tests] == [STAFF_EMAIL]
    assert tests[0]["Subject"] == f"[TEST] {SUBJECT}"  # never mistaken for the real one
    assert tests[0]["List-Unsubscribe"] is None
    assert "Hello there," in text_part(tests[0])
    mailbox.clear()
    expect(status(page)).to_have_text("draft")
    assert_no_serious_axe_violations(page, "the campaign page")

    # 5. "Send now" needs the confirmation ticked; then the page shows a progress bar.
    confirm = page.get_by_label("I have checked the preview and the test e-mail of each version.")
    send_now = page.get_by_role("button", name="Send now")
    assert confirm.evaluate("box => box.validity.valueMissing") is True
    send_now.click()
    assert page.url == detail_url, "the form must not be sent without the confirmation"
    confirm.check()
    response = submit(page, send_now)
    assert response.status == 200
    assert page.get_by_role("status").inner_text().strip() == "Sending started."
    expect(status(page)).to_have_text("sending")
    progress = page.get_by_label(re.compile(r"^Progress: 0 %"))
    assert progress.get_attribute("max") == str(len(AUDIENCE))
    assert progress.get_attribute("value") == "0"
    # No timed reload (WCAG 2.2.1): a script updates the figures in place.
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert page.locator("script[src*='/static/js/campaign-progress.js?v=']").count() == 1
    assert page.get_by_role("button", name="Send now").count() == 0
    assert_no_serious_axe_violations(page, "the campaign page while sending")

    # 6. The worker sends; the page's script shows the result without a reload.
    assert run_worker(live_server) is True
    expect(status(page)).to_have_text("sent", timeout=REFRESH_TIMEOUT_MS)
    progress = page.get_by_label("Progress: 100 %")
    assert progress.get_attribute("value") == progress.get_attribute("max") == str(len(AUDIENCE))
    assert stat(page, "Recipients") == str(len(AUDIENCE))
    assert stat(page, "Sent") == str(len(AUDIENCE))
    assert stat(page, "Failed") == "0"
    assert stat(page, "Waiting") == "0"
    assert page.url == detail_url  # updated in place, not reloaded
    assert_no_serious_axe_violations(page, "the campaign page once sent")

    # 7. Each subscriber of the audience got one mail with their own opt-out link.
    messages = mailbox.wait_for(len(AUDIENCE), timeout=MAIL_TIMEOUT_S)
    by_recipient = {}
    for message in messages:
        by_recipient.setdefault(message["To"], []).append(message)
    assert sorted(by_recipient) == sorted(email for email, _, _ in AUDIENCE)
    for email, first_name, _ in AUDIENCE:
        (message,) = by_recipient[email]
        url = unsubscribe_url(live_server, newsroom[email], campaign_id)
        assert message["List-Unsubscribe"] == f"<{url}>"
        assert url in text_part(message)
        assert f"Hello {first_name or 'there'}," in text_part(message)
        assert f"Hello {first_name or 'there'}," in html_part(message)
    assert len(mailbox.messages) == len(AUDIENCE)

    # Chromium logs the 400 of the editor sent back with errors; that one we asked for.
    new_campaign_errors, problems = split_status_reports(
        browser_problems, 400, lambda url: url == new_url
    )
    assert len(new_campaign_errors) == 1, describe(browser_problems)
    assert not problems, describe(problems)


FRENCH_SUBJECT = "Des clouds souverains pour les écoles"
FRENCH_BODY = """# Nouvelles de Weprode

Bonjour {{ first_name | default("à vous") }},

Notre **nouveau guide** des clouds éducatifs souverains est paru.
"""


def boxes(page):
    """The bounding boxes of the editor's English and French columns."""
    return [
        page.get_by_role("group", name=f"{name} version").bounding_box()
        for name in ("English", "French")
    ]


def test_two_versions_side_by_side_and_a_french_reader_unsubscribes_in_french(
    page, live_server, newsroom, mailbox, browser_problems
):
    base = live_server.url
    log_in(page, base)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/admin/campaigns/new")
    english_box, french_box = boxes(page)
    assert english_box["y"] == french_box["y"] and english_box["x"] < french_box["x"]
    page.set_viewport_size({"width": 375, "height": 800})
    english_box, french_box = boxes(page)
    assert french_box["y"] >= english_box["y"] + english_box["height"]  # stacked
    assert french_box["x"] + french_box["width"] <= 375
    page.set_viewport_size({"width": 1280, "height": 900})

    # Both versions, then the audience, chosen explicitly.
    english = page.get_by_role("group", name="English version")
    french = page.get_by_role("group", name="French version")
    english.get_by_label("Subject").fill(SUBJECT)
    english.get_by_label("Body (Markdown)").fill(BODY)
    french.get_by_label("Subject").fill(FRENCH_SUBJECT)
    french.get_by_label("Body (Markdown)").fill(FRENCH_BODY)
    page.get_by_role("group", name="Newsletter topic").get_by_role("radio").first.check()
    page.get_by_label(f"All active subscribers ({len(SUBSCRIBERS)} now)").check()
    assert_no_serious_axe_violations(page, "the campaign editor with two versions")
    response = submit(page, page.get_by_role("button", name="Save draft"))
    assert response.status == 200
    campaign_id = int(page.url.rsplit("/", 1)[1])
    counts = page.locator("[data-audience-counts]")
    expect(counts.locator('[data-version="en"]')).to_contain_text(
        f"{len(AUDIENCE)} get the English version"
    )
    expect(counts.locator('[data-version="fr"]')).to_contain_text("1 gets the French version")
    assert_no_serious_axe_violations(page, "the campaign page with two versions")

    # Each version has its own test.
    submit(
        page, page.get_by_role("button", name=f"Send a test of the French version to {STAFF_EMAIL}")
    )
    [test_mail] = mailbox.wait_for(1, timeout=MAIL_TIMEOUT_S)
    assert test_mail["Subject"] == f"[TEST] {FRENCH_SUBJECT}"
    assert "Bonjour à vous," in text_part(test_mail)
    mailbox.clear()

    page.get_by_label("I have checked the preview and the test e-mail of each version.").check()
    submit(page, page.get_by_role("button", name="Send now"))
    assert run_worker(live_server) is True
    messages = mailbox.wait_for(len(SUBSCRIBERS), timeout=MAIL_TIMEOUT_S)
    by_recipient = {message["To"]: message for message in messages}
    claire = by_recipient["claire.french@example.org"]
    assert claire["Subject"] == FRENCH_SUBJECT
    assert '<html lang="fr">' in html_part(claire)
    assert by_recipient["jane.english@example.org"]["Subject"] == SUBJECT

    # The French reader's opt-out link opens a French page; its button answers in French.
    link = re.fullmatch(r"<http://localhost(/unsubscribe/\S+)>", claire["List-Unsubscribe"])
    assert link.group(1).endswith("?lang=fr")
    assert (
        link.group(1)
        == unsubscribe_url(
            live_server, newsroom["claire.french@example.org"], campaign_id
        ).removeprefix("http://localhost")
        + "?lang=fr"
    )
    page.goto(base + link.group(1))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert heading(page) == "Se désabonner de la lettre d’information"
    assert_no_serious_axe_violations(page, "the French opt-out page")
    submit(page, page.get_by_role("main").get_by_role("button", name="Se désabonner"))
    assert heading(page) == "Votre désabonnement est enregistré"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert not browser_problems, describe(browser_problems)


def test_the_composer_recounts_readers_when_the_segment_changes(
    page, live_server, newsroom, browser_problems
):
    db = connect(live_server.app.config["DATABASE"])
    try:
        with live_server.app.app_context():
            subscribers.add_confirmed(
                db, "zoe.french@example.org", "browser test", utcnow(), language="fr"
            )
            segment_id = segments.create(
                db, {"name": "English readers", "language": "en"}, utcnow()
            )
            main = topics.main_topic_id(db)
            everyone = audiences.counts(db, "all", (), main)["all"]["total"]
            english = audiences.counts(db, "all", (), main, segment_id)["all"]["total"]
    finally:
        db.close()
    assert everyone > english == len(AUDIENCE)
    base = live_server.url
    log_in(page, base)
    page.goto(base + "/admin/campaigns/new")
    count = page.locator("#live-count")
    expect(count).to_have_text("Choose the topic and the audience to count the readers.")
    page.get_by_role("group", name="Newsletter topic").get_by_role("radio").first.check()
    page.get_by_role("radio", name=re.compile(r"All active subscribers")).check()
    expect(count).to_have_text(f"{everyone} readers now in this topic, audience and segment.")
    page.get_by_label("Segment").select_option(label="English readers")
    expect(count).to_have_text(f"{english} readers now in this topic, audience and segment.")
    assert not browser_problems, describe(browser_problems)
