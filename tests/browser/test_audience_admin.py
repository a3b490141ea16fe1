"""Topics, segments and imports in Chromium: order the topics, delete a segment through its
confirmation page, a send refused when the segment changed meanwhile, import into a topic."""

import contextlib

import pytest
from browser_helpers import assert_no_serious_axe_violations, describe, heading, submit
from campaign_helpers import BODY
from staff_helpers import ENGLISH_STAFF

from weprode.campaigns import compose, ledger, segments
from weprode.db import connect, utcnow
from weprode.newsletter import subscribers, subscriptions, topics
from weprode.staff import accounts

STAFF_EMAIL = "audiences@weprode.com"
STAFF_PASSWORD = "Chartreuse-Massif-Alps-42"
FAIRS = {"name": "French speakers", "language": "fr"}
# Lea already reads the Newsletter; Ana is new.
PARTNERS_CSV = (
    b"email,first_name,language\r\nlea@example.org,,\r\nnew.partner@example.org,Ana,fr\r\n"
)


@pytest.fixture(scope="module")
def audiences(live_server):
    """A staff account, two more topics, French and English readers, a segment."""
    ids = {}
    with database(live_server) as db:
        now = utcnow()
        accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, now, **ENGLISH_STAFF)
        for slug, name in (("events", "Events"), ("watch", "Regulatory watch")):
            values = {"slug": slug, "name_en": name, "name_fr": name, "public": 1}
            ids[slug] = topics.create(db, values, STAFF_EMAIL, now)
        for email, language in (("lea@example.org", "fr"), ("tom@example.org", "en")):
            subscribers.add_confirmed(db, email, "fair", now, language=language)
        ids["segment"] = segments.create(db, FAIRS, now)
    return ids


@contextlib.contextmanager
def database(live_server):
    """A connection to the live server's database in its app context, for arranging
    and checking; closed at the end."""
    db = connect(live_server.app.config["DATABASE"])
    try:
        with live_server.app.app_context():
            yield db
    finally:
        db.close()


def log_in(page, base):
    page.goto(base + "/admin/login")
    page.locator("#email").fill(STAFF_EMAIL)
    page.locator("#password").fill(STAFF_PASSWORD)
    submit(page, page.get_by_role("button", name="Log in"))


def box_order(page):
    """The slugs of the signup form's topic checkboxes, in page order (main form only)."""
    ids = page.locator("main input[type=checkbox][id*='-topic-']").evaluate_all(
        "boxes => boxes.map(box => box.id)"
    )
    return [box_id.split("-topic-", 1)[1] for box_id in ids]


def test_staff_move_a_topic_up_and_the_signup_form_follows(
    page, live_server, audiences, browser_problems
):
    base = live_server.url
    page.goto(base + "/newsletter")
    assert box_order(page) == ["newsletter", "events", "watch"]
    log_in(page, base)
    page.goto(base + "/admin/topics")
    assert page.get_by_role("button", name="Move “Newsletter” up").count() == 0
    for _ in range(2):
        response = submit(page, page.get_by_role("button", name="Move “Regulatory watch” up"))
        assert response.status == 200 and heading(page) == "Topics"
    status = page.get_by_role("status").inner_text()
    assert "Order saved" in status, status
    names = page.locator("table.data-table tbody tr td:first-child a").all_inner_texts()
    assert names[:3] == ["Regulatory watch", "Newsletter", "Events"]  # then any made later
    assert page.get_by_role("button", name=f"Move “{names[-1]}” down").count() == 0
    assert_no_serious_axe_violations(page, "the topics page with its move buttons")
    page.goto(base + "/newsletter")
    assert box_order(page) == ["watch", "newsletter", "events"]
    assert not browser_problems, describe(browser_problems)


