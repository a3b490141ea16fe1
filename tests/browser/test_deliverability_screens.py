"""The Deliverability page and bounce log in Chromium at 375 px and 1280 px: the wide
tables scroll inside their box (with a hint on a phone), the page never sideways; the
threshold is said in words; no serious axe violation."""

import pytest
from browser_helpers import assert_no_serious_axe_violations, staff_page_at
from staff_helpers import ENGLISH_STAFF

from weprode.campaigns import compose, freeze
from weprode.db import connect, utcnow
from weprode.deliverability import effects
from weprode.newsletter import subscribers
from weprode.staff import accounts

STAFF_EMAIL = "deliverability@weprode.com"
STAFF_PASSWORD = "Glacier-Lake-Savoie-42"
DOMAINS = ["gmail.com", "hotmail.fr", "orange.fr", "free.fr", "laposte.net", "yahoo.fr"]

MEASURE_JS = """() => {
    const wraps = [...document.querySelectorAll(".table-wrap")].map(wrap => ({
        scrolls: wrap.scrollWidth > wrap.clientWidth,
        right: wrap.getBoundingClientRect().right,
    }));
    const hint = document.querySelector(".table-hint");
    return {
        wraps,
        hintShown: hint !== null && hint.offsetParent !== null,
        pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
    };
}"""


@pytest.fixture(scope="module")
def figures_server(live_server):
    """A staff account, a sent campaign to 60 people at six providers, bounces, a complaint."""
    db = connect(live_server.app.config["DATABASE"])
    now = utcnow()
    try:
        with live_server.app.app_context():
            accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, now, **ENGLISH_STAFF)
            people = [
                subscribers.add_confirmed(db, f"reader{n}@{DOMAINS[n % 6]}", "browser", now)[0]
                for n in range(60)
            ]
            campaign_id = compose.create(
                db,
                versions={
                    "en": compose.Version(
                        subject="Autumn news for schools and their networks",
                        body_markdown="Hi",
                    )
                },
                audience="all",
                author=STAFF_EMAIL,
                now=now,
            )
            freeze.start(db, campaign_id, now)
            db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?", [now.isoformat()])
            db.execute("UPDATE campaigns SET status = 'sent', finished_at = ?", [now.isoformat()])
            for subscriber_id in people[:4]:
                subscriber = subscribers.get(db, subscriber_id)
                effects.apply_bounce(
                    db,
                    subscriber,
                    "5.1.1",
                    now,
                    mail_kind="campaign",
                    campaign_id=campaign_id,
                    source="smtp",
                    detail="550 5.1.1 <" + subscriber["email"] + ">: "
                    "Recipient address rejected: User unknown in virtual mailbox table",
                )
            effects.apply_complaint(
                db,
                subscribers.get(db, people[10]),
                now,
                mail_kind="campaign",
                campaign_id=campaign_id,
            )
    finally:
        db.close()
    return live_server


@pytest.fixture(params=[375, 1280], ids=lambda width: f"{width}px")
def staff_page(request, context, figures_server):
    """A signed-in page at the width under test."""
    page = staff_page_at(context, figures_server.url, STAFF_EMAIL, STAFF_PASSWORD, request.param)
    yield page, request.param, figures_server.url
    page.close()


@pytest.mark.parametrize(
    "path",
    ["/admin/deliverability", "/admin/deliverability?lang=fr", "/admin/deliverability/bounces"],
)
def test_wide_tables_scroll_in_their_box_not_the_page(staff_page, path):
    page, width, base = staff_page
    page.goto(base + path)
    found = page.evaluate(MEASURE_JS)
    assert not found["pageScrolls"], found
    assert found["wraps"] and all(wrap["right"] <= width for wrap in found["wraps"]), found
    if width == 375:
        assert any(wrap["scrolls"] for wrap in found["wraps"]), found
        assert found["hintShown"]
    else:
        assert not found["hintShown"]


def test_thresholds_are_said_in_words_and_the_page_passes_axe(staff_page):
    page, width, base = staff_page
    page.goto(base + "/admin/deliverability")
    labels = page.locator(".over-threshold").all_inner_texts()
    # The campaign row and two provider rows: 4 hard bounces of 60 (6.7 %), 1 complaint.
    assert "Above threshold (2%)" in labels and "Above threshold (0.3%)" in labels
    assert_no_serious_axe_violations(page, f"the Deliverability page at {width} px")
    page.goto(base + "/admin/deliverability/bounces")
    assert_no_serious_axe_violations(page, f"the bounce log at {width} px")
