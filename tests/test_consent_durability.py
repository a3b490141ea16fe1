"""Consent changes and erasures are flushed to disk before they are acknowledged.

Each test records, on the connection doing the work, the SQL it runs (sqlite3's trace
callback) and every fdatasync of a file, in one sequence: the work's last COMMIT must
be followed by a flush of the WAL before the function (or the request) returns.
"""

import os
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import add_subscribers
from newsletter_helpers import import_confirmed, unsubscribe_path

from weprode import tokens
from weprode.db import durable_transaction, thread_connection, write_transaction
from weprode.newsletter import optout, signup, subscribers
from weprode.privacy import retention
from weprode.privacy.rights import records, service

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class DiskLog:
    """The statements a connection ran and the files flushed, in the order they happened."""

    def __init__(self, monkeypatch, db):
        self.db = db
        self.events = []
        real_fdatasync = os.fdatasync

        def fdatasync(fd):
            self.events.append(("fdatasync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fdatasync(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)
        db.conn.set_trace_callback(lambda sql: self.events.append(("sql", sql.strip())))

    def every_commit_flushed(self):
        """True when something committed and each COMMIT was followed by a flush of the
        WAL before the next statement: nothing acknowledged while only in the page cache."""
        wal = os.path.realpath(f"{self.db.path}-wal")
        unflushed, committed = False, False
        for kind, detail in self.events:
            if kind == "fdatasync" and detail == wal:
                unflushed = False
            elif unflushed:
                return False
            elif detail == "COMMIT":
                unflushed, committed = True, True
        return committed and not unflushed

    def flushed_before_returning(self):
        """True when something committed and the last COMMIT was flushed: work done in
        several transactions (an import's hidden chunks) is acknowledged only after its
        last one, and flushing the WAL then takes every earlier commit to disk too."""
        wal = os.path.realpath(f"{self.db.path}-wal")
        commits = [i for i, (_, detail) in enumerate(self.events) if detail == "COMMIT"]
        return bool(commits) and ("fdatasync", wal) in self.events[commits[-1] :]

    def close(self):
        self.db.conn.set_trace_callback(None)


@pytest.fixture
def disk_log(monkeypatch, db):
    log = DiskLog(monkeypatch, db)
    yield log
    log.close()


def one_subscriber(app, db, email="ada@example.org"):
    [subscriber_id] = add_subscribers(app, db, [(email, "Ada", "en")])
    return subscriber_id


def test_a_plain_write_is_not_flushed_so_the_check_can_fail(disk_log, db):
    with write_transaction(db):
        db.execute("UPDATE subscribers SET first_name = 'x'")
    assert not disk_log.every_commit_flushed()


def test_a_durable_transaction_nested_in_a_plain_one_flushes_the_outer_commit(disk_log, db):
    with write_transaction(db):
        with durable_transaction(db):
            db.execute("UPDATE subscribers SET first_name = 'x'")
        assert not any(kind == "fdatasync" for kind, _ in disk_log.events)
    assert disk_log.every_commit_flushed()
    disk_log.events.clear()
    with write_transaction(db):  # the next plain transaction is plain again
        db.execute("UPDATE subscribers SET first_name = 'y'")
    assert not disk_log.every_commit_flushed()


def test_a_rolled_back_durable_transaction_leaves_the_next_one_plain(disk_log, db):
    with pytest.raises(RuntimeError), durable_transaction(db):
        raise RuntimeError
    with write_transaction(db):
        db.execute("UPDATE subscribers SET first_name = 'x'")
    assert not disk_log.every_commit_flushed()


def test_one_click_unsubscribe_is_on_disk_before_the_200(app, client, db, monkeypatch):
    subscriber_id = one_subscriber(app, db)
    # The view works on this thread's connection: watch that one.
    log = DiskLog(monkeypatch, thread_connection(app.config["DATABASE"]))
    try:
        response = client.post(
            unsubscribe_path(app, subscriber_id, 42), data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
        assert log.every_commit_flushed()
        assert any("status = 'churned'" in sql for _, sql in log.events)
    finally:
        log.close()


def test_unsubscribe_and_its_undo_are_flushed(app, db, disk_log):
    subscriber_id = one_subscriber(app, db)
    with app.app_context():
        optout.unsubscribe(db, subscriber_id, "page", NOW)
        assert disk_log.every_commit_flushed()
        disk_log.events.clear()
        outcome, _ = optout.undo(db, tokens.make_undo_token(subscriber_id, NOW), NOW)
    assert outcome == optout.UndoOutcome.RESTORED
    assert disk_log.every_commit_flushed()


def test_confirming_a_signup_is_flushed(app, db, disk_log):
    request = signup.SignupRequest("new@example.org", "Ann", "en", "2026-11-v1", "/newsletter")
    with app.app_context():
        _kind, subscriber, _send_id = signup.prepare(db, request, NOW)
        subscriber = subscribers.get(db, subscriber["id"])
        disk_log.events.clear()
        token = tokens.make_confirm_token(subscriber["id"], NOW)
        outcome, _ = signup.confirm(db, token, NOW)
    assert outcome == signup.ConfirmOutcome.CONFIRMED
    assert disk_log.every_commit_flushed()


def test_staff_additions_and_confirmed_imports_are_flushed(app, db, disk_log):
    with app.app_context():
        subscribers.add_confirmed(db, "staff@example.org", "fair", NOW)
        assert disk_log.every_commit_flushed()
        disk_log.events.clear()
        assert import_confirmed(db, ["imported@example.org"], NOW).added == 1
    assert disk_log.flushed_before_returning()


def test_staff_erasure_is_flushed(app, db, disk_log):
    subscriber_id = one_subscriber(app, db)
    disk_log.events.clear()
    with app.app_context():
        assert subscribers.erase(db, subscriber_id, NOW)
    assert disk_log.every_commit_flushed()


@pytest.mark.parametrize("kind", ["erase", "object"])
def test_rights_erasure_and_objection_are_flushed(app, db, disk_log, kind):
    one_subscriber(app, db)
    with app.app_context():
        request_id = service.record_offline(db, "ada@example.org", kind, NOW)
        disk_log.events.clear()
        if kind == "erase":
            service.erase(db, request_id, NOW)
        else:
            service.object_to_marketing(db, request_id, NOW)
    assert disk_log.every_commit_flushed()
    assert records.get(db, request_id)["status"] == "completed"


def test_the_retention_purge_is_flushed(app, db, disk_log):
    subscriber_id = one_subscriber(app, db)
    with app.app_context():
        optout.unsubscribe(db, subscriber_id, "page", NOW - timedelta(days=4 * 366))
        disk_log.events.clear()
        results = retention.purge(db, NOW)
    assert {r.key: r.due for r in results}["subscribers"] == 1
    assert disk_log.every_commit_flushed()
