"""`GET /healthz`: 200 when the site can work, 503 with short reasons when it cannot."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from campaign_helpers import add_subscribers, new_campaign
from process_helpers import PROJECT_ROOT, flask_env

from weprode.campaigns import freeze, ledger, senders, worker_heartbeats
from weprode.db import connect, utcnow
from weprode.mail import messages, outbox
from weprode.operations import health

NOBODY = 65534
RUNNING_AS_ROOT = os.geteuid() == 0


def healthz(client):
    """The answer of /healthz: (status code, JSON body, response)."""
    response = client.get("/healthz")
    return response.status_code, response.get_json(), response


def wait_for(predicate, timeout=30.0):
    """Poll until `predicate()` is truthy; its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def flask_process(app, *arguments, **env):
    """`flask --app app ...` in a child process configured like the test app."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", *arguments],
        cwd=PROJECT_ROOT,
        env=flask_env(app, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def no_worker_needed(app):
    """Health without the worker check, to look at one other condition."""
    app.config["HEALTH_REQUIRE_WORKER"] = False
    return app


def test_ok_with_a_live_worker_then_failing_once_its_heartbeat_is_old(app, client):
    worker = flask_process(app, "campaigns", "worker", "--poll-seconds", "0.2")
    try:
        assert wait_for(lambda: healthz(client)[0] == 200), healthz(client)[1]
        status, body, response = healthz(client)
        assert body == {"status": "ok", "reasons": [], "warnings": []}
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "application/json"
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    app.config["WORKER_HEARTBEAT_MAX_AGE_SECONDS"] = 1
    assert wait_for(lambda: healthz(client)[0] == 503, timeout=10)
    status, body, _ = healthz(client)
    assert body["status"] == "failing"
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("campaign worker heartbeat is ")
    assert body["reasons"][0].endswith(" s old")


def test_no_worker_ever_is_a_reason_unless_the_deployment_has_none(app, client):
    status, body, _ = healthz(client)
    assert (status, body["reasons"]) == (503, ["no campaign worker has ever run"])
    app.config["HEALTH_REQUIRE_WORKER"] = False
    assert healthz(client)[:2] == (200, {"status": "ok", "reasons": [], "warnings": []})


def test_the_heartbeat_age_is_measured_against_now(app, db):
    now = utcnow()
    worker_heartbeats.record(db, now - timedelta(minutes=10), now - timedelta(hours=1))
    assert health.check(db, app.config, now).reasons == ["campaign worker heartbeat is 600 s old"]
    assert health.check(db, app.config, now - timedelta(minutes=9)).ok


def test_a_worker_forgets_heartbeats_nobody_refreshed_for_a_week(db):
    now = utcnow()
    db.execute(
        "INSERT INTO worker_heartbeats VALUES ('gone-host', 1, ?, ?)",
        [(now - timedelta(days=9)).isoformat(), (now - timedelta(days=8)).isoformat()],
    )
    worker_heartbeats.record(db, now, now)
    rows = list(db.query("SELECT host, pid FROM worker_heartbeats"))
    assert rows == [{"host": socket.gethostname(), "pid": os.getpid()}]


def test_a_campaign_whose_sender_was_killed_is_reported(no_worker_needed, client, db, mailbox):
    app = no_worker_needed
    add_subscribers(app, db, [(f"r{i:03d}@example.org", None, "en") for i in range(300)])
    campaign_id = new_campaign(db)
    sender = flask_process(
        app, "campaigns", "send", str(campaign_id), FLASK_CAMPAIGN_MESSAGES_PER_SECOND="100"
    )
    try:
        assert wait_for(lambda: len(mailbox.messages) >= 20)
        assert healthz(client)[0] == 200  # sending, with a live sender
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    assert ledger.get(db, campaign_id)["status"] == "sending"
    status, body, _ = healthz(client)
    assert status == 503
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith(
        f"campaign {campaign_id} is sending but no live sender has it"
    )


def test_a_campaign_nobody_holds_is_stuck_only_while_nothing_is_being_sent(app, db):
    now = utcnow().replace(microsecond=0)  # stored to the second
    waiting, busy = new_campaign(db), new_campaign(db)
    for campaign_id in (waiting, busy):
        freeze.start(db, campaign_id, now - timedelta(minutes=5))
    # The worker sends one campaign at a time: `waiting` is next while `busy` goes out.
    assert senders.take_over(db, busy, senders.new_sender_id(), now)
    assert senders.abandoned(db, now) == []
    db.execute("UPDATE campaigns SET sender_id = NULL WHERE id = ?", [busy])
    stuck = senders.abandoned(db, now + timedelta(minutes=1))
    assert [row["id"] for row in stuck] == [waiting, busy]
    assert stuck[0]["idle_for"] == timedelta(minutes=6)  # since its start
    assert stuck[1]["idle_for"] == timedelta(minutes=1)  # since its last heartbeat
    # Released a moment ago (waiting for retries between two passes): not stuck yet,
    # up to HEARTBEAT_TIMEOUT included.
    timeout = senders.HEARTBEAT_TIMEOUT
    assert [row["id"] for row in senders.abandoned(db, now + timeout)] == [waiting]
    later = now + timeout + timedelta(seconds=1)
    assert [row["id"] for row in senders.abandoned(db, later)] == [waiting, busy]


def test_an_outbox_backlog_fails_and_parked_mails_are_a_warning(no_worker_needed, client, db):
    app = no_worker_needed
    app.config["OUTBOX_BACKLOG_LIMIT"] = 2
    now = utcnow()
    with app.app_context():
        ids = [
            outbox.enqueue(
                db,
                "test",
                messages.build_message(f"p{i}@example.org", "Hi", "Hi", "<p>Hi</p>"),
                now,
            )
            for i in range(3)
        ]
    assert healthz(client)[:2] == (
        503,
        {"status": "failing", "reasons": ["3 outbox mails waiting (limit 2)"], "warnings": []},
    )
    with app.app_context():
        outbox.park(db, outbox.claim(db, ids[0], now), "refused for good", now)
    status, body, _ = healthz(client)
    assert status == 200
    assert body["warnings"] == ["1 outbox mails parked, see `flask outbox list`"]


def test_a_writer_holding_the_lock_fails_the_probe_quickly(no_worker_needed, client, app):
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        status, body, _ = healthz(client)
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503
    assert body["reasons"] == ["database write lock held by another writer for over 1 s"]
    assert elapsed < 3  # the probe does not wait out the 5 s busy timeout
    assert healthz(client)[0] == 200  # and it left no lock behind


def test_a_nearly_full_disk_fails(no_worker_needed, client, app):
    app.config["HEALTH_MIN_FREE_DISK_MB"] = 10**12
    status, body, _ = healthz(client)
    assert status == 503
    assert body["reasons"][0].startswith("only ")
    assert body["reasons"][0].endswith(" MB free on the database's disk (minimum 1000000000000 MB)")


def test_a_database_that_does_not_answer_stops_the_checks(app, tmp_path):
    unmigrated = connect(tmp_path / "empty.sqlite3")
    verdict = health.check(unmigrated, {**app.config, "DATABASE": ""}, utcnow())
    assert verdict.reasons == ["database does not answer: no such table: worker_heartbeats"]


def test_healthz_is_not_rate_limited_nor_in_the_sitemap(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    client = app.test_client()
    assert {client.get("/healthz").status_code for _ in range(5)} == {503}
    assert b"healthz" not in client.get("/sitemap.xml").data


# A database file the site may no longer write. As root, permission bits stop no
# write, so the app runs in a child process as `nobody` (setpriv), like test_storage.
READ_ONLY_AFTER_START = (
    "import json, os, sys\n"
    "from weprode import create_app\n"
    "from weprode.db import connect\n"
    "from weprode.migrations import apply_pending\n"
    "config = json.loads(sys.argv[1])\n"
    "app = create_app(config, instance_path=sys.argv[2])\n"
    "apply_pending(connect(config['DATABASE']))\n"
    "client = app.test_client()\n"
    "before = client.get('/healthz')\n"
    "os.chmod(config['DATABASE'], 0o444)\n"
    "after = client.get('/healthz')\n"
    "print(json.dumps([before.status_code, after.status_code, after.get_json()]))\n"
)


def test_a_database_turned_read_only_fails(app):
    if RUNNING_AS_ROOT and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot run the app as another user")
    base = Path(tempfile.mkdtemp(prefix="weprode-health-"))
    try:
        base.chmod(0o755)
        prefix = []
        if RUNNING_AS_ROOT:
            os.chown(base, NOBODY, NOBODY)
            prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        settings = {
            "TESTING": True,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "DATABASE": str(base / "site.sqlite3"),
            "HEALTH_REQUIRE_WORKER": False,
        }
        finished = subprocess.run(
            [*prefix, sys.executable, "-c", READ_ONLY_AFTER_START, json.dumps(settings)]
            + [str(base / "instance")],
            cwd=PROJECT_ROOT,
            env={**os.environ, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stderr
        before, after, body = json.loads(finished.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(base)
    assert (before, after) == (200, 503)
    assert body["reasons"] == ["this process may not write the database file"]
