"""Imports commit in chunks yet stay all-or-nothing: kill -9, resume, roll back, one-click."""

import io
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from newsletter_helpers import unsubscribe_path
from process_helpers import PROJECT_ROOT, flask_env

from weprode.campaigns import audiences
from weprode.db import utcnow
from weprode.newsletter import export, importing, search, signup, stats, subscribers
from weprode.operations import doctor

ADDRESSES = [f"person{n:04d}@example.org" for n in range(600)]
CHUNK = 100
SOURCE, LEGAL_BASIS = "Fair 2026", "consent collected at the fair"


def write_file(tmp_path, addresses):
    path = tmp_path / "list.csv"
    path.write_text("email,first_name\n" + "".join(f"{a},Name\n" for a in addresses))
    return path


def import_process(app, path):
    """`flask subscribers import` in a child process, pausing between small chunks."""
    env = flask_env(app, FLASK_IMPORT_CHUNK_ROWS=str(CHUNK), FLASK_IMPORT_CHUNK_PAUSE_SECONDS="0.3")
    command = ["subscribers", "import", str(path), "--confirmed", "--source", SOURCE]
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", *command, "--legal-basis", LEGAL_BASIS],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def import_addresses(connection, addresses, mode="confirmed", progress=None):
    """Import one address a line (inside an app context); returns the report."""
    return importing.import_subscribers(
        connection,
        io.StringIO("email\n" + "\n".join(addresses)),
        source=SOURCE,
        legal_basis=LEGAL_BASIS,
        mode=mode,
        actor="tester",
        now=utcnow(),
        progress=progress,
    )


def hidden_records(db):
    return db.execute(
        f"SELECT count(*) FROM subscribers WHERE NOT {subscribers.VISIBLE}"
    ).fetchone()[0]


def what_people_see(db):
    """Everything the rule covers: counts, the audience, search, the export."""
    exported = [row["email"] for row in export.export_rows(db)]
    found = search.search(db, search.SubscriberFilter(query="person")).rows
    return {
        "counts": stats.counts_by_status(db),
        "audience": audiences.counts(db, "all", ())["all"]["total"],
        "found": len(found),
        "exported": sorted(exported),
    }


@pytest.fixture
def killed_import(app, db, tmp_path):
    """An import of 600 addresses killed with SIGKILL after at least two chunks.

    One address of the file is already a pending subscriber (a record the import
    changes); returns (import id, what people saw before, that subscriber's id).
    """
    with app.app_context():
        signup.prepare(
            db,
            signup.SignupRequest(ADDRESSES[-1], None, "en", signup.CURRENT_CONSENT_VERSION, None),
            utcnow(),
        )
    pending = subscribers.find_by_email(db, ADDRESSES[-1])
    before = what_people_see(db)
    child = import_process(app, write_file(tmp_path, ADDRESSES))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = db.execute("SELECT id, committed_entries FROM imports").fetchone()
        if row is not None and row[1] >= 2 * CHUNK:
            break
        assert child.poll() is None, child.stderr.read().decode()
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    import_id, committed = db.execute("SELECT id, committed_entries FROM imports").fetchone()
    assert 2 * CHUNK <= committed < len(ADDRESSES), "killed mid-way"
    assert hidden_records(db) == committed  # written, but hidden
    assert what_people_see(db) == before
    assert subscribers.get(db, pending["id"])["status"] == "pending"
    assert importing.batches.get(db, import_id)["status"] == "committing"
    return import_id, before, pending["id"]


