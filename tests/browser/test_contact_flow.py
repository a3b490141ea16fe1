"""The contact page in Chromium: a meeting request sent with the keyboard alone, errors, axe."""

from browser_helpers import (
    assert_no_serious_axe_violations,
    describe,
    split_status_reports,
    tab_until,
    unique_address,
)
from contact_helpers import by_recipient
from newsletter_helpers import text_part

from weprode.contact import prospects
from weprode.db import connect

MAIL_TIMEOUT_S = 5
# Header links, the skip link and the in-page links before "Request a meeting".
MAX_TABS_TO_MEETING_LINK = 20


def type_into(page, field_id, text):
    """Tab to the field (the next one in order) and type, as a keyboard user would."""
    tab_until(page, lambda e: e["id"] == field_id, limit=2)
    page.keyboard.type(text)


def prospect_row(live_server, email):
    db = connect(live_server.app.config["DATABASE"])
    try:
        prospect = prospects.find_by_email(db, email)
        return prospect, prospects.interactions(db, prospect["id"]) if prospect else []
    finally:
        db.close()


def test_meeting_request_with_the_keyboard_alone(
    page, context, live_server, mailbox, browser_problems
):
    mailbox.clear()
    email = unique_address("keyboard")
    page.goto(live_server.url + "/contact")

    # The page's own link jumps to the meeting form; Tab then lands on its first field.
    tab_until(
        page,
        lambda e: e["inMain"] and e["tag"] == "a" and e["text"] == "Request a meeting",
        MAX_TABS_TO_MEETING_LINK,
    )
    page.keyboard.press("Enter")
    type_into(page, "meeting-last_name", "Martin")
    type_into(page, "meeting-first_name", "Paul")
    type_into(page, "meeting-job_title", "Digital officer")
    type_into(page, "meeting-company", "Région Exemple")
    type_into(page, "meeting-email", email)
    type_into(page, "meeting-phone", "+33 4 79 00 00 00")
    type_into(page, "meeting-topic", "Exit plan for our Education Cloud")
    # Into the radio group, then the arrow key picks the second format.
    tab_until(page, lambda e: e["id"] == "meeting-format-0", limit=1)
    page.keyboard.press("ArrowDown")
    assert page.locator("#meeting-format-1").is_checked()
    type_into(page, "meeting-slot_1", "Tuesday 3 March, morning")
    type_into(page, "meeting-slot_2", "Thursday 5 March, 14:00")
    tab_until(page, lambda e: e["id"] == "meeting-slot_3", limit=1)
    tab_until(page, lambda e: e["id"] == "meeting-newsletter", limit=1)
    assert not page.locator("#meeting-newsletter").is_checked()  # unchecked by default
    tab_until(page, lambda e: e["tag"] == "button" and e["text"] == "Request the meeting", limit=1)
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")

    assert navigation.value.status == 200
    # (The browser keeps the form's #meeting across the redirect; it points nowhere there.)
    assert page.url.split("#")[0] == live_server.url + "/contact/thanks?kind=meeting"
    assert page.locator("h1").inner_text().strip() == "Thank you"
    assert_no_serious_axe_violations(page, "the thank-you page")

    prospect, interactions = prospect_row(live_server, email)
    assert (prospect["first_name"], prospect["company"]) == ("Paul", "Région Exemple")
    [meeting] = interactions
    assert meeting["format"] == "on_site"
    assert meeting["time_slots"] == ["Tuesday 3 March, morning", "Thursday 5 March, 14:00"]
    mails = by_recipient(mailbox.wait_for(2, timeout=MAIL_TIMEOUT_S))
    assert set(mails) == {email, "contact@weprode.com"}
    assert mails["contact@weprode.com"]["Reply-To"] == f"Paul Martin <{email}>"
    assert "Hello," in text_part(mails[email])  # nothing typed is repeated to the address
    assert not browser_problems, describe(browser_problems)
    assert context.cookies() == []


def test_errors_are_shown_beside_fields_and_the_page_stays_accessible(
    page, context, live_server, mailbox, browser_problems
):
    mailbox.clear()
    page.goto(live_server.url + "/contact")
    assert_no_serious_axe_violations(page, "/contact")

    main = page.locator("main")
    page.locator("#meeting-first_name").fill("Paul")
    page.locator("#meeting-slot_1").fill("Monday")
    with page.expect_navigation() as navigation:
        main.get_by_role("button", name="Request the meeting").click()
    assert navigation.value.status == 400

    alert = page.locator("#meeting").get_by_role("alert")
    assert "Please correct the fields marked below." in alert.inner_text()
    last_name = page.locator("#meeting-last_name")
    assert last_name.get_attribute("aria-invalid") == "true"
    assert last_name.get_attribute("aria-describedby") == "meeting-last_name-error"
    assert "Please enter your last name." in page.locator("#meeting-last_name-error").inner_text()
    assert "Please choose a format." in page.locator("#meeting-format-error").inner_text()
    assert page.locator("#meeting-first_name").input_value() == "Paul"  # input kept
    assert page.locator("#meeting-slot_1").input_value() == "Monday"
    assert page.locator("#meeting-first_name").get_attribute("aria-invalid") is None
    # The message form above is untouched and shows no errors.
    assert page.locator("#message").get_by_role("alert").count() == 0
    assert_no_serious_axe_violations(page, "/contact with errors shown")

    expected, problems = split_status_reports(
        browser_problems, 400, lambda url: "/contact/meeting" in url
    )
    assert len(expected) == 1
    assert not problems, describe(browser_problems)
    assert mailbox.messages == []
    assert context.cookies() == []
