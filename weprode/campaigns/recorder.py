"""Writing each message's fate to the ledger while the send goes on.

A message the relay accepted but the ledger still shows `sending` goes out again after
a crash: the next sender cannot tell it from one never sent. Recording a whole batch at
its end left up to a batch per connection to be sent twice (about 150 messages per
kill -9 with 4 connections and batches of 50). Now the sender threads hand each outcome
to one recorder as the relay answers, and its own thread commits them.

Each accepted message is first appended to the sender's journal (see `journal`),
which a kill -9 does not lose: the recorder then commits in large batches (at most
JOURNALED_CAPACITY waiting, or every MAX_WAIT_SECONDS). Committing every few messages
instead, to keep at most CAMPAIGN_MAX_UNRECORDED accepted messages unrecorded, cost
about 15 % of the sending rate; the recorder falls back to that only when the journal
cannot be written (disk full).

Why a thread of its own: a commit releases the GIL at each SQLite call, and a sender
thread that committed itself then waited for the others' message building (up to the
5 ms switch interval) each time, while the other sessions, their room used up, waited
for it. The recorder commits while the sessions keep sending.
"""

import threading
from collections.abc import Mapping
from typing import Any

from ..db import connect, utcnow
from . import ledger
from .journal import SentJournal

# Outcomes waiting longer than this are committed even if few: at a slow sending rate
# the ledger still follows within milliseconds.
MAX_WAIT_SECONDS = 0.05
# With a working journal: how many outcomes may wait (memory, and what a crash costs
# in outcomes that are not journaled: refusals and retries, sent again), and how many
# make a commit due before MAX_WAIT_SECONDS.
JOURNALED_CAPACITY = 2000
JOURNALED_COMMIT_AT = 500


def recorder_capacity(config: Mapping[str, Any]) -> int:
    """How many outcomes the recorder may hold uncommitted.

    Besides those, each session can have one accepted message not handed over yet:
    the one in flight (content sent, answer not read), or the one whose outcome waits
    for room here (`send_many` reports each answer before it sends more). So the limit
    less one per connection: 16 with the default 20 and 4 connections. Several
    sending processes (CAMPAIGN_SENDER_PROCESSES) share the limit: 6 each for two.
    """
    connections = max(1, int(config["CAMPAIGN_SMTP_CONNECTIONS"]))
    processes = max(1, int(config.get("CAMPAIGN_SENDER_PROCESSES", 1)))
    return max(1, int(config["CAMPAIGN_MAX_UNRECORDED"]) // processes - connections)


class RecorderFailed(RuntimeError):
    """The recorder could not write to the ledger; the send stops."""


class OutcomeRecorder:
    """One send's outcomes, committed by a thread of its own a few at a time.

    Sender threads `add` outcomes; once half the capacity waits (or the oldest has
    waited MAX_WAIT_SECONDS) the recorder takes them all and commits. A sender that
    finds the capacity used up waits for that commit. `flush` waits until everything
    added so far is committed; `close` flushes and ends the thread.
    """

    def __init__(
        self, database: str, sender_id: str, capacity: int, journal: SentJournal | None = None
    ) -> None:
        self.database = database
        self.sender_id = sender_id
        self.journal = journal
        self.small_capacity = max(1, capacity)
        self.waiting: list[ledger.DeliveryOutcome] = []
        self.committing = 0
        self.flushing = 0  # threads waiting in `flush`
        self.closing = False
        self.failure: BaseException | None = None
        self.room = threading.Condition()
        self.thread = threading.Thread(target=self.run, name="outcome-recorder", daemon=True)

    def start(self) -> None:
        """Start the recording thread."""
        self.thread.start()

    @property
    def capacity(self) -> int:
        """How many outcomes may wait uncommitted: many while the journal works."""
        if self.journal is not None and self.journal.working:
            return JOURNALED_CAPACITY
        return self.small_capacity

    @property
    def commit_at(self) -> int:
        """How many waiting outcomes make a commit due."""
        if self.journal is not None and self.journal.working:
            return JOURNALED_COMMIT_AT
        return max(1, self.small_capacity // 2)

    def add(self, outcome: ledger.DeliveryOutcome) -> None:
        """Hand over one outcome (journaled first when accepted); waits while the
        capacity is used up."""
        if outcome.status == "sent" and self.journal is not None:
            self.journal.note(outcome.delivery_id)
        with self.room:
            while self.failure is None and len(self.waiting) + self.committing >= self.capacity:
                self.room.wait()
            self.check()
            self.waiting.append(outcome)
            if len(self.waiting) >= self.commit_at:
                self.room.notify_all()

    def flush(self) -> None:
        """Return once every outcome added so far is committed."""
        with self.room:
            self.flushing += 1
            self.room.notify_all()
            try:
                self.room.wait_for(
                    lambda: self.failure is not None or not (self.waiting or self.committing)
                )
            finally:
                self.flushing -= 1
            self.check()

    def close(self) -> None:
        """Commit what is left and end the thread."""
        with self.room:
            self.closing = True
            self.room.notify_all()
        self.thread.join()
        with self.room:
            self.check()

    def check(self) -> None:
        """Raise if the recording thread failed (call holding `room`)."""
        if self.failure is not None:
            raise RecorderFailed("cannot record outcomes in the ledger") from self.failure

    def due(self) -> bool:
        """Whether the recorder should commit now (call holding `room`)."""
        return (
            len(self.waiting) >= self.commit_at
            or self.closing
            or (bool(self.waiting) and self.flushing > 0)
        )

    def run(self) -> None:
        """The recording thread: commit the waiting outcomes whenever they are due."""
        db = connect(self.database)
        try:
            while True:
                with self.room:
                    self.room.wait_for(self.due, timeout=MAX_WAIT_SECONDS)
                    if self.closing and not self.waiting:
                        return
                    batch, self.waiting = self.waiting, []
                    self.committing = len(batch)
                if batch:
                    ledger.record_outcomes(db, batch, utcnow())
                with self.room:
                    self.committing = 0
                    self.room.notify_all()
        except BaseException as error:
            with self.room:
                self.failure = error
                self.room.notify_all()
        finally:
            db.close()