def test_killed_import_shows_nothing_then_resume_publishes_all_of_it(
    app, db, runner, killed_import
):
    import_id, before, pending_id = killed_import
    [finding] = doctor.stopped_imports(db, utcnow())
    assert (
        finding.verdict == doctor.Verdict.FAIL and f"import resume {import_id}" in finding.message
    )

    result = runner.invoke(args=["import", "resume", str(import_id)])

    assert result.exit_code == 0, result.output
    assert f"import {import_id} done: added {len(ADDRESSES)}" in result.output
    seen = what_people_see(db)
    assert seen["counts"]["active"] == before["counts"]["active"] + len(ADDRESSES)
    assert seen["counts"]["pending"] == before["counts"]["pending"] - 1
    assert seen["audience"] == len(ADDRESSES) and seen["exported"] == sorted(ADDRESSES)
    assert subscribers.get(db, pending_id)["status"] == "active"
    consents = db.execute("SELECT count(*) FROM consents WHERE method = 'import'").fetchone()[0]
    assert consents == len(ADDRESSES)  # one proof each, none twice after the resume
    events = db.execute("SELECT count(*) FROM subscriber_events WHERE kind = 'imported'")
    assert events.fetchone()[0] == len(ADDRESSES)
    record = importing.batches.get(db, import_id)
    assert (record["status"], record["added"]) == ("done", len(ADDRESSES))
    assert db.execute("SELECT count(*) FROM import_rows").fetchone()[0] == 0
    assert doctor.stopped_imports(db, utcnow()) == []
    assert runner.invoke(args=["import", "rollback", str(import_id)]).exit_code == 1


def test_killed_import_rolls_back_as_a_whole(app, db, runner, killed_import):
    import_id, before, pending_id = killed_import

    result = runner.invoke(args=["import", "rollback", str(import_id)])

    assert result.exit_code == 0, result.output
    assert what_people_see(db) == before
    assert (
        db.execute("SELECT count(*) FROM subscribers WHERE import_id IS NOT NULL").fetchone()[0]
        == 0
    )
    assert subscribers.get(db, pending_id)["status"] == "pending"
    assert db.execute("SELECT count(*) FROM consents").fetchone()[0] == 0
    assert (
        db.execute("SELECT count(*) FROM subscriber_events WHERE kind = 'imported'").fetchone()[0]
        == 0
    )
    assert db.execute("SELECT count(*) FROM import_rows").fetchone()[0] == 0
    assert importing.batches.get(db, import_id)["status"] == "rolled_back"
    assert runner.invoke(args=["import", "resume", str(import_id)]).exit_code == 1
    # The file can simply be imported again.
    with app.app_context():
        report = import_addresses(db, ADDRESSES)
    assert report.added == len(ADDRESSES)


def test_the_worker_finishes_an_import_whose_process_died(app, db, killed_import):
    import_id, before, _pending_id = killed_import
    with app.app_context():
        assert importing.recover(db, utcnow()) == [(import_id, "finished")]
        assert importing.recover(db, utcnow()) == []
    assert what_people_see(db)["audience"] == len(ADDRESSES)


def run_import_in_thread(app, addresses, mode="confirmed"):
    """Start an import on its own connection and thread that stops after its first chunk.

    Returns (thread, first chunk committed event, go-on event, result holder).
    """
    committed, go_on, result = threading.Event(), threading.Event(), {}
    rows = len(addresses)

    def progress(done, total):
        # Past the reading pass: a chunk has just been committed, no transaction is open.
        if rows < done < 2 * rows and not committed.is_set():
            committed.set()
            assert go_on.wait(30)

    def work():
        from weprode.db import connect

        connection = connect(app.config["DATABASE"])
        try:
            with app.app_context():
                result["report"] = import_addresses(connection, addresses, mode, progress)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    assert committed.wait(30)
    return thread, go_on, result


