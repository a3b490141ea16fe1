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
from weprode.campaigns import freeze, ledger
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
        assert result.stored
        assert result.line == (
            "bounce (dsn): not attributed (altered or foreign VERP tag); nothing changed"
        )
        address_only = sample("postfix_user_unknown.eml", verp=BOUNCES, email="gone@example.org")
        # Another report (its own Message-Id), not the altered one read again.
        address_only = address_only.replace(b"4F1B2C0A1@", b"4F1B2C0A2@")
        result = ingest.ingest(db, address_only, utcnow())
        assert result.line == (
            "bounce (dsn): not attributed (no VERP tag or Message-ID of ours: an address alone "
            "proves nothing); nothing changed"
        )
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
        freeze.start(db, campaign_id, now)
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
        freeze.start(db, campaign_id, now)
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


def test_reports_that_are_no_bounce_nor_complaint_change_nothing(app, db, mailbox):
    (_, _, happy), _, envelopes, ids = sent_campaign(app, db, mailbox)
    bounce = report_for("postfix_user_unknown.eml", "happy@example.org", envelopes, ids)
    delivered = bounce.replace(b"Action: failed", b"Action: delivered").replace(
        b"Status: 5.1.1", b"Status: 2.0.0"
    )
    not_spam = report_for("outlook_jmrp_not_spam.eml", "happy@example.org", envelopes, ids)
    unrecognised = b"To: " + envelopes["happy@example.org"].encode() + b"\n\nThanks!\n"
    with app.app_context():
        lines = [ingest.ingest(db, raw, utcnow()).line for raw in (delivered, not_spam)]
        lines.append(ingest.ingest(db, unrecognised, utcnow()).line)
        assert lines == [
            "delivered (dsn): ignored",
            "not_a_complaint (arf): ignored",
            "unrecognised: ignored",
        ]
        assert subscribers.get(db, happy)["status"] == "active"
    assert db.execute("SELECT count(*) FROM bounce_reports").fetchone()[0] == 0


def test_the_line_about_the_person_decides_not_the_first_line(app, db, mailbox):
    (gone, _, _), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    # Someone else's soft failure listed first; the person's own line, in capitals.
    other = (
        b"Final-Recipient: rfc822; other@example.net\nAction: failed\nStatus: 5.2.2\n\n"
        b"Final-Recipient: rfc822; GONE@example.org"
    )
    raw = raw.replace(b"Final-Recipient: rfc822; gone@example.org", other)
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            f"bounce (dsn) g***@example.org via VERP tag, campaign {campaign_id}: "
            "hard bounce 5.1.1: subscriber bounced, address suppressed"
        )
        assert subscribers.get(db, gone)["status"] == "bounced"
    (stored,) = db.query("SELECT kind, subscriber_id, outcome, message FROM bounce_reports")
    assert stored == {
        "kind": "bounce",
        "subscriber_id": gone,
        "outcome": "hard bounce 5.1.1: subscriber bounced, address suppressed",
        "message": raw,
    }


def test_a_bounce_for_someone_erased_brings_nothing_back(app, db, mailbox):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    with app.app_context():
        subscribers.erase(db, gone, utcnow())
        result = ingest.ingest(db, raw, utcnow())
        assert result.stored
        assert result.line == (
            "bounce (dsn): not attributed (its delivery is gone (erased or purged)); "
            "nothing changed"
        )
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0
    (stored,) = db.query("SELECT subscriber_id FROM bounce_reports")
    assert stored["subscriber_id"] is None


def test_a_report_on_a_message_never_sent_to_that_person_changes_nothing(app, db, mailbox):
    (gone, _, happy), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    # A genuine VERP tag of a campaign this person was not sent.
    second = new_campaign(db)
    with app.app_context():
        app.config["BOUNCE_ADDRESS"] = BOUNCES
        from weprode.deliverability import verp

        tag = verp.envelope_sender("campaign", happy, second)
        raw = report_for("postfix_user_unknown.eml", "happy@example.org", envelopes, ids, verp=tag)
        result = ingest.ingest(db, raw, utcnow())
        assert "its delivery is gone" in result.line
        # A Message-ID of ours with the digest of another message.
        forged = ids["gone@example.org"].replace(f".{gone}.", f".{happy}.")
        raw = report_for(
            "exim_user_unknown.eml", "happy@example.org", envelopes, ids, verp=BOUNCES
        ).replace(ids["happy@example.org"].encode(), forged.encode())
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            "bounce (heuristic): not attributed (a Message-ID of ours that we never sent "
            "like this); nothing changed"
        )
        assert subscribers.get(db, happy)["status"] == "active"
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0
    (logged,) = [line for line in security_lines(app) if "kind=bounce_forged_message_id " in line]
    # Its first 40 characters, the digest redacted as a token.
    assert logged.endswith('message_id="<campaign...@weprode.c"')


def test_a_confirmation_mail_that_bounces_bounces_the_signup(app, db, client, mailbox):
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    sign_up(client)
    mailbox.wait_for(1)
    ((mail_from, rcpt),) = mailbox.envelopes
    raw = sample(
        "postfix_user_unknown.eml", verp=mail_from, message_id="<x@weprode.com>", email=rcpt[0]
    )
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            "bounce (dsn) j***@example.org via VERP tag: "
            "hard bounce 5.1.1: subscriber bounced, address suppressed"
        )
        person = subscribers.find_by_email(db, "jane.doe@example.org")
        assert person["status"] == "bounced"
    (event,) = db.query("SELECT mail_kind, campaign_id FROM bounce_events")
    assert event == {"mail_kind": "confirm", "campaign_id": None}


