"""A real `flask campaigns send` of a few thousand recipients, stopped mid-send.

kill -9 (three times) then a restart: nobody missed, at most one message per session
(4) sent twice per kill, with the default 4 connections and batches of 50: each
accepted message is in the sender's journal at once (see campaigns/journal.py).
Recording a whole batch at its end sent about 150 twice per kill here (458-460 for the
three); committing every 8 messages, without the journal, 19-24 for the three.
SIGTERM then a restart: every message in flight is finished and recorded, the rows
never begun go back to the queue, the process exits 0, and nobody is missed or sent
twice. A dedicated sink counts each recipient's messages: the shared
one parses and files every message, too slow for thousands.
"""

import signal
import subprocess
import sys
import time

import pytest
from campaign_helpers import new_campaign
from process_helpers import PROJECT_ROOT, flask_env
from relay_helpers import start_counting_relay

from devtools.seed import join_main_topic
from weprode.campaigns import ledger, recorder
from weprode.db import connect, isoformat, utcnow

RECIPIENTS = 3000
MAX_UNRECORDED = 20  # the default CAMPAIGN_MAX_UNRECORDED


@pytest.fixture
def sink():
    controller, handler = start_counting_relay()
    yield handler
    controller.stop()


@pytest.fixture
def sending_app(make_app, sink):
    """An app that sends to the counting sink, its database and a campaign to everyone."""
    app = make_app(MAIL_PORT=sink.port)
    db = connect(app.config["DATABASE"])
    stamp = isoformat(utcnow())
    with db.conn:
        db.conn.executemany(
            "INSERT INTO subscribers (email, language, status, source, created_at, "
            "confirmed_at) VALUES (?, 'en', 'active', 'test', ?, ?)",
            [(f"r{n:05d}@example.org", stamp, stamp) for n in range(RECIPIENTS)],
        )
    join_main_topic(db)
    campaign_id = new_campaign(db)
    yield app, db, campaign_id
    db.close()


def send_process(app, campaign_id):
    """`flask campaigns send ID` in a child process with the default sending settings."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "campaigns", "send", str(campaign_id)],
        cwd=PROJECT_ROOT,
        env=flask_env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop_mid_send(process, sink, signum, once_received):
    """Send `signum` once the sink has `once_received` messages; return the exit code."""
    # A bound on the wait, not a speed check: on a loaded machine the child took over
    # 20 s to start and send its first 750 (the whole suite beside a 1,000,000 send).
    deadline = time.monotonic() + 90
    while sink.total() < once_received and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.005)
    process.send_signal(signum)
    _output, errors = process.communicate(timeout=15)
    assert once_received <= sink.total() < RECIPIENTS, "the signal landed mid-send"
    return process.returncode, errors.decode()


def finish(app, db, campaign_id):
    """Send the rest in a second process, as an operator (or systemd) restarting it."""
    second = send_process(app, campaign_id)
    _output, errors = second.communicate(timeout=30)
    assert second.returncode == 0, errors.decode()
    assert ledger.get(db, campaign_id)["status"] == "sent"
    assert ledger.figures(db, campaign_id)["sent"] == RECIPIENTS


def test_the_default_settings_keep_the_unrecorded_within_the_limit(app):
    assert app.config["CAMPAIGN_MAX_UNRECORDED"] == MAX_UNRECORDED
    # The recorder's capacity, plus one message per connection in flight.
    capacity = recorder.recorder_capacity(app.config)
    assert capacity + app.config["CAMPAIGN_SMTP_CONNECTIONS"] <= MAX_UNRECORDED


def test_kill_9_mid_send_sends_at_most_20_twice_per_kill_and_misses_nobody(sending_app, sink):
    app, db, campaign_id = sending_app
    kills = 3
    for kill in range(1, kills + 1):
        process = send_process(app, campaign_id)
        once_received = kill * RECIPIENTS // (kills + 1)
        returncode, _ = stop_mid_send(process, sink, signal.SIGKILL, once_received)
        assert returncode == -signal.SIGKILL
        assert ledger.get(db, campaign_id)["status"] == "sending"

    finish(app, db, campaign_id)
    assert len(sink.received) == RECIPIENTS  # nobody missed
    twice = sum(count - 1 for count in sink.received.values())
    # The journal keeps every accepted message a relay answered: only those whose
    # answer was not read yet go twice, one per session at most.
    assert twice <= kills * app.config["CAMPAIGN_SMTP_CONNECTIONS"] <= kills * MAX_UNRECORDED


def test_sigterm_finishes_what_is_in_flight_then_a_restart_sends_each_once(sending_app, sink):
    app, db, campaign_id = sending_app
    process = send_process(app, campaign_id)
    returncode, errors = stop_mid_send(process, sink, signal.SIGTERM, RECIPIENTS // 3)
    assert returncode == 0, errors
    figures = ledger.figures(db, campaign_id)
    # Everything that reached the relay is recorded; nothing is left claimed.
    assert figures["sending"] == 0
    assert figures["sent"] == sink.total() == len(sink.received)
    attempts = db.execute(
        "SELECT max(attempts) FROM deliveries WHERE campaign_id = ? AND status = 'queued'",
        [campaign_id],
    ).fetchone()[0]
    assert attempts == 0  # rows given back unsent did not spend an attempt

    finish(app, db, campaign_id)
    assert len(sink.received) == RECIPIENTS
    assert set(sink.received.values()) == {1}