def test_one_click_completes_while_an_import_is_in_progress(app, db, client):
    app.config["IMPORT_CHUNK_ROWS"] = CHUNK
    with app.app_context():
        leaver, _ = subscribers.add_confirmed(db, "leaver@example.org", "test", utcnow())
    thread, go_on, result = run_import_in_thread(app, ADDRESSES)
    try:
        response = client.post(
            unsubscribe_path(app, leaver), data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
        # The unsubscribe is on record while the import is still mid-way.
        assert subscribers.get(db, leaver)["status"] == "churned"
        [record] = importing.batches.recent(db)
        assert record["status"] == "committing"
        assert CHUNK <= record["committed_entries"] < len(ADDRESSES)
        assert what_people_see(db)["audience"] == 0
    finally:
        go_on.set()
        thread.join(60)
    assert result["report"].added == len(ADDRESSES)
    assert what_people_see(db)["audience"] == len(ADDRESSES)


def test_a_signup_during_an_import_takes_the_address_over(app, db, mailbox):
    app.config["IMPORT_CHUNK_ROWS"] = CHUNK
    thread, go_on, result = run_import_in_thread(app, ADDRESSES)
    try:
        hidden = hidden_records(db)
        assert hidden >= CHUNK
        with app.app_context():
            request = signup.SignupRequest(
                ADDRESSES[0], None, "en", signup.CURRENT_CONSENT_VERSION, None
            )
            kind, subscriber, _send_id = signup.prepare(db, request, utcnow())
        assert kind == "confirm" and subscriber["status"] == "pending"
        assert hidden_records(db) == hidden - 1
    finally:
        go_on.set()
        thread.join(60)
    assert result["report"].added == len(ADDRESSES) - 1
    assert subscribers.find_by_email(db, ADDRESSES[0])["status"] == "pending"
    assert what_people_see(db)["audience"] == len(ADDRESSES) - 1


def test_staff_page_shows_an_unfinished_import_with_its_progress(app, db, staff_client):
    app.config["IMPORT_CHUNK_ROWS"] = CHUNK
    thread, go_on, _result = run_import_in_thread(app, ADDRESSES)
    try:
        html = staff_client.get("/admin/subscribers/imports").get_data(as_text=True)
        assert "importing" in html and 'http-equiv="refresh"' in html
        [record] = importing.batches.recent(db)
        assert 0 < record["committed_entries"] < len(ADDRESSES)
        progress = f'<progress max="{len(ADDRESSES)}" value="{record["committed_entries"]}"'
        assert progress in html
    finally:
        go_on.set()
        thread.join(60)
    html = staff_client.get("/admin/subscribers/imports").get_data(as_text=True)
    assert "<progress" not in html and "refresh" not in html
    assert f"<td>{len(ADDRESSES)}</td>" in html  # added, once done


def test_a_bulk_writer_sees_a_writer_queued_in_another_process(app, db, tmp_path):
    """`give_way` answers False while another process waits for the write lock."""
    lock = db.write_lock
    assert lock.give_way(0)  # nobody queued
    waiter = (
        "import sys; from weprode.db import write_lock; "
        "lock = write_lock(sys.argv[1]); lock.__enter__(); print('got it', flush=True)"
    )
    with lock:
        child = subprocess.Popen(
            [sys.executable, "-c", waiter, db.path], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while lock.give_way(0) and time.monotonic() < deadline:
            assert child.poll() is None
            time.sleep(0.01)
        assert not lock.give_way(0)  # the child is queued behind us
    assert child.stdout.readline() == "got it\n"
    assert child.wait(30) == 0
    assert lock.give_way(0)


def test_double_opt_in_in_several_chunks_mails_each_address_once(app, db, mailbox):
    app.config["IMPORT_CHUNK_ROWS"] = 2
    with app.app_context():
        signup.prepare(
            db,
            signup.SignupRequest(
                "old@example.org", None, "en", signup.CURRENT_CONSENT_VERSION, None
            ),
            utcnow() - timedelta(hours=1),
        )
        mailbox.wait_for(0)
        addresses = [f"d{n}@example.org" for n in range(5)] + ["old@example.org"]
        report = import_addresses(db, addresses, "double-opt-in")
    assert (report.added, report.mails_sent, report.mails_failed) == (6, 6, 0)
    received = [message["To"] for message in mailbox.wait_for(6)]
    assert sorted(received) == sorted(addresses)
    statuses = {subscribers.find_by_email(db, a)["status"] for a in addresses}
    assert statuses == {"pending"}
    assert db.execute("SELECT count(*) FROM import_rows").fetchone()[0] == 0
    assert importing.batches.recent(db)[0]["status"] == "done"


def test_the_worker_deletes_staged_rows_an_ended_import_left_behind(app, db):
    """A process that died between publishing an import and clearing its staged rows."""
    with app.app_context():
        report = import_addresses(db, ["left@example.org"])
        db.execute(
            "INSERT INTO import_rows (import_id, position, line, email) "
            "VALUES (?, 1, 2, 'left@example.org')",
            [report.import_id],
        )
        db.conn.commit()
        assert importing.recover(db, utcnow()) == []
    assert db.execute("SELECT count(*) FROM import_rows").fetchone()[0] == 0
    assert subscribers.find_by_email(db, "left@example.org")["status"] == "active"
