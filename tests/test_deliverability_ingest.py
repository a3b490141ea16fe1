"""`bounces ingest` end to end: campaign out through the sink, reports back in, effects."""

import json
import subprocess
import sys
from datetime import timedelta

from process_helpers import PROJECT_ROOT, flask_env
from test_deliverability_reports import sample

from tests.campaign_helpers import add_subscribers, new_campaign, send
from tests.newsletter_helpers import link_path, sign_up
from tests.test_security_promises import security_lines
from weprode.campaigns import ledger
from weprode.db import utcnow
from weprode.deliverability import effects, ingest
from weprode.newsletter import subscribers

BOUNCES = "bounces@weprode.com"
PEOPLE = [("gone@example.org", "Gone", "en"), ("angry@example.org", "Angry", "fr")]
PEOPLE += [("happy@example.org", "Happy", "en")]


def sent_campaign(app, db, mailbox):
    """Three subscribers, one campaign sent through the sink with VERP on."""
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    ids = add_subscribers(app, db, PEOPLE)
    campaign_id = new_campaign(db)
    assert send(app, db, campaign_id) == "sent"
    mailbox.wait_for(3)
    envelopes = {rcpt[0]: mail_from for mail_from, rcpt in mailbox.envelopes}
    message_ids = {m["To"]: m["Message-ID"] for m in mailbox.messages}
    return ids, campaign_id, envelopes, message_ids


def report_for(name, email, envelopes, message_ids, **changes):
    values = {"verp": envelopes[email], "message_id": message_ids[email], "email": email}
    return sample(name, **{**values, **changes})


def test_dsn_and_complaint_end_to_end(app, db, mailbox, runner, tmp_path):
    (gone, angry, happy), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    dsn = tmp_path / "dsn.eml"
    dsn.write_bytes(report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids))
    result = runner.invoke(args=["bounces", "ingest", str(dsn)])
    assert result.exit_code == 0, result.output
    assert "bounce (dsn) g***@example.org via VERP tag" in result.output
    assert "hard bounce 5.1.1: subscriber bounced, address suppressed" in result.output

    # Postfix pipes the complaint to a real process's standard input.
    complaint = report_for("yahoo_arf_complaint.eml", "angry@example.org", envelopes, ids)
    child = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "bounces", "ingest"],
        input=complaint,
        cwd=PROJECT_ROOT,
        env=flask_env(app, FLASK_BOUNCE_ADDRESS=BOUNCES),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr.decode()
    assert b"complaint (arf) a***@example.org via VERP tag" in child.stdout
    assert b"unsubscribed, address suppressed" in child.stdout

    with app.app_context():
        gone_row, angry_row = subscribers.get(db, gone), subscribers.get(db, angry)
        assert gone_row["status"] == "bounced" and gone_row["bounced_at"]
        assert angry_row["status"] == "churned"
        assert angry_row["churn_source"] == "complaint" and angry_row["churned_at"]
        assert angry_row["churn_campaign_id"] == campaign_id
        assert subscribers.suppression_sources(db, "gone@example.org") == {"bounce"}
        assert subscribers.suppression_sources(db, "angry@example.org") == {"complaint"}
        assert subscribers.get(db, happy)["status"] == "active"
    events = list(db.query("SELECT subscriber_id, severity, status_code FROM bounce_events"))
    assert sorted(events, key=lambda e: e["subscriber_id"]) == [
        {"subscriber_id": gone, "severity": "hard", "status_code": "5.1.1"},
        {"subscriber_id": angry, "severity": "complaint", "status_code": None},
    ]
    assert db.execute("SELECT count(*) FROM bounce_reports").fetchone()[0] == 2

    exported = runner.invoke(args=["subscribers", "export", "--format", "json"])
    rows = {row["email"]: row for row in json.loads(exported.output)}
    assert rows["gone@example.org"]["status"] == "bounced"
    assert rows["gone@example.org"]["bounced_at"] == gone_row["bounced_at"]
    assert rows["angry@example.org"]["churn_source"] == "complaint"

    # The next campaign goes to the happy one only.
    mailbox.clear()
    second = new_campaign(db)
    assert send(app, db, second) == "sent"
    assert [rcpt for _, rcpt in mailbox.envelopes] == [["happy@example.org"]]


def test_message_id_alone_attributes_a_report(app, db, mailbox, runner, tmp_path):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("exim_user_unknown.eml", "gone@example.org", envelopes, ids, verp=BOUNCES)
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert "via Message-ID" in result.line and "hard bounce 5.1.1" in result.line
        assert subscribers.get(db, gone)["status"] == "bounced"


