"""The staff area in Chromium: log in, dashboard, search, CSV import, detail, cookie, log out."""

import pytest
from browser_helpers import (
    assert_no_serious_axe_violations,
    describe,
    heading,
    split_status_reports,
    stat,
    submit,
)
from staff_helpers import ENGLISH_STAFF

from weprode.db import connect, utcnow
from weprode.newsletter import subscribers
from weprode.staff import accounts

STAFF_EMAIL = "editor@weprode.com"
STAFF_PASSWORD = "Glacier-Lake-Savoie-42"
COOKIE_NAME = "weprode_staff"
BAD_LOGIN_MESSAGE = "Incorrect e-mail, password or code."
CHART_TITLE = "Weekly signups and churn over the last 12 months"

# Active before the test starts: two share the "alice" prefix, the others do not.
EXISTING = [
    ("alice.martin@example.org", "Alice"),
    ("alice.dupont@example.org", "Alicia"),
    ("bruno.leroy@example.org", "Bruno"),
]
IMPORT_CSV = (
    "email,first_name,language\r\n"
    "carla.import@example.org,Carla,fr\r\n"
    "david.import@example.org,David,en\r\n"
)
IMPORTED = ["carla.import@example.org", "david.import@example.org"]
IMPORT_SOURCE = "Salon Educatice 2026, visitors' sheet"
IMPORT_LEGAL_BASIS = "Ticked box on the signed paper form"


@pytest.fixture(scope="module")
def staff_area(live_server):
    """A staff account and three active subscribers in the module's live server."""
    db = connect(live_server.app.config["DATABASE"])
    try:
        with live_server.app.app_context():
            accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
            for email, first_name in EXISTING:
                subscribers.add_confirmed(db, email, "browser test", utcnow(), first_name)
    finally:
        db.close()
    return live_server


def listed_emails(page):
    """The e-mail column of the subscriber table (empty when nothing matches)."""
    return [text.strip() for text in page.locator("table.data-table tbody td a").all_inner_texts()]


def log_in(page, url, password):
    page.locator("#email").fill(STAFF_EMAIL)
    page.locator("#password").fill(password)
    return submit(page, page.get_by_role("button", name="Log in"))


