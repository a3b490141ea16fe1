"""What a bounce or a complaint does, at the edges: the soft-bounce window, a success in
between, people who already left, and the campaign pause thresholds."""

from datetime import timedelta

from devtools.seed import join_main_topic
from tests.campaign_helpers import add_subscribers, new_campaign
from weprode.campaigns import ledger
from weprode.db import isoformat, utcnow
from weprode.deliverability import effects
from weprode.newsletter import optout, subscribers

REPORT = {"mail_kind": "campaign", "campaign_id": None, "source": "report"}


def one_person(app, db, email="p@example.org"):
    (person,) = add_subscribers(app, db, [(email, None, "en")])
    return person


def bounce(db, person, status, when, **changes):
    return effects.apply_bounce(db, subscribers.get(db, person), status, when, **REPORT | changes)


def events(db, person):
    return list(db.query("SELECT * FROM bounce_events WHERE subscriber_id = ?", [person]))


def test_soft_bounces_count_within_30_days_only(app, db):
    a, b = add_subscribers(app, db, [("a@example.org", None, "en"), ("b@example.org", None, "en")])
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        # Days 0, 1 and 29: three days within 30, hard.
        for days in (0, 1):
            bounce(db, a, "4.2.2", start + timedelta(days=days))
        assert "count as hard" in bounce(db, a, "4.2.2", start + timedelta(days=29))
        assert subscribers.get(db, a)["status"] == "bounced"
        # Days 0, 1 and 30: day 0 is 30 days old, out of the window.
        for days in (0, 1):
            bounce(db, b, "4.2.2", start + timedelta(days=days))
        line = bounce(db, b, "4.2.2", start + timedelta(days=30))
        assert line == "soft bounce 4.2.2 recorded (2 of 3 days)"
        assert subscribers.get(db, b)["status"] == "active"


def sent_delivery(db, person, when):
    """A campaign sent to `person` at `when`, as the ledger records it."""
    db.execute(
        "INSERT INTO deliveries (campaign_id, subscriber_id, status, sent_at) "
        "VALUES (?, ?, 'sent', ?)",
        [new_campaign(db), person, isoformat(when)],
    )


def test_a_delivery_that_went_well_restarts_the_soft_bounce_count(app, db):
    person = one_person(app, db)
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        sent_delivery(db, person, start - timedelta(hours=1))  # the latest one counts
        bounce(db, person, "4.2.2", start)
        bounce(db, person, "4.2.2", start + timedelta(days=1))
        sent_delivery(db, person, start + timedelta(days=1, hours=12))
        line = bounce(db, person, "4.2.2", start + timedelta(days=2))
        assert line == "soft bounce 4.2.2 recorded (1 of 3 days)"
        assert subscribers.get(db, person)["status"] == "active"


def test_a_delivery_that_bounced_or_went_to_someone_else_is_no_success(app, db):
    person = one_person(app, db)
    start = utcnow() + timedelta(days=1)
    campaign_id = new_campaign(db)
    with app.app_context():
        sent_delivery(db, one_person(app, db, "other@example.org"), start + timedelta(hours=1))
        db.execute(
            "INSERT INTO deliveries (campaign_id, subscriber_id, status, sent_at) "
            "VALUES (?, ?, 'sent', ?)",
            [campaign_id, person, isoformat(start)],
        )
        bounce(db, person, "4.2.2", start, campaign_id=campaign_id)
        bounce(db, person, "4.2.2", start + timedelta(days=1))
        line = bounce(db, person, "4.2.2", start + timedelta(days=2), campaign_id=campaign_id)
        assert line == (
            "soft bounces on 3 days count as hard: subscriber bounced, address suppressed"
        )
        assert subscribers.get(db, person)["status"] == "bounced"
        bounced = [e for e in subscribers.history(db, person) if e["kind"] == "bounced"]
        assert [(e["source"], e["campaign_id"]) for e in bounced] == [("bounce", campaign_id)]


def test_a_later_confirmation_restarts_the_soft_bounce_count(app, db):
    person = one_person(app, db)
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        bounce(db, person, "4.2.2", start)
        bounce(db, person, "4.2.2", start + timedelta(days=1))
        confirmed = isoformat(start + timedelta(days=1, hours=12))
        db.execute("UPDATE subscribers SET confirmed_at = ? WHERE id = ?", [confirmed, person])
        assert effects.last_success(db, person) == confirmed
        line = bounce(db, person, "4.2.2", start + timedelta(days=2))
        assert line == "soft bounce 4.2.2 recorded (1 of 3 days)"


