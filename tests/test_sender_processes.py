"""One campaign sent from several processes (CAMPAIGN_SENDER_PROCESSES): the limits hold
for their sum, a pause or a cancel stops them all, and nobody gets a message twice.

kill -9 and SIGTERM of real `flask campaigns send` processes are in
test_campaign_stop.py; provider limits and throttles across processes in
test_provider_pacing.py. Here: the shared pacing itself, and pause and cancel.
"""

import multiprocessing
import os
import signal
import threading
import time

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign
from relay_helpers import start_counting_relay

from weprode.campaigns import freeze, ledger, worker
from weprode.campaigns.shared_pacing import SharedPacing
from weprode.config import ConfigError
from weprode.db import connect, utcnow
from weprode.mail import relays

FORK = multiprocessing.get_context("fork")
RECIPIENTS = 600


@pytest.fixture
def relay():
    controller, handler = start_counting_relay()
    yield handler
    controller.stop()


def reserve_in_child(shared, member, count, rate, conn):
    """Child body: reserve `count` slots of provider "p" and send them back."""
    shared.join(member)
    conn.send([shared.reserve_slot("p", rate) for _ in range(count)])
    conn.close()


def test_slots_are_shared_out_over_processes_at_the_providers_rate(tmp_path):
    rate, count = 1000.0, 200
    shared = SharedPacing(["p"], 2, tmp_path / "lock")
    pipes = [FORK.Pipe(duplex=False) for _ in range(2)]
    children = [
        FORK.Process(target=reserve_in_child, args=(shared, member, count, rate, pipes[member][1]))
        for member in range(2)
    ]
    for child in children:
        child.start()
    slots = sorted(slot for receiving, _ in pipes for slot in receiving.recv())
    for child in children:
        child.join()
    assert len(slots) == 2 * count
    # Two processes together: never two messages within 1/rate of each other.
    gaps = [later - earlier for earlier, later in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= 1 / rate - 1e-9


def die_holding_the_lock(shared):
    shared.join(0)
    with shared.locked():
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_process_killed_inside_the_lock_does_not_freeze_the_others(tmp_path):
    shared = SharedPacing(["p"], 2, tmp_path / "lock")
    victim = FORK.Process(target=die_holding_the_lock, args=(shared,))
    victim.start()
    victim.join()
    assert victim.exitcode == -signal.SIGKILL
    shared.join(1)
    taken = []
    taker = threading.Thread(target=lambda: taken.append(shared.take_session("p", 1)))
    taker.start()
    taker.join(timeout=10)  # a bound on a hang, not a speed check
    assert taken == [True]
    shared.forget(1)
    assert shared.sessions("p") == 0


def test_each_relay_session_limit_is_shared_out_not_multiplied():
    relay = relays.Relay("r", "127.0.0.1", 25, "none", None, None, 1.0, 5, True, "")
    shares = [relays.share_of([relay], member, 3) for member in range(3)]
    assert [share[0].max_connections for share in shares] == [2, 2, 1]
    assert relays.share_of([relay], 5, 6) == []  # more processes than sessions


@pytest.mark.parametrize("processes", [0, -1, 65, "2", True])
def test_a_bad_number_of_processes_stops_the_start_up(make_app, processes):
    with pytest.raises(ConfigError, match="CAMPAIGN_SENDER_PROCESSES"):
        make_app(CAMPAIGN_SENDER_PROCESSES=processes)


def sending_campaign(make_app, relay):
    """An app sending from 2 processes to `relay`, slowly enough to act mid-send."""
    app = make_app(
        MAIL_PORT=relay.port,
        CAMPAIGN_SENDER_PROCESSES=2,
        CAMPAIGN_SMTP_CONNECTIONS=2,
        CAMPAIGN_BATCH_SIZE=10,
        CAMPAIGN_MESSAGES_PER_SECOND=300,
    )
    db = connect(app.config["DATABASE"])
    add_readers_in_bulk(db, [f"r{n:04d}@example.org" for n in range(RECIPIENTS)])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    return app, db, campaign_id


def send_until(app, db, campaign_id, relay, received, action):
    """Send in a thread; once the relay has `received` messages, `action()`; returns
    the status `send_campaign` ended with."""
    ended = []

    def send():
        sender_db = connect(app.config["DATABASE"])
        with app.app_context():
            ended.append(worker.send_campaign(sender_db, campaign_id))
        sender_db.close()

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 60  # a bound on the wait, not a speed check
    while relay.total() < received and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    action()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return ended[0]


def test_a_pause_stops_every_process_and_a_resume_sends_each_once(make_app, relay):
    app, db, campaign_id = sending_campaign(make_app, relay)
    status = send_until(
        app, db, campaign_id, relay, 100, lambda: ledger.pause(db, campaign_id, "staff", utcnow())
    )
    assert status == "paused"
    figures = ledger.figures(db, campaign_id)
    assert figures["sending"] == 0  # nothing left claimed by a process
    assert figures["sent"] == relay.total() < RECIPIENTS  # each message it sent is recorded
    ledger.resume(db, campaign_id)
    with app.app_context():
        assert worker.send_campaign(db, campaign_id) == "sent"
    assert len(relay.received) == RECIPIENTS and set(relay.received.values()) == {1}
    db.close()


def test_a_cancel_stops_every_process_and_skips_the_rest(make_app, relay):
    app, db, campaign_id = sending_campaign(make_app, relay)
    status = send_until(
        app, db, campaign_id, relay, 100, lambda: ledger.cancel(db, campaign_id, utcnow())
    )
    assert status == "cancelled"
    figures = ledger.figures(db, campaign_id)
    assert figures["sending"] == 0 and figures["queued"] == 0
    assert figures["sent"] == relay.total() and set(relay.received.values()) == {1}
    assert figures["skipped"] == RECIPIENTS - figures["sent"] > 0
    db.close()