def test_forged_tag_or_address_alone_change_nothing_and_are_logged(app, db, mailbox):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    good = envelopes["gone@example.org"]
    local, _, domain = good.partition("@")
    forged = local[:-3] + ("aaa" if not local.endswith("aaa") else "bbb") + "@" + domain
    with app.app_context():
        raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
        altered = raw.replace(good.encode(), forged.encode())
        result = ingest.ingest(db, altered, utcnow())
        assert result.stored and "altered or foreign VERP tag" in result.line
        address_only = sample("postfix_user_unknown.eml", verp=BOUNCES, email="gone@example.org")
        # Another report (its own Message-Id), not the altered one read again.
        address_only = address_only.replace(b"4F1B2C0A1@", b"4F1B2C0A2@")
        result = ingest.ingest(db, address_only, utcnow())
        assert "an address alone proves nothing" in result.line
        assert subscribers.get(db, gone)["status"] == "active"
        assert not subscribers.is_suppressed(db, "gone@example.org")
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0
    logged = " ".join(security_lines(app))
    assert "kind=bounce_forged_tag" in logged and "kind=bounce_unattributed" in logged
    assert "gone@example.org" not in logged


def test_auto_replies_and_delays_are_ignored_with_exit_zero(app, db, mailbox, runner, tmp_path):
    _, _, envelopes, ids = sent_campaign(app, db, mailbox)
    files = []
    for name in ("auto_reply_rfc3834_fr.eml", "postfix_delayed.eml", "outlook_out_of_office.eml"):
        path = tmp_path / name
        path.write_bytes(report_for(name, "happy@example.org", envelopes, ids))
        files.append(str(path))
    result = runner.invoke(args=["bounces", "ingest", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ignored") == 3
    assert db.execute("SELECT count(*) FROM bounce_reports").fetchone()[0] == 0


def test_refusal_at_rcpt_is_a_bounce_at_once(app, db, mailbox):
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    gone, policy, later = add_subscribers(
        app,
        db,
        [("gone@example.org", None, "en"), ("policy@example.org", None, "en")]
        + [("later@example.org", None, "en")],
    )
    mailbox.refusals["gone@example.org"] = "550 5.1.1 <gone@example.org>: user unknown"
    mailbox.refusals["policy@example.org"] = "550 5.7.1 refused by policy"
    mailbox.refusals["later@example.org"] = "451 4.3.0 try again later"
    campaign_id = new_campaign(db)
    send(app, db, campaign_id)
    with app.app_context():
        assert subscribers.get(db, gone)["status"] == "bounced"
        assert subscribers.suppression_sources(db, "gone@example.org") == {"bounce"}
        assert subscribers.get(db, policy)["status"] == "active"
        assert subscribers.get(db, later)["status"] == "active"
    events = {
        row["subscriber_id"]: (row["severity"], row["source"], row["status_code"])
        for row in db.query("SELECT * FROM bounce_events")
    }
    assert events == {gone: ("hard", "smtp", "5.1.1"), policy: ("policy", "smtp", "5.7.1")}


def test_three_soft_bounces_on_three_days_count_as_hard(app, db):
    (person,) = add_subscribers(app, db, [("soft@example.org", None, "en")])
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        subscriber = subscribers.get(db, person)
        kwargs = {"mail_kind": "campaign", "campaign_id": None, "source": "report"}
        first = effects.apply_bounce(db, subscriber, "4.2.2", start, **kwargs)
        same_day = effects.apply_bounce(db, subscriber, "5.2.2", start, **kwargs)
        second = effects.apply_bounce(db, subscriber, "4.4.7", start + timedelta(days=2), **kwargs)
        assert "1 of 3 days" in first and "1 of 3 days" in same_day and "2 of 3" in second
        assert subscribers.get(db, person)["status"] == "active"
        third = effects.apply_bounce(db, subscriber, "4.4.7", start + timedelta(days=5), **kwargs)
        assert "count as hard" in third
        assert subscribers.get(db, person)["status"] == "bounced"


def test_soft_bounces_spread_over_more_than_30_days_do_not_add_up(app, db):
    (person,) = add_subscribers(app, db, [("slow@example.org", None, "en")])
    start = utcnow() + timedelta(days=1)
    with app.app_context():
        subscriber = subscribers.get(db, person)
        kwargs = {"mail_kind": "campaign", "campaign_id": None, "source": "report"}
        for days in (0, 20, 40):
            effects.apply_bounce(db, subscriber, "4.2.2", start + timedelta(days=days), **kwargs)
        assert subscribers.get(db, person)["status"] == "active"


def test_campaign_pauses_past_five_percent_hard_bounces(app, db):
    people = [(f"p{n:03d}@example.org", None, "en") for n in range(200)]
    ids = add_subscribers(app, db, people)
    campaign_id = new_campaign(db)
    now = utcnow()
    with app.app_context():
        ledger.start(db, campaign_id, now)
        db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
        kwargs = {"mail_kind": "campaign", "campaign_id": campaign_id, "source": "report"}
        for subscriber_id in ids[:10]:
            effects.apply_bounce(db, subscribers.get(db, subscriber_id), "5.1.1", now, **kwargs)
        assert effects.pause_if_unsafe(db, campaign_id, now) is None  # 10 of 200: 5 %
        effects.apply_bounce(db, subscribers.get(db, ids[10]), "5.1.1", now, **kwargs)
        reason = effects.pause_if_unsafe(db, campaign_id, now)
        assert reason and "11 hard bounces in 200 attempts" in reason
        assert ledger.get(db, campaign_id)["status"] == "paused"
        assert ledger.get(db, campaign_id)["paused_reason"] == reason
        ledger.resume(db, campaign_id)  # staff can carry on
        assert ledger.get(db, campaign_id)["status"] == "sending"


def test_one_complaint_in_200_pauses_the_campaign(app, db):
    ids = add_subscribers(app, db, [(f"c{n:03d}@example.org", None, "en") for n in range(200)])
    campaign_id = new_campaign(db)
    now = utcnow()
    with app.app_context():
        ledger.start(db, campaign_id, now)
        db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
        effects.apply_complaint(
            db, subscribers.get(db, ids[0]), now, mail_kind="campaign", campaign_id=campaign_id
        )
        reason = effects.pause_if_unsafe(db, campaign_id, now)
        assert reason and "1 complaints in 200 attempts" in reason


def test_storage_failure_exits_non_zero_so_the_mta_retries(app, db, mailbox, runner, tmp_path):
    _, _, envelopes, ids = sent_campaign(app, db, mailbox)
    path = tmp_path / "dsn.eml"
    path.write_bytes(report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids))
    db.execute("DROP TABLE bounce_events")  # storing cannot succeed
    result = runner.invoke(args=["bounces", "ingest", str(path)])
    assert result.exit_code == 75, result.output
    assert "NOT STORED" in result.output


def test_only_the_persons_own_double_opt_in_lifts_a_bounce(app, db, client, mailbox):
    (person,) = add_subscribers(app, db, [("jane.doe@example.org", None, "en")])
    with app.app_context():
        effects.apply_bounce(
            db,
            subscribers.get(db, person),
            "5.1.1",
            utcnow(),
            mail_kind="campaign",
            campaign_id=None,
            source="report",
        )
        assert subscribers.get(db, person)["status"] == "bounced"
    sign_up(client)
    response = client.post(link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/"))
    assert response.status_code < 400
    with app.app_context():
        row = subscribers.get(db, person)
        assert (row["status"], row["bounced_at"]) == ("active", None)
        assert not subscribers.is_suppressed(db, "jane.doe@example.org")


def test_a_deferral_that_uses_up_its_retries_is_a_soft_bounce(app, db, mailbox):
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    app.config["CAMPAIGN_MAX_ATTEMPTS"] = 2
    (full, fine) = add_subscribers(
        app, db, [("full@example.org", None, "en"), ("fine@example.org", None, "en")]
    )
    mailbox.refusals["full@example.org"] = "452 4.2.2 <full@example.org>: mailbox full"
    mailbox.refusals["fine@example.org"] = "451 4.3.0 try again later"  # not a throttle
    campaign_id = new_campaign(db)
    assert send(app, db, campaign_id) == "sending"  # both wait for their retry
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0

    del mailbox.refusals["fine@example.org"]  # accepted at the second try
    db.execute("UPDATE deliveries SET next_attempt_at = NULL WHERE campaign_id = ?", [campaign_id])
    assert send(app, db, campaign_id, start=False) == "sent"
    events = list(
        db.query("SELECT subscriber_id, severity, source, status_code, detail FROM bounce_events")
    )
    assert len(events) == 1
    assert events[0]["subscriber_id"] == full
    assert (events[0]["severity"], events[0]["source"], events[0]["status_code"]) == (
        "soft",
        "smtp",
        "4.2.2",
    )
    assert events[0]["detail"].startswith("deferred 2 times, gave up: 452 4.2.2")
    with app.app_context():
        assert subscribers.get(db, full)["status"] == "active"  # one soft bounce is not enough
        assert subscribers.get(db, fine)["status"] == "active"