def test_a_policy_refusal_or_a_success_code_changes_nothing(app, db):
    person = one_person(app, db)
    now = utcnow()
    with app.app_context():
        assert bounce(db, person, "2.0.0", now) == "status 2.0.0 is no failure; nothing changed"
        assert events(db, person) == []
        line = bounce(db, person, "5.7.26", now)
        assert line == "policy refusal 5.7.26 recorded; stays subscribed"
        assert [(e["severity"], e["detail"]) for e in events(db, person)] == [("policy", "")]
        assert subscribers.get(db, person)["status"] == "active"
        assert not subscribers.is_suppressed(db, "p@example.org")


def test_the_bounce_history_keeps_what_the_report_said(app, db):
    person = one_person(app, db)
    campaign_id = new_campaign(db)
    now = utcnow()
    with app.app_context():
        report_id = db.execute(
            "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outcome, message) "
            "VALUES (?, 'bounce', ?, '', x'00')",
            [isoformat(now), person],
        ).lastrowid
        bounce(
            db,
            person,
            "5.1.1",
            now,
            mail_kind="confirm",
            campaign_id=campaign_id,
            detail="x" * 400,
            report_id=report_id,
        )
    (event,) = events(db, person)
    assert {key: event[key] for key in event if key not in ("id", "detail")} == {
        "subscriber_id": person,
        "at": isoformat(now),
        "severity": "hard",
        "status_code": "5.1.1",
        "mail_kind": "confirm",
        "campaign_id": campaign_id,
        "source": "report",
        "report_id": report_id,
    }
    assert event["detail"] == "x" * 300  # bounded: a diagnostic is no place for a life story


def test_a_hard_bounce_of_someone_who_left_suppresses_and_keeps_their_status(app, db):
    person = one_person(app, db)
    now = utcnow()
    with app.app_context():
        optout.unsubscribe(db, person, "link", now)
        line = bounce(db, person, "5.1.1", now + timedelta(hours=1))
        assert line == "hard bounce 5.1.1: already not subscribed; address suppressed"
        row = subscribers.get(db, person)
        assert (row["status"], row["bounced_at"]) == ("churned", None)
        kinds = [event["kind"] for event in subscribers.history(db, person)]
        assert "bounced" not in kinds


def test_a_pending_signup_that_bounces_is_bounced(app, db):
    person = one_person(app, db)
    now = utcnow()
    with app.app_context():
        db.execute("UPDATE subscribers SET status = 'pending' WHERE id = ?", [person])
        line = bounce(db, person, "5.1.1", now)
        assert line == "hard bounce 5.1.1: subscriber bounced, address suppressed"
        row = subscribers.get(db, person)
        assert (row["status"], row["bounced_at"]) == ("bounced", isoformat(now))
        assert subscribers.suppression_sources(db, "p@example.org") == {"bounce"}
        assert "bounced" in [event["kind"] for event in subscribers.history(db, person)]


def test_a_complaint_from_someone_who_left_keeps_their_first_churn(app, db):
    person = one_person(app, db)
    campaign_id = new_campaign(db)
    left = utcnow()
    with app.app_context():
        optout.unsubscribe(db, person, "link", left)
        line = effects.apply_complaint(
            db,
            subscribers.get(db, person),
            left + timedelta(days=1),
            mail_kind="campaign",
            campaign_id=campaign_id,
            detail="feedback type abuse",
        )
        assert line == "complaint: had already unsubscribed; address suppressed"
        row = subscribers.get(db, person)
        assert (row["status"], row["churned_at"], row["churn_source"]) == (
            "churned",
            isoformat(left),
            "link",
        )
        assert row["churn_campaign_id"] is None
        assert [event["kind"] for event in subscribers.history(db, person)].count("churned") == 1
    (event,) = events(db, person)
    assert (event["severity"], event["source"], event["detail"]) == (
        "complaint",
        "report",
        "feedback type abuse",
    )


