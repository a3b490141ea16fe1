"""Sending a campaign: several SMTP sessions in parallel, each claiming batches.

Each sender thread has its own database connection and SMTP session (reopened after
an error and every CAMPAIGN_RECONNECT_EVERY messages). Results are written every few
messages as the relay answers (see `recorder`); a crash leaves the rest of the batch
in `sending`, and the next sender requeues it. Setting the stop event (SIGTERM) ends
each session after its message in flight: what was sent is recorded, the rest of the
batch goes back to the queue. Temporary failures retry with exponential backoff;
permanent ones fail the row. Too many failures in a row pause the campaign with the
relay's last answer.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from flask_mail import Connection

from ..db import Database, connect, utcnow
from ..deliverability import effects
from ..mail import bulk_smtp, messages, outbox
from . import compose, ledger, render, senders, worker_heartbeats
from .recorder import OutcomeRecorder, recorder_capacity

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
PAUSED_BY_FAILURES = "Paused after repeated failures"


@dataclass
class SendState:
    """What the threads of one send share."""

    campaign_id: int
    sender_id: str
    prepared: render.PreparedAudience
    recorder: OutcomeRecorder
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_in_a_row: int = 0
    last_failure: str = ""
    sent: int = 0
    next_send_at: float = 0.0


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min... capped at one hour."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)


def wait_for_rate(state: SendState, rate: float) -> None:
    """Hold a thread so all of them together send at most `rate` messages a second."""
    if not rate:
        return
    with state.lock:
        now = time.monotonic()
        slot = max(state.next_send_at, now)
        state.next_send_at = slot + 1.0 / rate
    if slot > now:
        time.sleep(slot - now)


def note_result(
    state: SendState, failure: messages.MailDeliveryError | None, pause_after: int
) -> bool:
    """Count failures in a row; True when the campaign should pause."""
    with state.lock:
        if failure is None:
            state.failures_in_a_row = 0
            state.sent += 1
            return False
        state.failures_in_a_row += 1
        state.last_failure = str(failure)
        return state.failures_in_a_row >= pause_after


def outcome_for(
    row: dict, error: messages.MailDeliveryError, now: datetime, max_attempts: int
) -> ledger.DeliveryOutcome:
    """The ledger row's next state after a failed send."""
    if isinstance(error, bulk_smtp.PermanentFailure) or row["attempts"] >= max_attempts:
        return ledger.DeliveryOutcome(row["delivery_id"], "failed", None, str(error)[:500])
    retry_at = now + retry_delay(row["attempts"])
    return ledger.DeliveryOutcome(row["delivery_id"], "queued", retry_at, str(error)[:500])


def build_messages(
    state: SendState, rows: list[dict], config: Mapping[str, Any]
) -> tuple[list[tuple[dict, bytes]], list[ledger.DeliveryOutcome]]:
    """Each row's message bytes; rows whose message cannot be built get an outcome."""
    built, outcomes = [], []
    for row in rows:
        wait_for_rate(state, config["CAMPAIGN_MESSAGES_PER_SECOND"])
        try:
            built.append((row, state.prepared.message_for(row, utcnow())))
        except UnicodeEncodeError:
            failure = bulk_smtp.PermanentFailure("address needs SMTPUTF8, which we do not use")
            outcomes.append(outcome_for(row, failure, utcnow(), 0))
        except Exception as error:  # noqa: BLE001 (one bad row must not stop the send)
            failure = bulk_smtp.PermanentFailure(f"cannot build the message: {error!r}")
            outcomes.append(outcome_for(row, failure, utcnow(), 0))
    return built, outcomes


