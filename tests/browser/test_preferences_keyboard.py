"""The preference page with the keyboard alone: change topics, save, see them kept."""

from browser_helpers import (
    assert_no_serious_axe_violations,
    describe,
    split_status_reports,
    submit,
    tab_until,
)
from newsletter_helpers import manage_path

from weprode.db import connect, utcnow
from weprode.newsletter import subscribers, subscriptions, topics

STAFF = "staff@weprode.com"


def test_topics_change_by_keyboard_and_the_page_shows_what_is_kept(
    page, context, live_server, browser_problems
):
    app = live_server.app
    db = connect(app.config["DATABASE"])
    try:
        with app.test_request_context():
            topics.create(
                db,
                {
                    "slug": "events-kb",
                    "name_en": "Events and webinars",
                    "name_fr": "Événements et webinaires",
                    "public": True,
                },
                STAFF,
                utcnow(),
            )
            person, _ = subscribers.add_confirmed(
                db, "keyboard.prefs@example.org", "test", utcnow(), "Kim", "fr"
            )
        path = manage_path(app, person) + "?lang=fr"  # as the French reader's mail links it
        page.goto(live_server.url + path)
        assert page.locator("html").get_attribute("lang") == "fr"
        main_box = page.locator("#preferences-topic-newsletter")
        events_box = page.locator("#preferences-topic-events-kb")
        assert main_box.is_checked() and not events_box.is_checked()
        assert_no_serious_axe_violations(page, "the preference page")

        # Tick the events, untick the newsletter, then save: all with Tab, Space, Enter.
        tab_until(page, lambda e: e["id"] == "preferences-topic-newsletter", limit=80)
        page.keyboard.press("Space")
        tab_until(page, lambda e: e["id"] == "preferences-topic-events-kb", limit=3)
        page.keyboard.press("Space")
        tab_until(page, lambda e: e["tag"] == "button", limit=3)
        with page.expect_navigation() as navigation:
            page.keyboard.press("Enter")
        assert navigation.value.status == 200  # after the 303 to the saved page
        assert page.get_by_role("status").inner_text().strip()
        assert not page.locator("#preferences-topic-newsletter").is_checked()
        assert page.locator("#preferences-topic-events-kb").is_checked()
        states = {row["slug"]: row["status"] for row in subscriptions.of_subscriber(db, person)}
        assert states == {"newsletter": "churned", "events-kb": "active"}
        assert subscribers.get(db, person)["status"] == "active"

        # Unticking everything is refused next to the boxes, and nothing changes.
        page.locator("#preferences-topic-events-kb").focus()
        page.keyboard.press("Space")
        response = submit(page, page.locator("main form button").first)
        assert response.status == 400
        error = page.locator("#preferences-topics-error").inner_text()
        assert "au moins un thème" in error
        assert page.locator("#preferences-topic-events-kb").get_attribute("aria-invalid") == "true"
        states = {row["slug"]: row["status"] for row in subscriptions.of_subscriber(db, person)}
        assert states == {"newsletter": "churned", "events-kb": "active"}
    finally:
        db.close()
    page_url = live_server.url + path
    expected, problems = split_status_reports(
        browser_problems, 400, lambda url: url.split("?")[0] == page_url.split("?")[0]
    )
    assert len(expected) == 1, "the save with no topic should answer 400"
    assert not problems, describe(problems)
    assert context.cookies() == []