def many_people(db, count, now):
    """`count` active subscribers, inserted at once: ids."""
    stamp = isoformat(now)
    db["subscribers"].insert_all(
        {
            "email": f"n{n:05d}@example.org",
            "language": "en",
            "status": "active",
            "source": "staff: test",
            "created_at": stamp,
            "confirmed_at": stamp,
        }
        for n in range(count)
    )
    join_main_topic(db)
    return [row[0] for row in db.execute("SELECT id FROM subscribers ORDER BY id")]


def sending_campaign(db, people, now, attempts):
    """A sending campaign to `people`, the first `attempts` of them tried (sent)."""
    campaign_id = new_campaign(db)
    db.execute(
        "UPDATE campaigns SET status = 'sending', started_at = ? WHERE id = ?",
        [isoformat(now), campaign_id],
    )
    db["deliveries"].insert_all(
        {
            "campaign_id": campaign_id,
            "subscriber_id": person,
            "status": "sent" if n < attempts else "queued",
            "sent_at": isoformat(now) if n < attempts else None,
        }
        for n, person in enumerate(people)
    )
    return campaign_id


def test_fewer_than_200_attempts_never_pause_a_campaign(app, db):
    now = utcnow()
    people = many_people(db, 200, now)
    campaign_id = sending_campaign(db, people, now, attempts=199)
    with app.app_context():
        for person in people[:50]:
            bounce(db, person, "5.1.1", now, campaign_id=campaign_id)
        assert effects.pause_if_unsafe(db, campaign_id, now) is None
        # A refusal is an attempt too: the 200th pauses.
        db.execute(
            "UPDATE deliveries SET status = 'failed' WHERE campaign_id = ? AND status = 'queued'",
            [campaign_id],
        )
        reason = effects.pause_if_unsafe(db, campaign_id, now)
    assert reason == (
        "Paused: too many bounces or complaints: 50 hard bounces in 200 attempts "
        "(25.0 %, more than 5%)"
    )


def test_complaints_pause_past_one_in_a_thousand_only(app, db):
    now = utcnow()
    people = many_people(db, 1000, now)
    campaign_id = sending_campaign(db, people, now, attempts=1000)
    with app.app_context():

        def complain(person):
            effects.apply_complaint(
                db, subscribers.get(db, person), now, mail_kind="campaign", campaign_id=campaign_id
            )

        complain(people[0])
        complain(people[0])  # the same person twice is one complaint
        assert effects.pause_if_unsafe(db, campaign_id, now) is None  # 0.1 %: not past it
        complain(people[1])
        reason = effects.pause_if_unsafe(db, campaign_id, now)
    assert reason == (
        "Paused: too many bounces or complaints: 2 complaints in 1000 attempts "
        "(0.20 %, more than 0.1%)"
    )
    with app.app_context():
        for person in people[2:10]:
            complain(person)
    assert effects.campaign_pause_reason(db, campaign_id).endswith(
        "10 complaints in 1000 attempts (1.00 %, more than 0.1%)"
    )


def test_a_campaign_that_is_not_sending_is_left_alone(app, db):
    now = utcnow()
    people = many_people(db, 200, now)
    campaign_id = sending_campaign(db, people, now, attempts=200)
    with app.app_context():
        for person in people[:20]:
            bounce(db, person, "5.1.1", now, campaign_id=campaign_id)
        db.execute("UPDATE campaigns SET status = 'cancelled' WHERE id = ?", [campaign_id])
        assert effects.pause_if_unsafe(db, campaign_id, now) is None
        assert effects.pause_if_unsafe(db, None, now) is None
    row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    assert row[0] == "cancelled"


def test_a_signup_never_confirmed_is_bounced_by_soft_bounces_on_three_days(app, db):
    person = one_person(app, db)
    db.execute(
        "UPDATE subscribers SET status = 'pending', confirmed_at = NULL WHERE id = ?", [person]
    )
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        assert effects.last_success(db, person) == ""
        for days in (0, 1, 2):
            line = bounce(db, person, "4.2.2", start + timedelta(days=days), mail_kind="confirm")
        assert line == (
            "soft bounces on 3 days count as hard: subscriber bounced, address suppressed"
        )
        assert subscribers.get(db, person)["status"] == "bounced"