def send_batch(
    state: SendState,
    rows: list[dict],
    connection: Connection | None,
    config: Mapping[str, Any],
    db: Database,
) -> tuple[Connection | None, str | None, list[ledger.DeliveryOutcome]]:
    """Send one claimed batch over one session; returns (connection, pause_reason, outcomes).

    The batch goes out pipelined (see `bulk_smtp.send_many`) and each outcome goes to
    the send's recorder as the relay answers (and to the list returned, for the bounce
    checks). Once `state.stop` is set no further message begins, and the rows not begun
    go back to the queue (on `db`).
    """
    built, batch_outcomes = build_messages(state, rows, config)
    recorder = state.recorder
    for outcome in batch_outcomes:
        recorder.add(outcome)
    pause_reason = None

    def record(index: int, error: messages.MailDeliveryError | None) -> None:
        nonlocal pause_reason
        row = built[index][0]
        if error is None:
            outcome = ledger.DeliveryOutcome(row["delivery_id"], "sent", None, "250")
        else:
            outcome = outcome_for(row, error, utcnow(), config["CAMPAIGN_MAX_ATTEMPTS"])
        recorder.add(outcome)
        batch_outcomes.append(outcome)
        if note_result(state, error, config["CAMPAIGN_PAUSE_AFTER_FAILURES"]):
            pause_reason = f"{PAUSED_BY_FAILURES}; last answer: {state.last_failure}"

    if built and connection is None:
        try:
            connection = bulk_smtp.connect()
        except messages.MailDeliveryError as failure:
            for index in range(len(built)):
                record(index, failure)
            return None, pause_reason, batch_outcomes
    begun = 0
    if built:
        recipients = [(row["email"], message) for row, message in built]
        results, usable = bulk_smtp.send_many(
            connection,
            state.prepared.envelope_sender,
            recipients,
            senders=[state.prepared.envelope_sender_for(row) for row, _ in built],
            on_result=record,
            stop=state.stop,
        )
        begun = len(results)
        if not usable:
            bulk_smtp.close_quietly(connection)
            connection = None
    unsent = [row["delivery_id"] for row, _ in built[begun:]]
    if unsent:
        recorder.flush()  # what was sent is recorded first, then the rest is given back
        ledger.unclaim(db, unsent, state.sender_id)
    return connection, pause_reason, batch_outcomes


def sender_thread(app: Flask, state: SendState) -> None:
    """One SMTP session's loop: claim, send, record, until the queue is empty."""
    with app.app_context():
        config = app.config
        db = connect(config["DATABASE"])
        connection, since_reconnect = None, 0
        try:
            while not state.stop.is_set():
                rows = ledger.claim(
                    db, state.campaign_id, state.sender_id, config["CAMPAIGN_BATCH_SIZE"], utcnow()
                )
                if not rows:
                    return
                connection, pause_reason, outcomes = send_batch(state, rows, connection, config, db)
                # A 5xx refusal is a bounce at once; too many pause the campaign.
                if any(outcome.status == "failed" for outcome in outcomes):
                    state.recorder.flush()  # the bounce-rate check counts recorded attempts
                    if effects.record_refusals(db, state.campaign_id, rows, outcomes, utcnow()):
                        state.stop.set()
                        return
                since_reconnect += len(rows)
                if connection is not None and since_reconnect >= config["CAMPAIGN_RECONNECT_EVERY"]:
                    bulk_smtp.close_quietly(connection)
                    connection, since_reconnect = None, 0
                if pause_reason:
                    state.stop.set()
                    try:
                        ledger.pause(db, state.campaign_id, pause_reason, utcnow())
                    except ledger.CampaignStateError:
                        pass  # another sender thread paused it first
                    return
        finally:
            if connection is not None:
                bulk_smtp.close_quietly(connection)
            db.close()


def heartbeat_thread(app: Flask, state: SendState, interval: float) -> None:
    """Keep the campaign's heartbeat fresh; stop everyone if we lost the campaign."""
    db = connect(app.config["DATABASE"])
    try:
        while not state.stop.wait(interval):
            if not senders.heartbeat(db, state.campaign_id, state.sender_id, utcnow()):
                state.stop.set()  # paused, cancelled, or taken over
    finally:
        db.close()