def test_staff_log_in_dashboard_search_import_detail_and_log_out(
    page, context, staff_area, browser_problems
):
    base = staff_area.url
    login_url = base + "/admin/login"

    # 1. /admin sends a stranger to the login form; a wrong password is refused with 401.
    page.goto(base + "/admin/")
    assert page.url.startswith(login_url), page.url
    assert heading(page) == "Staff login"
    assert_no_serious_axe_violations(page, "the login page")
    response = log_in(page, login_url, "Not-The-Password-9876")
    assert response.status == 401
    assert page.get_by_role("alert").inner_text().strip() == BAD_LOGIN_MESSAGE

    # 2. The right password opens the dashboard, with the figures and the SVG chart.
    response = log_in(page, login_url, STAFF_PASSWORD)
    assert response.status == 200
    assert page.url == base + "/admin/", page.url
    assert heading(page) == "Dashboard"
    assert stat(page, "Active subscribers") == str(len(EXISTING))
    assert stat(page, "Pending confirmation") == "0"
    assert stat(page, "Unsubscribed") == "0"
    assert stat(page, "Signups, last 30 days") == str(len(EXISTING))
    chart = page.get_by_role("img", name=CHART_TITLE)
    assert chart.count() == 1, "the chart should be one role=img named by its <title>"
    assert chart.locator("title#chart-title").text_content() == CHART_TITLE
    assert chart.locator("rect.chart-signups").count() == 52
    this_week = chart.locator("rect.chart-signups title").last.text_content()
    assert this_week.endswith(f": {len(EXISTING)} signups"), this_week
    assert_no_serious_axe_violations(page, "the dashboard")

    # 3. Only the staff session cookie exists, confined to /admin.
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == [COOKIE_NAME], cookies
    staff_cookie = cookies[0]
    assert staff_cookie["path"] == "/admin"
    assert staff_cookie["httpOnly"] is True
    assert staff_cookie["sameSite"] == "Lax"
    assert staff_cookie["secure"] is False  # plain http in tests; PUBLIC_URL https makes it Secure

    # 4. Subscribers: a prefix search shows only the matching rows.
    with page.expect_navigation():
        page.get_by_role("navigation", name="Staff").get_by_role("link", name="Subscribers").click()
    assert heading(page) == "Subscribers"
    assert sorted(listed_emails(page)) == sorted(email for email, _ in EXISTING)
    assert_no_serious_axe_violations(page, "the subscriber list")
    page.get_by_label("Search (start of e-mail or first name)").fill("alice")
    submit(page, page.get_by_role("button", name="Apply"))
    assert "q=alice" in page.url
    assert sorted(listed_emails(page)) == ["alice.dupont@example.org", "alice.martin@example.org"]
    page.get_by_label("Search (start of e-mail or first name)").fill("alice.m")
    submit(page, page.get_by_role("button", name="Apply"))
    assert listed_emails(page) == ["alice.martin@example.org"]

    # 5. Import a CSV as confirmed subscribers and find them in the list.
    with page.expect_navigation():
        page.get_by_role("link", name="Import a CSV").click()
    assert heading(page) == "Import subscribers from a CSV file"
    assert_no_serious_axe_violations(page, "the import page")
    page.get_by_label("CSV file (columns: email, first_name, language)").set_input_files(
        {"name": "salon.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()}
    )
    page.get_by_label("Where does this list come from?").fill(IMPORT_SOURCE)
    page.get_by_label("Legal basis (how these people consented)").fill(IMPORT_LEGAL_BASIS)
    page.get_by_label("Add them as confirmed (consent already proven)").check()
    response = submit(page, page.get_by_role("button", name="Check and import"))
    assert response.status == 200
    report = page.get_by_role("status").inner_text()
    assert report.startswith("Imported."), report
    assert "2 rows: 2 added" in report, report
    assert_no_serious_axe_violations(page, "the import page with its report")

    submit(page, page.get_by_role("link", name="← All subscribers"))
    everyone = sorted([email for email, _ in EXISTING] + IMPORTED)
    assert sorted(listed_emails(page)) == everyone
    rows = page.locator("table.data-table tbody tr")
    carla = rows.filter(has_text="carla.import@example.org")
    assert carla.locator("td").all_inner_texts()[1:4] == ["Carla", "fr", "active"]

    # 6. The detail page shows the data and the proof of consent the import recorded.
    submit(page, page.get_by_role("link", name="carla.import@example.org"))
    assert heading(page) == "carla.import@example.org"
    details = page.locator("dl.details").inner_text()
    assert "active" in details and "Carla" in details, details
    consent = page.locator("section", has=page.locator("#consent-title")).inner_text()
    assert IMPORT_SOURCE in consent and IMPORT_LEGAL_BASIS in consent, consent

    # 7. Public pages in the same context: the cookie is not sent and none is added.
    sent_cookies = []
    page.on(
        "request",
        lambda request: sent_cookies.append((request.url, request.header_value("cookie"))),
    )
    for path in ("/", "/newsletter", "/about"):
        response = page.goto(base + path)
        assert response.status == 200
        assert response.header_value("set-cookie") is None, path
    public = [(url, sent) for url, sent in sent_cookies if "/admin" not in url]
    assert public and all(sent is None for _, sent in public), public
    assert [c["name"] for c in context.cookies()] == [COOKIE_NAME]
    assert context.cookies()[0]["value"] == staff_cookie["value"]

    # 8. Log out: back on the login page, and /admin asks for a login again.
    page.goto(base + "/admin/")
    response = submit(page, page.get_by_role("button", name="Log out"))
    assert response.status == 200
    assert page.url == login_url
    assert heading(page) == "Staff login"
    page.goto(base + "/admin/subscribers")
    assert page.url.startswith(login_url + "?next="), page.url
    assert heading(page) == "Staff login"

    # Replaying the old cookie does not bring the session back: it ended on the server.
    context.add_cookies([{k: staff_cookie[k] for k in ("name", "value", "domain", "path")}])
    page.goto(base + "/admin/subscribers")
    assert page.url.startswith(login_url + "?next="), page.url

    # Chromium logs the 401 of the wrong-password attempt; that one is what we asked for.
    expected, problems = split_status_reports(
        browser_problems, 401, lambda url: url.startswith(login_url)
    )
    assert len(expected) == 1, (
        f"the wrong password should answer 401 once:\n{describe(browser_problems)}"
    )
    assert not problems, describe(problems)
