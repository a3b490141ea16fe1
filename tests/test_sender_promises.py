"""Who sends a campaign: a dead sender is taken over, a live one never, rows go out once.

Heartbeat ages are pinned on both sides of the limit with an explicit `now`. A sender
from another host is judged by its heartbeat alone; one from this host also by whether
its process still exists.
"""

import collections
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import add_subscribers, new_campaign

from weprode.campaigns import freeze, journal, ledger, recorder, senders, worker
from weprode.db import isoformat, utcnow

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
LIMIT = timedelta(seconds=30)  # the documented heartbeat limit


def dead_pid():
    """The pid of a process of ours that has already exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


ELSEWHERE = "other-host.example:4242:aaaaaa"  # another machine: only its heartbeat counts
HERE_ALIVE = f"{socket.gethostname()}:{os.getpid()}:bbbbbb"


def here_dead():
    return f"{socket.gethostname()}:{dead_pid()}:cccccc"


def sending_campaigns(app, db, count=2, recipients=3):
    """`count` sending campaigns frozen at NOW over `recipients` people; nobody holds them."""
    add_subscribers(app, db, [(f"p{i}@example.org", None, "en") for i in range(recipients)])
    ids = [new_campaign(db) for _ in range(count)]
    for campaign_id in ids:
        freeze.start(db, campaign_id, NOW)
    return ids


def hold(db, campaign_id, sender_id, at, claimed=2):
    """`sender_id` takes the campaign at `at` and claims `claimed` rows."""
    assert senders.take_over(db, campaign_id, sender_id, at)
    return [row["delivery_id"] for row in ledger.claim(db, campaign_id, sender_id, claimed, at)]


def rows(db, campaign_id):
    return [
        (row["status"], row["claimed_by"])
        for row in db.query(
            "SELECT status, claimed_by FROM deliveries WHERE campaign_id = ? ORDER BY id",
            [campaign_id],
        )
    ]


def owner(db, campaign_id):
    campaign = ledger.get(db, campaign_id)
    return campaign["sender_id"], campaign["heartbeat_at"]


@pytest.mark.parametrize(
    ("silence", "taken_over"),
    [(LIMIT - timedelta(seconds=1), False), (LIMIT, False), (LIMIT + timedelta(seconds=1), True)],
    ids=["29s", "30s", "31s"],
)
def test_sender_silent_longer_than_the_limit_is_taken_over_and_not_before(
    app, db, silence, taken_over
):
    campaign_id, other = sending_campaigns(app, db)
    hold(db, campaign_id, ELSEWHERE, NOW)
    hold(db, other, ELSEWHERE, NOW)
    later = NOW + silence

    assert senders.take_over(db, campaign_id, "next:1:dddddd", later) is taken_over
    if taken_over:
        assert owner(db, campaign_id) == ("next:1:dddddd", isoformat(later))
        assert rows(db, campaign_id) == [("queued", None)] * 3
    else:
        assert owner(db, campaign_id) == (ELSEWHERE, isoformat(NOW))
        assert rows(db, campaign_id) == [("sending", ELSEWHERE)] * 2 + [("queued", None)]
    # The other campaign, held by the same sender, is nobody's business here.
    assert owner(db, other) == (ELSEWHERE, isoformat(NOW))
    assert rows(db, other) == [("sending", ELSEWHERE)] * 2 + [("queued", None)]


def test_sender_is_gone_exactly_past_the_heartbeat_limit():
    assert senders.sender_is_gone(ELSEWHERE, NOW, NOW + LIMIT) is False
    assert senders.sender_is_gone(ELSEWHERE, NOW, NOW + LIMIT + timedelta(microseconds=1)) is True
    assert senders.sender_is_gone(ELSEWHERE, None, NOW) is True  # never beat
    assert senders.sender_is_gone(None, NOW, NOW) is True
    assert senders.sender_is_gone("", NOW, NOW) is True


def test_takeover_requeues_only_the_dead_senders_rows_in_flight(app, db):
    campaign_id, other = sending_campaigns(app, db, recipients=4)
    sent, *in_flight = hold(db, campaign_id, ELSEWHERE, NOW, claimed=3)
    ledger.record_outcomes(db, [(sent, "sent", None, "250")], NOW)
    live = "live-host.example:7:eeeeee"
    hold(db, other, live, NOW + LIMIT * 3, claimed=1)

    later = NOW + LIMIT * 4  # the first sender is long silent, the live one fresh
    assert senders.take_over(db, campaign_id, "next:1:dddddd", later) is True
    assert rows(db, campaign_id) == [("sent", None)] + [("queued", None)] * 3
    attempts = [r["attempts"] for r in ledger.claim(db, campaign_id, "next:1:dddddd", 10, later)]
    assert len(attempts) == len(in_flight) + 1
    # The live sender of the other campaign keeps its campaign and its batch.
    assert rows(db, other) == [("sending", live)] + [("queued", None)] * 3
    assert owner(db, other) == (live, isoformat(NOW + LIMIT * 3))


def test_a_dead_sending_process_gives_back_only_its_own_rows_in_flight(app, db):
    """One of several sending processes died: the holder puts back the rows it had
    claimed and not sent, at once, so the live processes send them; the rows of the
    live process, those already sent, and other campaigns stay as they are."""
    campaign_id, other = sending_campaigns(app, db, recipients=4)
    dead, live = "host.example:7:ffffff-1", "host.example:7:ffffff-2"
    sent, _in_flight = [r["delivery_id"] for r in ledger.claim(db, campaign_id, dead, 2, NOW)]
    ledger.record_outcomes(db, [(sent, "sent", None, "250")], NOW)
    ledger.claim(db, campaign_id, live, 1, NOW)
    ledger.claim(db, other, dead, 1, NOW)
    senders.requeue_rows_of(db, campaign_id, dead, NOW)
    assert rows(db, campaign_id) == [
        ("sent", None),
        ("queued", None),
        ("sending", live),
        ("queued", None),
    ]
    assert rows(db, other) == [("sending", dead)] + [("queued", None)] * 3


@pytest.mark.parametrize(
    ("who", "gone"),
    [("here, process dead", True), ("here, process alive", False), ("elsewhere", False)],
)
def test_a_sender_of_this_host_whose_process_died_is_taken_over_at_once(app, db, who, gone):
    campaign_id, _ = sending_campaigns(app, db)
    sender_id = {
        "here, process dead": here_dead(),
        "here, process alive": HERE_ALIVE,
        # Another host's pid means nothing here, even one that is free on this host.
        "elsewhere": f"other-host.example:{dead_pid()}:ffffff",
    }[who]
    hold(db, campaign_id, sender_id, NOW)
    fresh = NOW + timedelta(seconds=1)
    assert senders.sender_is_gone(sender_id, NOW, fresh) is gone
    assert senders.take_over(db, campaign_id, "next:1:dddddd", fresh) is gone
    expected_owner = "next:1:dddddd" if gone else sender_id
    assert owner(db, campaign_id)[0] == expected_owner


@pytest.mark.parametrize("status", ["paused", "cancelled", "draft"])
def test_only_a_sending_campaign_can_be_taken_over(app, db, status):
    campaign_id, _ = sending_campaigns(app, db)
    if status == "draft":
        campaign_id = new_campaign(db)
    else:
        hold(db, campaign_id, ELSEWHERE, NOW)
        if status == "paused":
            ledger.pause(db, campaign_id, "staff asked", NOW)
        else:
            ledger.cancel(db, campaign_id, NOW)
    before = (owner(db, campaign_id), rows(db, campaign_id))
    assert senders.take_over(db, campaign_id, "next:1:dddddd", NOW + timedelta(hours=1)) is False
    assert (owner(db, campaign_id), rows(db, campaign_id)) == before
    assert senders.take_over(db, 999_999, "next:1:dddddd", NOW) is False


def test_an_unheld_campaign_is_taken_over_at_once(app, db):
    campaign_id, other = sending_campaigns(app, db)
    assert senders.take_over(db, campaign_id, ELSEWHERE, NOW) is True
    assert owner(db, campaign_id) == (ELSEWHERE, isoformat(NOW))
    assert owner(db, other) == (None, None)
    # Its own campaign, heartbeat fresh: the same sender keeps it.
    assert senders.take_over(db, campaign_id, ELSEWHERE, NOW + timedelta(seconds=1)) is True
    assert owner(db, campaign_id) == (ELSEWHERE, isoformat(NOW + timedelta(seconds=1)))


def test_heartbeat_proves_only_the_owner_of_a_sending_campaign(app, db):
    before, target, after = sending_campaigns(app, db, count=3)
    mine, theirs = "mine.example:1:aaaaaa", "theirs.example:2:bbbbbb"
    for campaign_id in (before, target, after):  # one sender may hold several campaigns
        senders.take_over(db, campaign_id, mine, NOW)

    assert senders.heartbeat(db, target, mine, NOW + timedelta(seconds=10)) is True
    assert owner(db, target) == (mine, isoformat(NOW + timedelta(seconds=10)))
    assert owner(db, before) == owner(db, after) == (mine, isoformat(NOW))
    # Someone who does not own the campaign proves nothing and changes nothing.
    assert senders.heartbeat(db, target, theirs, NOW + timedelta(seconds=20)) is False
    assert owner(db, target) == (mine, isoformat(NOW + timedelta(seconds=10)))
    # A paused campaign is lost to its sender: the heartbeat says so.
    ledger.pause(db, target, "staff asked", NOW)
    assert senders.heartbeat(db, target, mine, NOW + timedelta(seconds=30)) is False
    assert owner(db, target) == (mine, isoformat(NOW + timedelta(seconds=10)))
    assert senders.heartbeat(db, after, mine, NOW + timedelta(seconds=30)) is True


def test_release_lets_go_of_ones_own_campaign_only(app, db):
    before, target, after = sending_campaigns(app, db, count=3)
    mine, theirs = "mine.example:1:aaaaaa", "theirs.example:2:bbbbbb"
    for campaign_id in (before, target, after):
        senders.take_over(db, campaign_id, mine, NOW)
    senders.release(db, target, theirs)
    assert owner(db, target)[0] == mine
    senders.release(db, target, mine)
    assert owner(db, target)[0] is None
    assert owner(db, before)[0] == owner(db, after)[0] == mine
    # Released: the next sender needs no wait for a heartbeat to go stale.
    assert senders.take_over(db, target, theirs, NOW + timedelta(seconds=1)) is True


def test_new_sender_id_names_this_live_process():
    sender_id = senders.new_sender_id()
    host, pid, random_part = sender_id.split(":")
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert len(random_part) == 6 and senders.new_sender_id() != sender_id
    assert senders.sender_is_gone(sender_id, NOW, NOW) is False


@pytest.mark.parametrize("death", ["heartbeat stopped", "process gone"])
def test_rows_of_a_dead_sender_are_sent_once(app, db, mailbox, death):
    """A sender died with a batch in flight after sending one row; the next sends the rest."""
    add_subscribers(app, db, [(f"r{i}@example.org", None, "en") for i in range(5)])
    campaign_id, other = new_campaign(db), new_campaign(db)
    freeze.start(db, campaign_id, utcnow())
    freeze.start(db, other, utcnow())
    if death == "heartbeat stopped":
        dead, at = ELSEWHERE, utcnow() - timedelta(hours=1)
    else:
        dead, at = here_dead(), utcnow() + timedelta(hours=1)  # heartbeat still "fresh"
    done, *_in_flight = hold(db, campaign_id, dead, at, claimed=3)
    ledger.record_outcomes(db, [(done, "sent", None, "250")], at)  # r0, before dying
    # A live sender holds the other campaign: it must not be touched.
    senders.take_over(db, other, HERE_ALIVE, utcnow() + timedelta(hours=1))

    with app.app_context():
        assert worker.send_campaign(db, campaign_id) == "sent"
        assert worker.send_campaign(db, other) == "sending"
    mailbox.wait_for(4)
    per_recipient = collections.Counter(message["To"] for message in mailbox.messages)
    assert per_recipient == {f"r{i}@example.org": 1 for i in range(5) if i != 0}
    assert ledger.figures(db, campaign_id)["sent"] == 5
    assert ledger.figures(db, other)["queued"] == 5
    assert owner(db, other)[0] == HERE_ALIVE


def test_checking_a_live_sender_of_this_host_leaves_its_process_alone():
    """Whether a sender lives is asked with signal 0: the check must never signal it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sender_id = f"{socket.gethostname()}:{child.pid}:abcdef"
        assert senders.sender_is_gone(sender_id, NOW, NOW + timedelta(seconds=1)) is False
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.5)  # still running: not hung up, not terminated
    finally:
        child.kill()
        child.wait()