def send_campaign(
    db: Database,
    campaign_id: int,
    *,
    progress: Callable[[dict[str, int]], None] | None = None,
    stop: threading.Event | None = None,
) -> str:
    """Send what is due of a `sending` campaign; returns its status afterwards.

    Returns early (status still "sending") when the only rows left wait for a retry
    time; the worker comes back for them. `progress(figures)` is called about once a
    second; setting `stop` ends the send cleanly.
    """
    app = current_app._get_current_object()
    sender_id = senders.new_sender_id()
    if not senders.take_over(db, campaign_id, sender_id, utcnow()):
        return ledger.get(db, campaign_id)["status"]
    state = SendState(
        campaign_id,
        sender_id,
        render.prepare(compose.get(db, campaign_id)),
        OutcomeRecorder(app.config["DATABASE"], sender_id, recorder_capacity(app.config)),
    )
    state.recorder.start()
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), state.stop.set()), daemon=True).start()
    threads = [
        threading.Thread(target=sender_thread, args=(app, state), daemon=True)
        for _ in range(max(1, int(app.config["CAMPAIGN_SMTP_CONNECTIONS"])))
    ]
    beat = threading.Thread(
        target=heartbeat_thread,
        args=(app, state, senders.HEARTBEAT_TIMEOUT.total_seconds() / 3),
        daemon=True,
    )
    for thread in [*threads, beat]:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=1.0)
        if progress is not None:
            progress(ledger.figures(db, campaign_id))
    state.stop.set()
    beat.join()
    state.recorder.close()  # every outcome committed before the campaign can finish
    senders.release(db, campaign_id, sender_id)
    ledger.finish_if_done(db, campaign_id, utcnow())
    return ledger.get(db, campaign_id)["status"]


def due_campaigns(db: Database, now: datetime) -> list[dict]:
    """Campaigns the worker should work on now: scheduled and due, or sending."""
    return list(
        db.query(
            "SELECT id, status FROM campaigns WHERE status = 'sending' "
            "OR (status = 'scheduled' AND scheduled_at <= ?) ORDER BY id",
            [now.isoformat(timespec="seconds")],
        )
    )


def relay_answers() -> bool:
    """True when the relay accepts a session again (for auto-resume)."""
    try:
        bulk_smtp.close_quietly(bulk_smtp.connect())
    except messages.MailDeliveryError:
        return False
    return True


def resume_paused_if_relay_back(db: Database) -> None:
    """Resume campaigns paused by failures once the relay answers (CAMPAIGN_AUTO_RESUME)."""
    paused = list(
        db.query(
            "SELECT id FROM campaigns WHERE status = 'paused' AND paused_reason LIKE ?",
            [PAUSED_BY_FAILURES + "%"],
        )
    )
    if paused and relay_answers():
        for row in paused:
            ledger.resume(db, row["id"])


def run_once(
    db: Database,
    now: datetime,
    progress: Callable[[dict[str, int]], None] | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """One pass of the worker: retry the outbox, start due campaigns, send, auto-resume.

    Returns True when a campaign was worked on.
    """
    outbox.send_due(db, now)
    if current_app.config["CAMPAIGN_AUTO_RESUME"]:
        resume_paused_if_relay_back(db)
    worked = False
    for row in due_campaigns(db, now):
        if row["status"] == "scheduled":
            try:
                ledger.start(db, row["id"], now)
            except ledger.AudienceNotChosen:
                # Scheduling needs an audience, but its key may leave `audiences` later;
                # staff then choose again, and the worker carries on with the others.
                ledger.unschedule(db, row["id"])
                continue
        send_campaign(db, row["id"], progress=progress, stop=stop)
        worked = True
    return worked


PURGE_EVERY = timedelta(days=1)


def run_forever(
    db: Database,
    stop: threading.Event,
    poll_seconds: float = 5.0,
    purge: Callable[[datetime], None] | None = None,
) -> None:
    """The `campaigns worker` loop; returns when `stop` is set.

    `purge(now)`, when given, runs at start and then once a day (the retention purge).
    Every pass records the worker's heartbeat, and so does a long send, for /healthz.
    """
    last_purge, started_at = None, utcnow()
    beat_while_sending = worker_heartbeats.recorder_while_sending(db, started_at)
    while not stop.is_set():
        now = utcnow()
        worker_heartbeats.record(db, now, started_at)
        if purge is not None and (last_purge is None or now - last_purge >= PURGE_EVERY):
            purge(now)
            last_purge = now
        run_once(db, now, progress=beat_while_sending, stop=stop)
        stop.wait(poll_seconds)