def test_deleting_a_segment_asks_first_and_is_refused_while_a_draft_uses_it(
    page, live_server, audiences, browser_problems
):
    base = live_server.url
    with database(live_server) as db:
        victim = segments.create(db, {"name": "Old fair list", "source": "fair"}, utcnow())
        draft = compose.create(
            db, versions={"en": compose.Version("Fair news", "", BODY)}, audience="all",
            author=STAFF_EMAIL, now=utcnow(), segment_id=victim,
        )  # fmt: skip
    log_in(page, base)
    page.goto(f"{base}/admin/segments/{victim}/edit")
    submit(page, page.get_by_role("link", name="Delete this segment…"))
    assert heading(page) == "Delete the segment “Old fair list”?"
    refusal = page.get_by_role("alert").inner_text()
    assert "It cannot be deleted: a campaign still to be sent uses it." in refusal, refusal
    assert page.get_by_role("link", name=f"Campaign {draft} — Fair news").count() == 1
    assert page.get_by_role("button", name="Delete the segment").count() == 0
    assert_no_serious_axe_violations(page, "the segment deletion page, refused")
    # The draft drops the segment; the page now says what deleting does, and does it.
    with database(live_server) as db:
        compose.update(
            db, draft, versions={"en": compose.Version("Fair news", "", BODY)},
            audience="all", now=utcnow(), segment_id=None,
        )  # fmt: skip
    page.reload()
    assert "No campaign will be able to use it any more." in page.locator("main").inner_text()
    assert_no_serious_axe_violations(page, "the segment deletion page")
    response = submit(page, page.get_by_role("button", name="Delete the segment"))
    assert response.status == 200 and heading(page) == "Saved segments"
    assert page.get_by_role("status").inner_text().strip() == "Segment “Old fair list” deleted."
    assert page.get_by_role("link", name="Old fair list").count() == 0
    assert not browser_problems, describe(browser_problems)


def test_a_send_is_refused_when_the_segment_was_edited_after_the_page_was_shown(
    page, live_server, audiences, browser_problems
):
    base = live_server.url
    with database(live_server) as db:
        campaign_id = compose.create(
            db, versions={"en": compose.Version("For French speakers", "", BODY)},
            audience="all", author=STAFF_EMAIL, now=utcnow(),
            segment_id=audiences["segment"],
        )  # fmt: skip
    log_in(page, base)
    page.goto(f"{base}/admin/campaigns/{campaign_id}")
    confirm = page.get_by_label("I have checked the preview and the test e-mail of each version.")
    confirm.check()
    # A colleague widens the segment to every language while the page is open.
    with database(live_server) as db:
        segments.update(db, audiences["segment"], {**FAIRS, "language": ""}, utcnow())
    response = submit(page, page.get_by_role("button", name="Send now"))
    assert response.status == 200
    message = page.get_by_role("status").inner_text()
    assert "The segment’s conditions were edited since the page was shown." in message, message
    with database(live_server) as db:
        assert ledger.get(db, campaign_id)["status"] == "draft"
        frozen = "SELECT count(*) FROM deliveries WHERE campaign_id = ?"
        assert db.execute(frozen, [campaign_id]).fetchone() == (0,)
    # The page now shows the segment as it is: confirmed again, it is sent.
    page.get_by_label("I have checked the preview and the test e-mail of each version.").check()
    submit(page, page.get_by_role("button", name="Send now"))
    assert page.get_by_role("status").inner_text().strip() == "Sending started."
    with database(live_server) as db:
        ledger.cancel(db, campaign_id, utcnow())  # nobody needs the mail itself
    assert not browser_problems, describe(browser_problems)


def test_staff_import_into_an_internal_topic(page, live_server, audiences, browser_problems):
    base = live_server.url
    with database(live_server) as db:
        values = {"slug": "partners", "name_en": "Partners", "name_fr": "Partenaires"}
        partners = topics.create(db, values, STAFF_EMAIL, utcnow())
    log_in(page, base)
    page.goto(base + "/admin/subscribers/import")
    topic = page.get_by_label("Topic they join")
    assert topic.locator("option:checked").inner_text() == "Newsletter"  # the main topic
    topic.select_option(label="Partners (internal)")
    page.get_by_label("CSV file (columns: email, first_name, language)").set_input_files(
        {"name": "partners.csv", "mimeType": "text/csv", "buffer": PARTNERS_CSV}
    )
    page.get_by_label("Where does this list come from?").fill("Partners' day")
    page.get_by_label("Legal basis (how these people consented)").fill("signed forms")
    page.get_by_label("Add them as confirmed (consent already proven)").check()
    response = submit(page, page.get_by_role("button", name="Check and import"))
    assert response.status == 200
    report = page.get_by_role("status").inner_text()
    assert "2 rows: 2 added" in report, report
    assert_no_serious_axe_violations(page, "the import page with a topic")
    with database(live_server) as db:
        lea = subscribers.find_by_email(db, "lea@example.org")
        assert subscriptions.active_topic_ids(db, lea["id"]) == {
            topics.main_topic_id(db), partners
        }  # fmt: skip
        ana = subscribers.find_by_email(db, "new.partner@example.org")
        assert subscriptions.active_topic_ids(db, ana["id"]) == {partners}
    assert not browser_problems, describe(browser_problems)