def test_a_complaint_unsubscribes_and_suppresses_at_once(app, db):
    person = one_person(app, db)
    bystander = one_person(app, db, "other@example.org")
    campaign_id = new_campaign(db)
    now = utcnow()
    with app.app_context():
        report_id = db.execute(
            "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outcome, message) "
            "VALUES (?, 'complaint', ?, '', x'00')",
            [isoformat(now), person],
        ).lastrowid
        line = effects.apply_complaint(
            db,
            subscribers.get(db, person),
            now,
            mail_kind="campaign",
            campaign_id=campaign_id,
            report_id=report_id,
        )
        assert line == "complaint: unsubscribed, address suppressed"
        row = subscribers.get(db, person)
        assert (row["status"], row["churned_at"], row["churn_source"]) == (
            "churned",
            isoformat(now),
            "complaint",
        )
        assert row["churn_campaign_id"] == campaign_id
        assert subscribers.suppression_sources(db, "p@example.org") == {"complaint"}
        churns = [e for e in subscribers.history(db, person) if e["kind"] == "churned"]
        assert [(e["source"], e["campaign_id"]) for e in churns] == [("complaint", campaign_id)]
        assert subscribers.get(db, bystander)["status"] == "active"
    (event,) = events(db, person)
    assert (event["severity"], event["report_id"], event["detail"]) == ("complaint", report_id, "")


def refusal_batch(db, campaign_id, people, reply):
    """The batch rows of `people` and a `failed` outcome with `reply` for each."""
    rows = [
        {"delivery_id": delivery_id, "id": person, "email": email}
        for delivery_id, person, email in db.execute(
            "SELECT d.id, s.id, s.email FROM deliveries d JOIN subscribers s "
            f"ON s.id = d.subscriber_id WHERE d.campaign_id = ? AND s.id IN "
            f"({', '.join('?' for _ in people)}) ORDER BY d.id",
            [campaign_id, *people],
        )
    ]
    return rows, [ledger.DeliveryOutcome(row["delivery_id"], "failed", None, reply) for row in rows]


def test_refusals_while_sending_are_campaign_bounces_and_pause_past_the_limit(app, db):
    now = utcnow()
    people = many_people(db, 200, now)
    campaign_id = sending_campaign(db, people, now, attempts=200)
    reply = "550 5.1.1 <n00000@example.org>: user unknown"
    with app.app_context():
        # (A deferral that uses up its retries is a soft bounce: test_deliverability_ingest.)
        rows, outcomes = refusal_batch(db, campaign_id, people[:10], reply)
        assert effects.record_refusals(db, campaign_id, rows, outcomes, now) is None  # 5 %
        rows, outcomes = refusal_batch(db, campaign_id, people[10:11], reply)
        reason = effects.record_refusals(db, campaign_id, rows, outcomes, now)
    assert reason == (
        "Paused: too many bounces or complaints: 11 hard bounces in 200 attempts "
        "(5.5 %, more than 5%)"
    )
    row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    assert row[0] == "paused"
    (event,) = events(db, people[10])
    assert {key: event[key] for key in ("severity", "mail_kind", "campaign_id", "source")} == {
        "severity": "hard",
        "mail_kind": "campaign",
        "campaign_id": campaign_id,
        "source": "smtp",
    }
    assert (event["status_code"], event["detail"]) == ("5.1.1", reply)
    with app.app_context():
        history = subscribers.history(db, people[10])
    assert [(e["source"], e["campaign_id"]) for e in history if e["kind"] == "bounced"] == [
        ("bounce", campaign_id)
    ]


def test_each_campaign_counts_its_own_attempts_and_bounces_only(app, db):
    now = utcnow()
    people = many_people(db, 200, now)
    small = sending_campaign(db, people[:150], now, attempts=150)
    other = sending_campaign(db, people[:100], now, attempts=100)
    big = sending_campaign(db, people, now, attempts=200)
    with app.app_context():
        for person in people[:20]:
            bounce(db, person, "5.1.1", now, campaign_id=small)
        for person in people[20:25]:
            bounce(db, person, "5.1.1", now, campaign_id=other)
        for person in people[100:110]:
            bounce(db, person, "5.1.1", now, campaign_id=big)
        # 150 attempts of its own: too few, whatever the others sent.
        assert effects.campaign_pause_reason(db, small) is None
        # 10 hard bounces of its own in 200: 5 %, whatever the others' bounces.
        assert effects.campaign_pause_reason(db, big) is None