def test_a_live_sender_run_by_another_user_of_this_host_is_not_taken_over():
    """Signal 0 to another user's process is refused (EPERM): it exists, so its sender
    lives. Pid 1 always runs, as root. Root may signal anyone, so a test run by root
    asks as nobody, keeping root as its saved id to come back to."""
    sender_id = f"{socket.gethostname()}:1:abcdef"
    later = NOW + timedelta(seconds=1)
    if os.getuid() != 0:
        assert senders.sender_is_gone(sender_id, NOW, later) is False
        return
    os.setresuid(65534, 65534, 0)
    try:
        gone = senders.sender_is_gone(sender_id, NOW, later)
    finally:
        os.setresuid(0, 0, 0)
    assert gone is False


def test_takeover_marks_sent_what_the_dead_senders_journal_lists(app, db):
    """The journal outlives a kill -9: its rows are sent, not requeued; a torn line is not."""
    [campaign_id, other] = sending_campaigns(app, db, recipients=4)
    dead = here_dead()
    claimed = hold(db, campaign_id, dead, NOW, claimed=4)
    path = journal.journal_path(app.config["DATABASE"], campaign_id, dead)
    sent_journal = journal.SentJournal(path)
    assert sent_journal.note(claimed[0]) and sent_journal.note(claimed[1])
    sent_journal.close(remove=False)
    with path.open("ab") as torn:
        torn.write(str(claimed[2]).encode())  # killed mid-write: no end of line
    # Another campaign's journal is not this takeover's business.
    other_path = journal.journal_path(app.config["DATABASE"], other, dead)
    other_path.write_bytes(b"%d\n" % claimed[3])

    assert senders.take_over(db, campaign_id, "new:1:dddddd", NOW + timedelta(seconds=1))
    statuses = [(row["status"], row["smtp_reply"]) for row in deliveries_of(db, campaign_id)]
    assert statuses == [("sent", "250"), ("sent", "250"), ("queued", None), ("queued", None)]
    assert not path.exists() and other_path.exists()


