"""The newsletter as a person in Chromium lives it: sign up, confirm, unsubscribe, undo."""

from browser_helpers import (
    assert_no_serious_axe_violations,
    describe,
    field_error,
    heading,
    split_status_reports,
    submit,
    tab_until,
    unique_address,
)
from newsletter_helpers import html_part, link_path, text_part

from weprode import tokens
from weprode.db import connect
from weprode.newsletter import subscribers

MAIL_TIMEOUT_S = 5
# /about has header, page and footer links before the footer's signup form.
MAX_TABS_TO_FOOTER_FORM = 60

EMAIL_REQUIRED = "Please enter your e-mail address."
CONSENT_REQUIRED = "Please tick at least one topic."


def subscriber_row(live_server, email):
    """The subscriber as the live server's database holds it right now."""
    db = connect(live_server.app.config["DATABASE"])
    try:
        return subscribers.find_by_email(db, email)
    finally:
        db.close()


def test_signup_confirm_unsubscribe_and_undo_in_the_browser(
    page, context, live_server, mailbox, browser_problems
):
    mailbox.clear()
    email = unique_address("jane")
    masked = subscribers.mask_email(email)
    assert masked.startswith("j***@")

    # 1. An empty form comes back with an error next to each required field.
    page.goto(live_server.url + "/newsletter")
    main = page.locator("main")
    subscribe_button = main.get_by_role("button", name="Subscribe")
    response = submit(page, subscribe_button)
    assert response.status == 400
    assert main.get_by_role("alert").inner_text().strip()
    assert EMAIL_REQUIRED in field_error(page, "signup-email")
    assert CONSENT_REQUIRED in field_error(page, "signup-topic-newsletter")
    assert field_error(page, "signup-first-name") is None

    # What was typed survives a failed submit; only the missing consent is flagged.
    page.locator("#signup-email").fill(email)
    page.locator("#signup-first-name").fill("Jane")
    response = submit(page, subscribe_button)
    assert response.status == 400
    assert field_error(page, "signup-email") is None
    assert CONSENT_REQUIRED in field_error(page, "signup-topic-newsletter")
    assert page.locator("#signup-email").input_value() == email
    assert page.locator("#signup-first-name").input_value() == "Jane"
    assert not page.locator("#signup-topic-newsletter").is_checked()
    assert_no_serious_axe_violations(page, "the signup page with errors")
    assert subscriber_row(live_server, email) is None
    assert mailbox.messages == []

    # 2. A complete form: the neutral "check your inbox" page.
    page.locator("#signup-topic-newsletter").check()
    response = submit(page, subscribe_button)
    assert response.status == 200
    assert heading(page) == "Check your inbox"

    # 3. The confirmation mail, in text and HTML, leads to a page that only asks.
    messages = mailbox.wait_for(1, timeout=MAIL_TIMEOUT_S)
    assert len(messages) == 1, f"expected one confirmation mail, got {len(messages)}"
    message = messages[0]
    assert message["To"] == email
    # Greeted without the name typed into the form: the address is not proven yet.
    assert text_part(message).startswith("Hello,") and "Jane" not in text_part(message)
    confirm_path = link_path(message, "/newsletter/confirm/")
    assert confirm_path in html_part(message)

    response = page.goto(live_server.url + confirm_path)
    assert response.status == 200
    buttons = main.get_by_role("button")
    assert buttons.count() == 1
    assert "Confirm" in buttons.inner_text()
    assert subscriber_row(live_server, email)["status"] == "pending"
    assert_no_serious_axe_violations(page, "the confirm page")

    response = submit(page, buttons)
    assert response.status == 200
    assert heading(page) == "You are subscribed"
    subscriber = subscriber_row(live_server, email)
    assert subscriber["status"] == "active"
    assert subscriber["first_name"] == "Jane"

    # 4. The unsubscribe link shows whom it concerns and changes nothing until asked.
    with live_server.app.app_context():
        unsubscribe_token = tokens.make_unsubscribe_token(subscriber["id"])
    response = page.goto(f"{live_server.url}/unsubscribe/{unsubscribe_token}")
    assert response.status == 200
    assert main.locator("strong").inner_text() == masked
    assert email not in page.content()
    unsubscribe_button = main.get_by_role("button", name="Unsubscribe")
    assert unsubscribe_button.count() == 1
    assert subscriber_row(live_server, email)["status"] == "active"
    assert_no_serious_axe_violations(page, "the unsubscribe page")

    response = submit(page, unsubscribe_button)
    assert response.status == 200
    assert heading(page) == "You are unsubscribed"
    churned = subscriber_row(live_server, email)
    assert churned["status"] == "churned"
    assert churned["churned_at"]

    # 5. Undo, offered right away, brings the subscription back.
    response = submit(page, main.get_by_role("button", name="Undo"))
    assert response.status == 200
    assert heading(page) == "Your subscription is back"
    restored = subscriber_row(live_server, email)
    assert restored["status"] == "active"
    assert restored["churned_at"] is None

    # 6. The whole journey ran clean and left no cookie behind.
    signup_url = live_server.url + "/newsletter"
    expected, problems = split_status_reports(browser_problems, 400, lambda url: url == signup_url)
    assert len(expected) == 2, "each invalid submit should answer 400"
    assert not problems, describe(problems)
    assert context.cookies() == []
    assert len(mailbox.messages) == 1, "only the confirmation mail should have been sent"


def test_footer_signup_form_works_with_the_keyboard_alone(
    page, context, live_server, mailbox, browser_problems
):
    mailbox.clear()
    email = unique_address("keyboard")
    page.goto(live_server.url + "/about")

    tab_until(page, lambda e: e["id"] == "footer-email", MAX_TABS_TO_FOOTER_FORM)
    page.keyboard.type(email)
    tab_until(page, lambda e: e["id"] == "footer-topic-newsletter", limit=5)
    page.keyboard.press("Space")
    assert page.locator("#footer-topic-newsletter").is_checked()
    tab_until(
        page, lambda e: e["inFooter"] and e["tag"] == "button" and e["text"] == "Subscribe", 3
    )
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")

    assert navigation.value.status == 200
    assert page.url == live_server.url + "/newsletter"
    assert heading(page) == "Check your inbox"
    messages = mailbox.wait_for(1, timeout=MAIL_TIMEOUT_S)
    assert [m["To"] for m in messages] == [email]
    assert link_path(messages[0], "/newsletter/confirm/")
    subscriber = subscriber_row(live_server, email)
    assert subscriber["status"] == "pending"
    assert subscriber["request_page"] == "/about"
    assert not browser_problems, describe(browser_problems)
    assert context.cookies() == []
