"""The outcome recorder's promises, on a real database (campaigns/recorder.py).

A message the relay accepted is in the ledger (or the journal) before more than the
recorder's capacity can pile up unrecorded: that bounds what a crash sends twice. These
tests drive one recorder directly. The test holds the database's write lock to keep
the recorder's commit waiting, and sees a sender thread block because the recorder's
condition tells it (`WatchedRoom`), not because some time went by. Waits on a bound
(`BOUND`) only end a test that would otherwise hang on a broken recorder.

Where a test must know that nothing is committed until it asks (a flush, a close, half
the capacity waiting), MAX_WAIT_SECONDS is set to an hour: the commit a slow sending
rate gets after 50 ms would otherwise hide which of them triggered it.
"""

import sqlite3
import threading
import time

import pytest
from campaign_helpers import add_subscribers, new_campaign

from weprode.campaigns import freeze, journal, ledger, recorder, senders
from weprode.db import utcnow, write_transaction

BOUND = 60  # seconds: only a hang reaches it
SENDER = "test-host:1:aaaaaa"


class WatchedRoom(threading.Condition):
    """The recorder's condition, which tells when a sender thread, or the recording
    thread (`recorder_asleep`), starts waiting in it."""

    def __init__(self, recording_thread):
        super().__init__()
        self.recording_thread = recording_thread
        self.recorder_asleep = threading.Event()

    def wait(self, timeout=None):
        current = threading.current_thread()
        if isinstance(current, Adder):
            current.settled.set()
        if current is self.recording_thread:
            self.recorder_asleep.set()
        return super().wait(timeout)


class Adder(threading.Thread):
    """A sender thread handing `outcomes` to the recorder one by one."""

    def __init__(self, outcome_recorder, outcomes):
        super().__init__(daemon=True)
        self.recorder, self.outcomes = outcome_recorder, outcomes
        self.added = 0
        self.error = None
        self.settled = threading.Event()  # waiting for room, or done

    def run(self):
        try:
            for outcome in self.outcomes:
                self.recorder.add(outcome)
                self.added += 1
        except BaseException as error:
            self.error = error
        finally:
            self.settled.set()


def in_flight(app, db, count):
    """`count` rows of a sending campaign claimed by SENDER: (campaign id, delivery ids)."""
    add_subscribers(app, db, [(f"r{n}@example.org", None, "en") for n in range(count)])
    campaign_id = new_campaign(db)
    now = utcnow()
    freeze.start(db, campaign_id, now)
    assert senders.take_over(db, campaign_id, SENDER, now)
    claimed = ledger.claim(db, campaign_id, SENDER, count, now)
    return campaign_id, [row["delivery_id"] for row in claimed]


def accepted(delivery_id):
    return ledger.DeliveryOutcome(delivery_id, "sent", None, "250")


def statuses(db, delivery_ids):
    """{delivery id: (status, has a sent_at)} as another connection sees them now."""
    placeholders = ", ".join("?" for _ in delivery_ids)
    return {
        row["id"]: (row["status"], row["sent_at"] is not None)
        for row in db.query(
            f"SELECT id, status, sent_at FROM deliveries WHERE id IN ({placeholders})",
            delivery_ids,
        )
    }


def recorded(db, delivery_ids):
    return [i for i, (status, _) in statuses(db, delivery_ids).items() if status != "sending"]


def within_bound(action):
    """Run `action` in a thread; fail if it has not returned within BOUND; re-raise."""
    outcome = {}

    def run():
        try:
            action()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"{action} still blocked after {BOUND} s"
    if "error" in outcome:
        raise outcome["error"]


