"""A real `flask campaigns send` of a few thousand recipients, stopped mid-send.

Each with one sending process and with two (CAMPAIGN_SENDER_PROCESSES; a kill -9 of
one of the two alone, too). kill -9 (three times) then a restart: nobody missed, at
most one message per session (4 per process) sent twice per kill, with the default 4
connections and batches of 50: each accepted message is in the sender's journal at
once (see campaigns/journal.py). Recording a whole batch at its end sent about 150
twice per kill here (458-460 for the three); committing every 8 messages, without
the journal, 19-24 for the three. SIGTERM then a restart: every message in flight is
finished and recorded, the rows never begun go back to the queue, the process exits
0, and nobody is missed or sent twice. A dedicated sink counts each recipient's
messages: the shared one parses and files every message, too slow for thousands.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign
from process_helpers import PROJECT_ROOT, flask_env
from relay_helpers import start_counting_relay

from weprode.campaigns import ledger, recorder
from weprode.db import connect

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
    add_readers_in_bulk(db, [f"r{n:05d}@example.org" for n in range(RECIPIENTS)])
    campaign_id = new_campaign(db)
    yield app, db, campaign_id
    db.close()


def send_process(app, campaign_id, processes=1):
    """`flask campaigns send ID` in a child process with the default sending settings,
    sending from `processes` processes."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "campaigns", "send", str(campaign_id)],
        cwd=PROJECT_ROOT,
        env=flask_env(app, FLASK_CAMPAIGN_SENDER_PROCESSES=str(processes)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def sending_children(pid):
    """The pids of the sending processes `pid` forked (Linux /proc)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


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


def finish(app, db, campaign_id, processes=1):
    """Send the rest in a second process, as an operator (or systemd) restarting it."""
    second = send_process(app, campaign_id, processes)
    _output, errors = second.communicate(timeout=30)
    assert second.returncode == 0, errors.decode()
    assert ledger.get(db, campaign_id)["status"] == "sent"
    assert ledger.figures(db, campaign_id)["sent"] == RECIPIENTS


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_the_default_settings_keep_the_unrecorded_within_the_limit(app, processes):
    """Without a journal (disk full) a kill -9 resends what is unrecorded: every
    sending process's recorder capacity plus one message per connection in flight."""
    assert app.config["CAMPAIGN_MAX_UNRECORDED"] == MAX_UNRECORDED
    config = {**app.config, "CAMPAIGN_SENDER_PROCESSES": processes}
    capacity = recorder.recorder_capacity(config)
    per_process = capacity + app.config["CAMPAIGN_SMTP_CONNECTIONS"]
    assert processes * per_process <= MAX_UNRECORDED


@pytest.mark.parametrize("processes", [1, 2])
def test_kill_9_mid_send_sends_at_most_20_twice_per_kill_and_misses_nobody(
    sending_app, sink, processes
):
    """With several sending processes the kill hits the holder, as systemd's or an
    operator's would; its sending processes die with it (PR_SET_PDEATHSIG)."""
    app, db, campaign_id = sending_app
    kills = 3
    for kill in range(1, kills + 1):
        process = send_process(app, campaign_id, processes)
        once_received = kill * RECIPIENTS // (kills + 1)
        returncode, _ = stop_mid_send(process, sink, signal.SIGKILL, once_received)
        assert returncode == -signal.SIGKILL
        assert ledger.get(db, campaign_id)["status"] == "sending"

    finish(app, db, campaign_id, processes)
    assert len(sink.received) == RECIPIENTS  # nobody missed
    twice = sum(count - 1 for count in sink.received.values())
    # The journal keeps every accepted message a relay answered: only those whose
    # answer was not read yet go twice, one per session at most.
    sessions = processes * app.config["CAMPAIGN_SMTP_CONNECTIONS"]
    assert twice <= kills * sessions <= kills * MAX_UNRECORDED


def test_kill_9_of_one_sending_process_loses_nobody_and_the_send_carries_on(sending_app, sink):
    app, db, campaign_id = sending_app
    process = send_process(app, campaign_id, processes=2)
    deadline = time.monotonic() + 90
    while sink.total() < RECIPIENTS // 3 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.005)
    [victim, survivor] = sending_children(process.pid)
    os.kill(victim, signal.SIGKILL)
    _output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()  # the holder put the victim's rows back
    assert ledger.get(db, campaign_id)["status"] == "sent"
    assert ledger.figures(db, campaign_id)["sent"] == RECIPIENTS
    assert len(sink.received) == RECIPIENTS  # nobody missed
    twice = sum(count - 1 for count in sink.received.values())
    assert twice <= app.config["CAMPAIGN_SMTP_CONNECTIONS"]  # the victim's sessions in flight


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_finishes_what_is_in_flight_then_a_restart_sends_each_once(
    sending_app, sink, processes
):
    app, db, campaign_id = sending_app
    process = send_process(app, campaign_id, processes)
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

    finish(app, db, campaign_id, processes)
    assert len(sink.received) == RECIPIENTS
    assert set(sink.received.values()) == {1}
