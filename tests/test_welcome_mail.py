"""A topic's welcome mail: queued when a person joins the topic, sent by the worker.

Mails go through the real SMTP sink and the worker's own pass (`worker.run_once`); the
links in them are followed with the test client, as a reader's click would.
"""

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from campaign_helpers import BODY, FRENCH_BODY, add_subscribers, new_campaign
from newsletter_helpers import VALID_SIGNUP, html_part, link_path, manage_path, text_part
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in
from test_topics import new_topic, one_click, topic_states

from weprode.campaigns import compose, freeze, ledger, senders, welcome, worker
from weprode.db import connect, utcnow
from weprode.migrations import apply_pending
from weprode.newsletter import subscribers
from weprode.staff import accounts

SAMPLE = Path(__file__).parent / "samples" / "topics_0025.sql"
WELCOME = {
    "en": compose.Version("Welcome to our events", "", "Hello {{ first_name }}, " + BODY),
    "fr": compose.Version("Bienvenue à nos événements", "", FRENCH_BODY),
}


def welcome_mail(app, db, topic_id, versions=WELCOME, switch_on=True):
    """The topic's welcome mail, switched on unless told otherwise; returns its id."""
    with app.test_request_context():
        campaign_id = compose.create(
            db,
            versions=versions,
            audience=None,
            author="t@weprode.com",
            now=utcnow(),
            topic_id=topic_id,
            kind=welcome.KIND,
        )
        if switch_on:
            welcome.switch_on(db, campaign_id, utcnow())
    return campaign_id


def worker_pass(app, db):
    """One pass of the worker, as `campaigns worker` runs it; True if it sent something."""
    with app.app_context():
        return worker.run_once(db, utcnow())


def deliveries(db, campaign_id):
    """{subscriber id: delivery status} of a campaign."""
    sql = "SELECT subscriber_id, status FROM deliveries WHERE campaign_id = ?"
    return {row["subscriber_id"]: row["status"] for row in db.query(sql, [campaign_id])}


def confirm_signup(client, mailbox, **data):
    """Sign up with `data`, confirm with the mail's link; returns the confirm path."""
    client.post("/newsletter", data={**VALID_SIGNUP, **data})
    [mail] = mailbox.wait_for(1)
    path = link_path(mail, "/newsletter/confirm/")
    assert client.post(path).status_code == 200
    mailbox.clear()
    return path


def test_confirming_two_topics_sends_the_one_welcome_in_the_readers_language(
    app, db, client, mailbox
):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    path = confirm_signup(client, mailbox, language="fr", topics=["1", str(events)])
    person = subscribers.find_by_email(db, "jane.doe@example.org")
    # Queued with the confirmation itself: the worker has not run yet.
    assert deliveries(db, campaign_id) == {person["id"]: "queued"}
    assert worker_pass(app, db)
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "jane.doe@example.org"
    assert mail["Subject"] == "Bienvenue à nos événements"
    assert re.search(r'<html lang="fr">', html_part(mail))
    assert "Bonjour Jane," in text_part(mail) and "Events FR" in text_part(mail)
    assert "/newsletter/manage/" in text_part(mail)
    assert deliveries(db, campaign_id) == {person["id"]: "sent"}
    # The welcome mail stays on for the next readers.
    assert ledger.get(db, campaign_id)["status"] == "sending"
    # Confirming again changes nothing and sends nothing more.
    assert client.post(path).status_code == 200
    assert not worker_pass(app, db)
    assert mailbox.messages == [mail]
    # Its one-click link leaves the welcome mail's topic only.
    assert one_click(client, mail).status_code == 200
    assert topic_states(db, person["id"]) == {"newsletter": "active", "events": "churned"}
    assert ledger.figures(db, campaign_id)["unsubscribed"] == 1


def test_an_english_reader_gets_the_english_version_and_a_topic_without_one_sends_nothing(
    app, db, client, mailbox
):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    confirm_signup(client, mailbox, topics=["1"])  # the newsletter has no welcome mail
    assert not worker_pass(app, db) and mailbox.messages == []
    confirm_signup(client, mailbox, email="ann@example.org", topics=[str(events)])
    assert worker_pass(app, db)
    [mail] = mailbox.wait_for(1)
    assert (mail["To"], mail["Subject"]) == ("ann@example.org", "Welcome to our events")
    assert "Hello Jane," in text_part(mail) and "Events EN" in text_part(mail)
    assert re.search(r'<html lang="en">', html_part(mail))
    assert len(deliveries(db, campaign_id)) == 1