def until(condition, room=None):
    """Wait (on the bound) until `condition()` holds, read under `room` if given."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if room is None:
            if condition():
                return
        else:
            with room:
                if condition():
                    return
        time.sleep(0.005)
    raise AssertionError("condition never held")


def fresh_recorder(app, capacity, sent_journal=None):
    made = recorder.OutcomeRecorder(app.config["DATABASE"], SENDER, capacity, sent_journal)
    made.room = WatchedRoom(made.thread)
    return made


@pytest.fixture
def no_timed_commits(monkeypatch):
    """Commits happen only when a flush, a close or the count makes them due."""
    monkeypatch.setattr(recorder, "MAX_WAIT_SECONDS", 3600)


def test_recorder_capacity_leaves_room_for_one_unrecorded_message_per_connection():
    def capacity(connections, limit):
        return recorder.recorder_capacity(
            {"CAMPAIGN_SMTP_CONNECTIONS": connections, "CAMPAIGN_MAX_UNRECORDED": limit}
        )

    assert capacity(4, 20) == 16
    assert capacity(1, 20) == 19  # one session: one message in flight
    assert capacity(0, 20) == 19  # at least one session sends
    assert capacity(4, 5) == 1
    assert capacity(4, 4) == 1  # never 0: a recorder holding nothing could never send


def test_without_a_journal_the_recorder_holds_its_capacity_and_commits_at_half():
    for capacity, commit_at in [(0, 1), (1, 1), (2, 1), (3, 1), (16, 8)]:
        made = recorder.OutcomeRecorder(":memory:", SENDER, capacity)
        assert (made.capacity, made.commit_at) == (max(1, capacity), commit_at)


def test_with_a_journal_2000_outcomes_may_wait_and_500_make_a_commit_due(tmp_path):
    """A crash loses the refusals and retries waiting here (they are not journaled):
    they are tried again. 2000 bounds that, and the memory; 500 is the batch size
    that keeps the sending rate."""
    sent_journal = journal.SentJournal(tmp_path / "1-x.sent")
    made = recorder.OutcomeRecorder(str(tmp_path / "db"), SENDER, 16, sent_journal)
    assert (made.capacity, made.commit_at) == (2000, 500)
    for count in range(499):
        made.waiting.append(ledger.DeliveryOutcome(count, "failed", None, "550"))
    assert not made.due()
    made.waiting.append(ledger.DeliveryOutcome(499, "failed", None, "550"))
    assert made.due()
    sent_journal.close(remove=True)


def test_a_sender_waits_while_capacity_outcomes_are_unrecorded_then_all_are_recorded(
    app, db, no_timed_commits
):
    _, ids = in_flight(app, db, 10)
    outcome_recorder = fresh_recorder(app, 4)  # commit due at 2
    first = Adder(outcome_recorder, [accepted(i) for i in ids[:6]])
    first.start()
    assert first.settled.wait(BOUND)
    with outcome_recorder.room:
        assert first.error is None and first.added == 4  # not 3, not 5, not all 6

    with write_transaction(db):  # the recorder's commit waits for this lock
        outcome_recorder.start()
        until(lambda: outcome_recorder.committing == 4, outcome_recorder.room)
        # Four outcomes are being committed: nobody may add one more meanwhile.
        second = Adder(outcome_recorder, [accepted(i) for i in ids[6:]])
        second.start()
        assert second.settled.wait(BOUND)
        with outcome_recorder.room:
            assert second.error is None and second.added == 0
        assert recorded(db, ids) == []

    for adder in (first, second):
        adder.join(BOUND)
        assert not adder.is_alive() and adder.error is None
    within_bound(outcome_recorder.close)
    assert statuses(db, ids) == {i: ("sent", True) for i in ids}


def test_half_the_capacity_waiting_is_committed_without_a_flush(app, db, no_timed_commits):
    _, ids = in_flight(app, db, 2)
    outcome_recorder = fresh_recorder(app, 4)
    outcome_recorder.start()
    # Only a notification can wake it now (not its first look at the waiting list).
    assert outcome_recorder.room.recorder_asleep.wait(BOUND)
    outcome_recorder.add(accepted(ids[0]))
    with outcome_recorder.room:
        assert not outcome_recorder.due()  # one is not half of four
    outcome_recorder.add(accepted(ids[1]))
    until(lambda: len(recorded(db, ids)) == 2)
    within_bound(outcome_recorder.close)


def test_flush_returns_once_everything_added_is_in_the_ledger_and_journal_lists_the_sent(
    app, db, no_timed_commits
):
    campaign_id, ids = in_flight(app, db, 6)
    path = journal.journal_path(app.config["DATABASE"], campaign_id, SENDER)
    sent_journal = journal.SentJournal(path)
    outcome_recorder = fresh_recorder(app, 16, sent_journal)
    outcome_recorder.start()
    for delivery_id in ids[:3]:
        outcome_recorder.add(accepted(delivery_id))
    # The journal lists each accepted message at once, before any commit.
    assert path.read_text().split() == [str(i) for i in ids[:3]]
    with outcome_recorder.room:
        assert not outcome_recorder.due()  # with a journal, three wait for a batch
    within_bound(outcome_recorder.flush)
    assert statuses(db, ids[:3]) == {i: ("sent", True) for i in ids[:3]}

    # A refusal is recorded but never journaled: a takeover would mark it sent.
    outcome_recorder.add(ledger.DeliveryOutcome(ids[3], "failed", None, "550 no such user"))
    outcome_recorder.add(accepted(ids[4]))
    with outcome_recorder.room:
        assert not outcome_recorder.due()  # the flush is over: batches again
    within_bound(outcome_recorder.flush)  # a second flush commits too
    assert statuses(db, ids[3:5]) == {ids[3]: ("failed", False), ids[4]: ("sent", True)}
    assert path.read_text().split() == [str(i) for i in (*ids[:3], ids[4])]

    outcome_recorder.add(accepted(ids[5]))
    within_bound(outcome_recorder.close)  # one outcome, below the batch: still committed
    assert statuses(db, ids[5:]) == {ids[5]: ("sent", True)}
    sent_journal.close(remove=True)


def test_at_a_slow_rate_a_lone_outcome_reaches_the_ledger_without_a_flush(app, db):
    campaign_id, ids = in_flight(app, db, 1)
    path = journal.journal_path(app.config["DATABASE"], campaign_id, SENDER)
    sent_journal = journal.SentJournal(path)
    outcome_recorder = fresh_recorder(app, 16, sent_journal)
    outcome_recorder.start()
    outcome_recorder.add(accepted(ids[0]))  # 1 of the 500 that make a batch
    until(lambda: recorded(db, ids) == ids)
    within_bound(outcome_recorder.close)
    sent_journal.close(remove=True)


def test_a_recorder_that_cannot_write_the_ledger_stops_the_send(tmp_path):
    empty = tmp_path / "no-ledger.sqlite3"  # a database without a deliveries table
    outcome_recorder = recorder.OutcomeRecorder(str(empty), SENDER, 4)
    outcome_recorder.start()
    outcome_recorder.add(accepted(1))
    with pytest.raises(recorder.RecorderFailed) as failed:
        within_bound(outcome_recorder.flush)
    assert str(failed.value) == "cannot record outcomes in the ledger"
    assert isinstance(failed.value.__cause__, sqlite3.OperationalError)
    with pytest.raises(recorder.RecorderFailed):
        outcome_recorder.add(accepted(2))  # a sender stops instead of piling up more
    with pytest.raises(recorder.RecorderFailed):
        within_bound(outcome_recorder.close)


def test_the_recorder_thread_never_keeps_a_dead_send_process_alive():
    """A send that fails before `close` exits anyway (daemon); the thread is named for
    stack dumps (py-spy, faulthandler) of a stuck sender."""
    made = recorder.OutcomeRecorder(":memory:", SENDER, 4)
    assert made.thread.daemon is True
    assert made.thread.name == "outcome-recorder"