def events_of(db, person):
    return list(db.query("SELECT * FROM bounce_events WHERE subscriber_id = ?", [person]))


def test_a_complaint_report_is_recorded_against_its_campaign_and_report(app, db, mailbox):
    (_, angry, happy), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("yahoo_arf_complaint.eml", "angry@example.org", envelopes, ids)
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            f"complaint (arf) a***@example.org via VERP tag, campaign {campaign_id}: "
            "complaint: unsubscribed, address suppressed"
        )
        assert subscribers.get(db, angry)["status"] == "churned"
        assert subscribers.get(db, happy)["status"] == "active"
    (report_id,) = db.execute("SELECT id FROM bounce_reports").fetchone()
    (event,) = events_of(db, angry)
    assert {k: event[k] for k in ("severity", "mail_kind", "campaign_id", "report_id")} == {
        "severity": "complaint",
        "mail_kind": "campaign",
        "campaign_id": campaign_id,
        "report_id": report_id,
    }
    assert event["detail"] == "feedback type abuse"


def test_a_bounce_report_is_recorded_with_its_diagnostic_campaign_and_report(app, db, mailbox):
    (gone, _, _), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    with app.app_context():
        ingest.ingest(db, raw, utcnow())
    (report_id,) = db.execute("SELECT id FROM bounce_reports").fetchone()
    (event,) = events_of(db, gone)
    assert {k: event[k] for k in ("severity", "mail_kind", "campaign_id", "report_id")} == {
        "severity": "hard",
        "mail_kind": "campaign",
        "campaign_id": campaign_id,
        "report_id": report_id,
    }
    assert event["detail"].startswith("550 5.1.1 <gone@example.org>: Recipient address rejected")


def test_a_report_naming_another_address_is_read_from_its_first_line(app, db, mailbox):
    # The person's mailbox forwarded the message; the report names where it went.
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = sample(
        "gmail_over_quota.eml",
        verp=envelopes["gone@example.org"],
        message_id=ids["gone@example.org"],
        email="fwd@example.net",
    )
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow() + timedelta(days=1))
        assert result.line.endswith(": soft bounce 5.2.2 recorded (1 of 3 days)")
        assert subscribers.get(db, gone)["status"] == "active"


def test_a_message_id_of_ours_is_found_after_one_that_is_not(app, db, mailbox):
    (gone, happy, _), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    genuine = ids["gone@example.org"]
    forged = genuine.replace(f".{gone}.", f".{happy}.")
    raw = report_for(
        "exim_user_unknown.eml",
        "gone@example.org",
        envelopes,
        ids,
        verp=BOUNCES,
        message_id=f"{forged} {genuine}",
    )
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            f"bounce (heuristic) g***@example.org via Message-ID, campaign {campaign_id}: "
            "hard bounce 5.1.1: subscriber bounced, address suppressed"
        )
    (event,) = events_of(db, gone)
    assert (event["mail_kind"], event["campaign_id"]) == ("campaign", campaign_id)


def test_a_genuine_tag_is_found_after_an_altered_one(app, db, mailbox):
    (gone, _, _), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    good = envelopes["gone@example.org"]
    local, _, domain = good.partition("@")
    forged = local[:-3] + ("aaa" if not local.endswith("aaa") else "bbb") + "@" + domain
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    raw = f"X-Original-To: {forged}\n".encode() + raw  # the altered tag comes first
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line == (
            f"bounce (dsn) g***@example.org via VERP tag, campaign {campaign_id}: "
            "hard bounce 5.1.1: subscriber bounced, address suppressed"
        )
    assert not [line for line in security_lines(app) if "bounce_forged_tag" in line]
    # Only when no tag is genuine is the first logged.
    with app.app_context():
        ingest.ingest(db, raw.replace(good.encode(), forged.encode()), utcnow())
    (logged,) = [line for line in security_lines(app) if "bounce_forged_tag" in line]
    assert logged.endswith(f'tag="{forged.partition("+")[2][:12]}"')


def test_the_report_that_passes_the_limit_pauses_the_campaign(app, db, mailbox):
    (gone, _, _), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    # Still sending, 200 attempts in all, 10 of them hard bounces already.
    db.execute("UPDATE campaigns SET status = 'sending' WHERE id = ?", [campaign_id])
    now = utcnow()
    others = add_subscribers(app, db, [(f"o{n:03d}@example.org", None, "en") for n in range(197)])
    db["deliveries"].insert_all(
        {"campaign_id": campaign_id, "subscriber_id": other, "status": "sent"} for other in others
    )
    with app.app_context():
        for other in others[:10]:
            effects.apply_bounce(
                db,
                subscribers.get(db, other),
                "5.1.1",
                now,
                mail_kind="campaign",
                campaign_id=campaign_id,
                source="report",
            )
        raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
        result = ingest.ingest(db, raw, now)
    assert result.line.endswith(
        "hard bounce 5.1.1: subscriber bounced, address suppressed; campaign paused"
    )
    campaign = ledger.get(db, campaign_id)
    assert campaign["status"] == "paused"
    assert campaign["paused_reason"].endswith(
        "11 hard bounces in 200 attempts (5.5 %, more than 5%)"
    )


def test_a_report_that_is_not_utf_8_is_still_read(app, db, mailbox):
    # Mail servers write their own language in their own charset, undeclared.
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    raw = raw.replace(b"I'm sorry to have to inform you", b"Bo\xeete inconnue, d\xe9sol\xe9")
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
        assert result.line.endswith("hard bounce 5.1.1: subscriber bounced, address suppressed")
        assert subscribers.get(db, gone)["status"] == "bounced"
