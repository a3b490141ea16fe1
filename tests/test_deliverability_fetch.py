"""`bounces fetch` against a real Dovecot: reports appended over IMAP, ingested, moved."""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from dovecot_helpers import running_dovecot
from postfix_helpers import remove_tree
from process_helpers import PROJECT_ROOT, flask_env
from test_deliverability_ingest import report_for, sent_campaign
from test_deliverability_readers import reports_for_everyone

from weprode.deliverability import imap
from weprode.newsletter import subscribers

PROCESSED = "Bounces done"  # a name with a space: quoted on the wire


@pytest.fixture(scope="module")
def dovecot():
    """One private Dovecot for the module; each test empties the mailbox first."""
    root = Path(tempfile.mkdtemp(prefix="weprode-dovecot-"))
    root.chmod(0o755)  # the login and mail processes run as other users
    try:
        with running_dovecot(root) as server:
            yield server
    finally:
        remove_tree(root)


@pytest.fixture
def imap_server(dovecot):
    """The server with an empty INBOX and no processed folder."""
    session = dovecot.session()
    if folder_size(session):
        session.select("INBOX")
        session.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        session.expunge()
    session.delete(imap.quoted(PROCESSED))
    session.logout()
    return dovecot


def folder_size(session, folder="INBOX"):
    status, data = session.select(imap.quoted(folder), readonly=True)
    return int(data[0]) if status == "OK" else None


def sizes(server):
    """(messages in INBOX, in the processed folder or None when it does not exist)."""
    session = server.session()
    try:
        return folder_size(session), folder_size(session, PROCESSED)
    finally:
        session.logout()


def append(server, *raws):
    """Deliver messages into INBOX the way a mail client or an MDA would: IMAP APPEND."""
    session = server.session()
    for raw in raws:
        status, data = session.append("INBOX", None, None, raw.replace(b"\n", b"\r\n"))
        assert status == "OK", data
    session.logout()


def use_mailbox(app, server, security="tls"):
    """Point the app at the private server, over IMAPS, STARTTLS or plain localhost."""
    port = server.imaps_port if security == "tls" else server.imap_port
    app.config.update(
        BOUNCE_IMAP_HOST="127.0.0.1",
        BOUNCE_IMAP_PORT=port,
        BOUNCE_IMAP_USER=server.user,
        BOUNCE_IMAP_PASSWORD=server.password,
        BOUNCE_IMAP_SECURITY=security,
        BOUNCE_IMAP_CA_FILE=str(server.cert),
        BOUNCE_IMAP_PROCESSED_FOLDER=PROCESSED,
    )


def test_fetch_ingests_and_moves_every_report(app, db, mailbox, runner, imap_server):
    (gone, angry, happy), campaign_id, envelopes, ids = sent_campaign(app, db, mailbox)
    append(
        imap_server,
        report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids),
        report_for("yahoo_arf_complaint.eml", "angry@example.org", envelopes, ids),
        report_for("auto_reply_rfc3834_fr.eml", "happy@example.org", envelopes, ids),
    )
    use_mailbox(app, imap_server)
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 0, result.output + imap_server.log()
    lines = result.output.splitlines()
    assert len(lines) == 3, result.output
    assert "1: bounce (dsn) g***@example.org via VERP tag" in lines[0]
    assert "hard bounce 5.1.1: subscriber bounced" in lines[0]
    assert "2: complaint (arf) a***@example.org" in lines[1]
    assert lines[2] == "3: auto_reply (Auto-Submitted): ignored"
    with app.app_context():
        assert subscribers.get(db, gone)["status"] == "bounced"
        assert subscribers.get(db, angry)["status"] == "churned"
        assert subscribers.get(db, happy)["status"] == "active"
    # All three are done with: moved out of INBOX into the folder fetch created.
    assert sizes(imap_server) == (0, 3)

    # A second poll finds nothing to do.
    again = runner.invoke(args=["bounces", "fetch"])
    assert (again.exit_code, again.output) == (0, "")


