"""`bounces ingest --mbox/--maildir` on real mailbox files, and reports read twice."""

import mailbox as mailboxes
import re

from test_deliverability_ingest import report_for, sent_campaign
from test_deliverability_reports import sample

from tests.campaign_helpers import add_subscribers, new_campaign
from weprode.campaigns import freeze, ledger
from weprode.db import utcnow
from weprode.deliverability import verp
from weprode.newsletter import subscribers


def without_message_id(raw):
    """The report with its own Message-Id removed (some MTAs send none)."""
    return re.sub(rb"(?im)^Message-Id:[^\n]*\n", b"", raw, count=1)


def events(db):
    return db.execute("SELECT count(*) FROM bounce_events").fetchone()[0]


def stored_reports(db):
    return db.execute("SELECT count(*) FROM bounce_reports").fetchone()[0]


def test_mbox_of_mixed_reports(app, db, mailbox, runner, tmp_path):
    (gone, angry, happy), _, envelopes, ids = sent_campaign(app, db, mailbox)
    bounce = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    folder = tmp_path / "bounces.mbox"
    box = mailboxes.mbox(folder)
    for raw in (
        bounce,
        report_for("yahoo_arf_complaint.eml", "angry@example.org", envelopes, ids),
        report_for("outlook_out_of_office.eml", "happy@example.org", envelopes, ids),
        bounce,  # the same report delivered twice
    ):
        box.add(raw)
    box.close()
    result = runner.invoke(args=["bounces", "ingest", "--mbox", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("1: bounce (dsn) g***@example.org via VERP tag")
    assert lines[1].startswith("2: complaint (arf) a***@example.org")
    assert lines[2] == "3: auto_reply (X-Auto-Response-Suppress): ignored"
    assert lines[3] == "4: bounce (dsn): already ingested (report 1); nothing changed"
    assert (stored_reports(db), events(db)) == (2, 2)
    with app.app_context():
        assert subscribers.get(db, gone)["status"] == "bounced"
        assert subscribers.get(db, angry)["status"] == "churned"
        assert subscribers.get(db, happy)["status"] == "active"


def test_maildir_and_reports_without_message_id(app, db, mailbox, runner, tmp_path):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    bounce = without_message_id(
        report_for("exim_user_unknown.eml", "gone@example.org", envelopes, ids)
    )
    soft = report_for("gmail_over_quota.eml", "gone@example.org", envelopes, ids)
    box = mailboxes.Maildir(tmp_path / "Maildir", create=True)
    for raw in (soft, bounce):
        box.add(raw)
    result = runner.invoke(args=["bounces", "ingest", "--maildir", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert result.output.count("via VERP tag") == 2, result.output
    assert (stored_reports(db), events(db)) == (2, 2)

    # Read again (the same Maildir, and the bounce once more from a file): the Message-Id,
    # or the hash of the bytes without one, says they were seen; nothing happens twice.
    path = tmp_path / "again.eml"
    path.write_bytes(bounce)
    again = runner.invoke(
        args=["bounces", "ingest", str(path), "--maildir", str(tmp_path / "Maildir")]
    )
    assert again.exit_code == 0, again.output
    assert again.output.count("already ingested") == 3, again.output
    assert (stored_reports(db), events(db)) == (2, 2)
    with app.app_context():
        assert subscribers.get(db, gone)["status"] == "bounced"


def test_a_changed_report_is_not_taken_for_the_same(app, db, mailbox, runner, tmp_path):
    _, _, envelopes, ids = sent_campaign(app, db, mailbox)
    first = without_message_id(
        report_for("qmail_user_unknown.eml", "gone@example.org", envelopes, ids)
    )
    second = first.replace(b"Subject:", b"X-Note: resent\nSubject:", 1)
    for name, raw in (("a.eml", first), ("b.eml", second)):
        (tmp_path / name).write_bytes(raw)
    result = runner.invoke(
        args=["bounces", "ingest", str(tmp_path / "a.eml"), str(tmp_path / "b.eml")]
    )
    assert result.exit_code == 0, result.output
    assert "already ingested" not in result.output
    assert stored_reports(db) == 2


def test_a_batch_that_passes_the_hard_bounce_limit_pauses_the_campaign(
    app, db, mailbox, runner, tmp_path
):
    app.config["BOUNCE_ADDRESS"] = "bounces@weprode.com"
    people = [(f"p{n:03d}@example.org", None, "en") for n in range(200)]
    add_subscribers(app, db, people)
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    # Sent (as far as the ledger knows) but still sending: the rate check applies.
    db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
    rows = list(
        db.query(
            "SELECT subscriber_id, s.email FROM deliveries JOIN subscribers s "
            "ON s.id = subscriber_id WHERE campaign_id = ? LIMIT 11",
            [campaign_id],
        )
    )
    box = mailboxes.mbox(tmp_path / "hard.mbox")
    with app.app_context():
        for number, row in enumerate(rows):
            sender = verp.envelope_sender("campaign", row["subscriber_id"], campaign_id)
            raw = sample("postfix_user_unknown.eml", verp=sender, email=row["email"])
            box.add(raw.replace(b"4F1B2C0A1@", f"{number}X@".encode()))  # each its own
    box.close()
    result = runner.invoke(args=["bounces", "ingest", "--mbox", str(tmp_path / "hard.mbox")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 11 and all("hard bounce 5.1.1" in line for line in lines)
    assert lines[-1].endswith("; campaign paused") and "paused" not in lines[-2]
    with app.app_context():
        campaign = ledger.get(db, campaign_id)
    assert campaign["status"] == "paused"
    assert "11 hard bounces in 200 attempts" in campaign["paused_reason"]


def test_same_message_id_but_another_body_is_another_report(app, db, mailbox, runner, tmp_path):
    (gone, angry, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    first = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    other = report_for("postfix_user_unknown.eml", "angry@example.org", envelopes, ids)
    resent = b"Received: from mx2.weprode.com by mx1.weprode.com;\n" + first
    paths = []
    for name, raw in (("a.eml", first), ("b.eml", other), ("c.eml", resent)):
        (tmp_path / name).write_bytes(raw)
        paths.append(str(tmp_path / name))
    result = runner.invoke(args=["bounces", "ingest", *paths])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "g***@example.org" in lines[0] and "a***@example.org" in lines[1]
    assert "already ingested (report 1)" in lines[2]  # the first one again, one more header
    assert (stored_reports(db), events(db)) == (2, 2)