def test_an_unwritable_journal_falls_back_to_small_commits(tmp_path):
    blocked = tmp_path / "1-x.sent"
    blocked.mkdir()  # a folder where the file should be: not writable, even for root
    sent_journal = journal.SentJournal(blocked)
    assert not sent_journal.working and not sent_journal.note(1)
    fallback = recorder.OutcomeRecorder(str(tmp_path / "db"), "x", 16, sent_journal)
    assert (fallback.capacity, fallback.commit_at) == (16, 8)
    working = recorder.OutcomeRecorder(
        str(tmp_path / "db"), "x", 16, journal.SentJournal(tmp_path / "2-x.sent")
    )
    assert working.capacity == recorder.JOURNALED_CAPACITY


def deliveries_of(db, campaign_id):
    return list(
        db.query(
            "SELECT status, smtp_reply FROM deliveries WHERE campaign_id = ? ORDER BY id",
            [campaign_id],
        )
    )


def test_a_send_that_was_not_stopped_leaves_no_thread_behind(app, db, mailbox):
    """The worker passes its stop event to every send; a thread waiting on it would
    outlive each pass, one more every few seconds for as long as the worker runs."""
    add_subscribers(app, db, [(f"t{i}@example.org", None, "en") for i in range(3)])
    stop = threading.Event()
    before = threading.active_count()
    with app.app_context():
        for _ in range(3):
            campaign_id = new_campaign(db)
            freeze.start(db, campaign_id, utcnow())
            assert worker.send_campaign(db, campaign_id, stop=stop) == "sent"
    assert threading.active_count() == before