def test_a_report_that_cannot_be_stored_stays_for_the_next_poll(
    app, db, mailbox, runner, imap_server
):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    raw = report_for("postfix_user_unknown.eml", "gone@example.org", envelopes, ids)
    append(imap_server, raw)
    use_mailbox(app, imap_server, security="starttls")
    db.execute("ALTER TABLE bounce_events RENAME TO bounce_events_away")
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 75, result.output
    assert "NOT STORED" in result.output
    assert sizes(imap_server) == (1, 0)  # still waiting in INBOX

    db.execute("ALTER TABLE bounce_events_away RENAME TO bounce_events")
    # The same report also arrived twice meanwhile (a retrying MTA): stored once.
    append(imap_server, raw)
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "hard bounce 5.1.1" in lines[0]
    assert "already ingested (report" in lines[1] and "nothing changed" in lines[1]
    assert sizes(imap_server) == (0, 2)
    assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 1
    with app.app_context():
        assert subscribers.get(db, gone)["status"] == "bounced"


def test_plain_imap_only_to_this_machine(app, db, mailbox, runner, imap_server):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    append(imap_server, report_for("exim_user_unknown.eml", "gone@example.org", envelopes, ids))
    use_mailbox(app, imap_server, security="none")
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 0, result.output
    assert sizes(imap_server) == (0, 1)

    app.config["BOUNCE_IMAP_HOST"] = "imap.example.org"
    refused = runner.invoke(args=["bounces", "fetch"])
    assert refused.exit_code == 75
    assert "only allowed to a server on this machine" in refused.output


def test_wrong_password_or_untrusted_certificate_is_a_clear_error(
    app, runner, imap_server, tmp_path
):
    use_mailbox(app, imap_server)
    app.config["BOUNCE_IMAP_PASSWORD"] = "wrong"
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 75
    assert "cannot log in to 127.0.0.1" in result.output
    use_mailbox(app, imap_server)
    app.config["BOUNCE_IMAP_CA_FILE"] = ""  # the test's self-signed certificate is not trusted
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 75
    assert "CERTIFICATE_VERIFY_FAILED" in result.output


def test_the_worker_polls_the_mailbox_when_configured(app, db, mailbox, imap_server):
    (gone, _, _), _, envelopes, ids = sent_campaign(app, db, mailbox)
    append(imap_server, report_for("gmail_over_quota.eml", "gone@example.org", envelopes, ids))
    use_mailbox(app, imap_server)
    settings = {f"FLASK_{key}": str(app.config[key]) for key in app.config if "BOUNCE" in key}
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "campaigns", "worker"],
        cwd=PROJECT_ROOT,
        env=flask_env(app, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while sizes(imap_server) != (0, 1) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert sizes(imap_server) == (0, 1), output
    assert "bounce mailbox polled every 300 s" in output
    events = list(db.query("SELECT severity, status_code FROM bounce_events"))
    assert events == [{"severity": "soft", "status_code": "5.2.2"}]


def test_a_large_mailbox_is_parsed_by_worker_processes(app, db, runner, imap_server):
    # More than one fetch chunk (200): the workers start with the first and read both.
    people = [(f"p{n:03d}@example.org", None, "en") for n in range(250)]
    shapes = ["postfix_user_unknown.eml", "yahoo_arf_complaint.eml"]
    ids, raws = reports_for_everyone(app, db, people, shapes)
    append(imap_server, *raws)
    use_mailbox(app, imap_server)
    app.config["BOUNCE_INGEST_WORKERS"] = 2
    result = runner.invoke(args=["bounces", "fetch"])
    assert result.exit_code == 0, result.output + imap_server.log()
    lines = result.output.splitlines()
    assert len(lines) == 250
    kinds = ["bounce (dsn)", "complaint (arf)"]
    for number, line in enumerate(lines):  # in the mailbox's order
        assert line.startswith(f"{number + 1}: {kinds[number % 2]}"), line
    with app.app_context():
        statuses = [subscribers.get(db, subscriber_id)["status"] for subscriber_id in ids]
    assert statuses == ["bounced", "churned"] * 125
    assert sizes(imap_server) == (0, 250)
