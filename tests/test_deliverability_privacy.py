"""Bounce data and privacy: raw reports kept 30 days, events kept and erased with the person."""

from datetime import timedelta

from campaign_helpers import add_subscribers
from test_deliverability_reports import sample

from weprode.db import isoformat, utcnow
from weprode.deliverability import effects
from weprode.newsletter import subscribers
from weprode.privacy import retention
from weprode.privacy.rights import export

RAW = sample("postfix_user_unknown.eml")


def store_report(db, subscriber_id, received_at):
    return db.execute(
        "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outcome, message) "
        "VALUES (?, 'bounce', ?, 'x', ?)",
        [isoformat(received_at), subscriber_id, RAW],
    ).lastrowid


def bounce(db, subscriber_id, now, report_id=None):
    effects.apply_bounce(
        db,
        subscribers.get(db, subscriber_id),
        "5.1.1",
        now,
        mail_kind="campaign",
        campaign_id=None,
        source="report",
        report_id=report_id,
    )


def test_raw_reports_go_after_30_days_and_their_events_stay(app, db):
    (person,) = add_subscribers(app, db, [("jane@example.org", None, "en")])
    now = utcnow()
    with app.app_context():
        old = store_report(db, person, now - timedelta(days=31))
        store_report(db, None, now - timedelta(days=40))  # nobody's report
        recent = store_report(db, person, now - timedelta(days=2))
        almost = store_report(db, person, now - timedelta(days=29, hours=23))
        bounce(db, person, now - timedelta(days=31), report_id=old)
        results = {r.key: r.due for r in retention.purge(db, now)}
    assert results["bounce_reports"] == 2
    kept = [row[0] for row in db.execute("SELECT id FROM bounce_reports ORDER BY id")]
    assert kept == [recent, almost]
    event = db.execute("SELECT severity, report_id FROM bounce_events").fetchone()
    assert tuple(event) == ("hard", None)


def test_erasure_takes_reports_and_events_with_the_person(app, db):
    (person,) = add_subscribers(app, db, [("jane@example.org", None, "en")])
    now = utcnow()
    with app.app_context():
        bounce(db, person, now, report_id=store_report(db, person, now))
        subscribers.erase(db, person, now)
    assert db.execute("SELECT count(*) FROM bounce_reports").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0


def test_bounced_subscribers_are_purged_three_years_after_the_bounce(app, db):
    people = [("jane@example.org", None, "en"), ("john@example.org", None, "en")]
    person, recent = add_subscribers(app, db, people)
    now = utcnow()
    with app.app_context():
        bounce(db, person, now - timedelta(days=3 * 366))
        bounce(db, recent, now - timedelta(days=3 * 365 - 2))
        results = {r.key: r.due for r in retention.purge(db, now)}
        assert results["subscribers"] == 1
        assert subscribers.get(db, person) is None
        assert subscribers.is_suppressed(db, "jane@example.org")
        assert subscribers.get(db, recent)["status"] == "bounced"


def test_article_15_copy_includes_bounce_events(app, db):
    (person,) = add_subscribers(app, db, [("jane@example.org", None, "en")])
    with app.app_context():
        bounce(db, person, utcnow())
        part = export.newsletter_part(db, "jane@example.org")
    assert [e["severity"] for e in part["bounce_events"]] == ["hard"]
    assert part["bounce_events"][0]["status_code"] == "5.1.1"


def test_privacy_page_lists_the_rule_in_both_languages(client):
    english = client.get("/privacy").get_data(as_text=True)
    assert "Delivery failure and spam complaint reports" in english
    french = client.get("/privacy?lang=fr").get_data(as_text=True)
    assert "Avis de non-distribution et signalements de spam" in french