def test_ticking_the_topic_on_the_preference_page_welcomes_once(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    page = manage_path(app, ann)
    both = {"first_name": "Ann", "language": "en", "topics": ["1", str(events)]}
    assert client.post(page, data=both).status_code == 303
    assert deliveries(db, campaign_id) == {ann: "queued"}
    worker_pass(app, db)
    [mail] = mailbox.wait_for(1)
    assert mail["Subject"] == "Welcome to our events"
    # Leaving and joining again does not welcome a second time.
    client.post(page, data={**both, "topics": ["1"]})
    client.post(page, data=both)
    assert topic_states(db, ann)["events"] == "active"
    assert not worker_pass(app, db)
    assert len(mailbox.messages) == 1


def test_a_paused_welcome_mail_sends_nothing_and_queues_nobody(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    ann, bob = add_subscribers(
        app, db, [("ann@example.org", "Ann", "en"), ("bob@example.org", "Bob", "en")]
    )
    data = {"first_name": "Ann", "language": "en", "topics": ["1", str(events)]}
    client.post(manage_path(app, ann), data=data)
    with app.test_request_context():
        ledger.pause(db, campaign_id, ledger.PAUSED_BY_STAFF, utcnow())
    client.post(manage_path(app, bob), data={**data, "first_name": "Bob"})
    assert not worker_pass(app, db)
    assert mailbox.messages == []
    # Bob joined while it was paused: he is not welcomed days later on resume.
    assert deliveries(db, campaign_id) == {ann: "queued"}
    with app.test_request_context():
        ledger.resume(db, campaign_id)
    assert worker_pass(app, db)
    assert [m["To"] for m in mailbox.wait_for(1)] == ["ann@example.org"]


def test_people_joining_while_the_relay_is_down_are_welcomed_when_it_resumes(
    app, db, client, mailbox
):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    with app.test_request_context():
        ledger.pause(db, campaign_id, f"{worker.PAUSED_BY_FAILURES}; relay down", utcnow())
    data = {"first_name": "Ann", "language": "en", "topics": ["1", str(events)]}
    client.post(manage_path(app, ann), data=data)
    assert deliveries(db, campaign_id) == {ann: "queued"}
    assert mailbox.messages == []
    # The sink answers: the worker's pass resumes the welcome mail and sends it.
    assert worker_pass(app, db)
    assert [m["To"] for m in mailbox.wait_for(1)] == ["ann@example.org"]
    assert ledger.get(db, campaign_id)["status"] == "sending"


def test_a_reader_who_left_the_topic_before_it_went_is_skipped(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    campaign_id = welcome_mail(app, db, events)
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    page = manage_path(app, ann)
    client.post(page, data={"first_name": "Ann", "language": "en", "topics": ["1", str(events)]})
    client.post(page, data={"first_name": "Ann", "language": "en", "topics": ["1"]})
    worker_pass(app, db)
    assert mailbox.messages == []
    assert deliveries(db, campaign_id) == {ann: "skipped"}


def test_a_welcome_mail_is_never_sent_to_an_audience_nor_finished(app, db):
    events = new_topic(app, db, "events")
    draft = welcome_mail(app, db, events, switch_on=False)
    with app.test_request_context():
        with pytest.raises(ledger.CampaignStateError, match="not to an audience"):
            freeze.start(db, draft, utcnow())
        with pytest.raises(ledger.CampaignStateError, match="not to an audience"):
            ledger.schedule(db, draft, utcnow() + timedelta(days=1), utcnow())
        # One welcome mail per topic.
        with pytest.raises(compose.CampaignInvalid, match="welcome mail already"):
            welcome_mail(app, db, events, switch_on=False)
        # A regular campaign is not switched on.
        regular = new_campaign(db)
        with pytest.raises(ledger.CampaignStateError):
            welcome.switch_on(db, regular, utcnow())
        welcome.switch_on(db, draft, utcnow())
        ledger.finish_if_done(db, draft, utcnow())  # nobody waits, yet it stays on
    assert ledger.get(db, draft)["status"] == "sending"
    # With nobody waiting, the worker leaves it alone and /healthz does not flag it.
    assert [row["id"] for row in worker.due_campaigns(db, utcnow())] == []
    later = utcnow() + timedelta(days=2)
    assert senders.abandoned(db, later) == []


def test_staff_write_switch_on_edit_and_pause_the_welcome_mail(
    app, db, staff_client, client, mailbox
):
    events = new_topic(app, db, "events")
    listing = staff_client.get("/admin/campaigns").get_data(as_text=True)
    new = f"/admin/campaigns/welcome/{events}/new"
    assert new in listing
    data = {
        "csrf_token": csrf_token(staff_client, new),
        "en-subject": "Welcome to our events",
        "en-body_markdown": BODY,
        "fr-subject": "Bienvenue à nos événements",
        "fr-body_markdown": FRENCH_BODY,
    }
    saved = staff_client.post(new, data=data)
    assert saved.status_code == 302
    page = saved.headers["Location"]
    campaign_id = int(page.rsplit("/", 1)[1])
    html = staff_client.get(page).get_data(as_text=True)
    assert "Welcome mail — Events EN" in html and "Send now" not in html
    assert ledger.get(db, campaign_id)["kind"] == "welcome"
    # The list marks it; writing a second one leads to this one.
    listing = staff_client.get("/admin/campaigns").get_data(as_text=True)
    assert "Welcome mail — Events EN" in listing and new not in listing
    assert staff_client.get(new).headers["Location"].endswith(page)
    # Tested like a campaign, before it is switched on.
    staff_client.post(f"{page}/test/fr", data={"csrf_token": csrf_token(staff_client, page)})
    [test] = mailbox.wait_for(1)
    assert test["To"] == STAFF_EMAIL and "Bienvenue à nos événements" in test["Subject"]
    token = csrf_token(staff_client, page)
    staff_client.post(f"{page}/switch-on", data={"csrf_token": token})
    assert ledger.get(db, campaign_id)["status"] == "sending"
    # Corrected while on: it stays on, the next readers get the new text.
    edit = f"{page}/edit"
    changed = {**data, "csrf_token": csrf_token(staff_client, edit), "en-subject": "Hello!"}
    assert staff_client.post(edit, data=changed).status_code == 302
    campaign = compose.get(db, campaign_id)
    assert campaign["status"] == "sending" and campaign["versions"]["en"]["subject"] == "Hello!"
    staff_client.post(f"{page}/pause", data={"csrf_token": csrf_token(staff_client, page)})
    assert ledger.get(db, campaign_id)["status"] == "paused"
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    joined = {"first_name": "Ann", "language": "en", "topics": ["1", str(events)]}
    client.post(manage_path(app, ann), data=joined)
    assert deliveries(db, campaign_id) == {}


def test_french_staff_see_the_welcome_mails_in_french(make_app):
    french = make_app(STAFF_LANGUAGE="fr")
    db = connect(french.config["DATABASE"])
    try:
        events = new_topic(french, db, "events")
        campaign_id = welcome_mail(french, db, events, switch_on=False)
        with french.app_context():
            accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow())
        client = french.test_client()
        log_in(client)
        listing = client.get("/admin/campaigns").get_data(as_text=True)
        assert "Messages de bienvenue" in listing
        assert "Message de bienvenue — Events FR" in listing
        assert "Rédiger le message de bienvenue de Lettre d’information" in listing
        detail = client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
        assert "Activer le message de bienvenue" in detail
    finally:
        db.close()


def test_the_migration_keeps_existing_campaigns_regular_and_allows_one_welcome_per_topic(
    tmp_path,
):
    path = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(SAMPLE.read_text(encoding="utf-8"))
    connection.close()
    db = connect(path)
    try:
        before = {row["id"]: row["status"] for row in db.query("SELECT * FROM campaigns")}
        assert "0027_welcome_mails" in apply_pending(db)
        after = list(db.query("SELECT id, status, kind FROM campaigns"))
        assert before and {row["id"]: row["status"] for row in after} == before
        assert {row["kind"] for row in after} == {"regular"}
        insert = (
            "INSERT INTO campaigns (created_at, created_by, updated_at, topic_id, kind, status) "
            "VALUES ('2026-12-01', 't', '2026-12-01', 1, 'welcome', ?)"
        )
        db.execute(insert, ["cancelled"])
        db.execute(insert, ["draft"])  # a cancelled one makes room
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(insert, ["draft"])
    finally:
        db.close()
