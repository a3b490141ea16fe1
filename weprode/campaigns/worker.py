"""Sending a campaign: several SMTP sessions in parallel, over a pool of relays.

Each sender thread has its own database connection and SMTP session with one relay
of the pool (see `mail.relay_pool`; reopened after an error and every
CAMPAIGN_RECONNECT_EVERY messages). It serves one mailbox provider at a time within
that provider's limits (see `pacing`), claiming a batch of its recipients and sending
it (see `batch`). Results are written every few messages as the relay answers (see
`recorder`); a crash leaves the rest of the batch in `sending`, and the next sender
requeues it. Setting the stop event (SIGTERM) ends each session after its message in
flight: what was sent is recorded, the rest of the batch goes back to the queue. Too
many failures in a row, or every relay failing, pause the campaign with the reason.
"""

import smtplib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app

from ..db import Database, connect, utcnow
from ..deliverability import effects
from ..mail import outbox, relays
from ..mail.bulk_smtp import close_quietly
from ..mail.relay_pool import NoRelayAvailable, RelayPool, open_session
from . import compose, ledger, pacing, render, senders, worker_heartbeats
from .batch import PAUSED_BY_FAILURES, SendState, note_result, outcome_for, send_batch
from .journal import SentJournal, journal_path
from .recorder import OutcomeRecorder, recorder_capacity

__all__ = ["PAUSED_BY_FAILURES", "note_result", "outcome_for", "send_campaign", "run_once"]


def sender_thread(app: Flask, state: SendState) -> None:
    """One SMTP session's loop: pick a provider, claim, send, until nothing is due."""
    with app.app_context():
        config = app.config
        db = connect(config["DATABASE"])
        session, since_reconnect = None, 0
        try:
            while not state.stop.is_set():
                provider = state.pacer.acquire(state.stop)
                if provider is None:
                    return
                try:
                    if session is None:
                        session = state.pool.connect(config["MAIL_TIMEOUT"], state.stop)
                        if session is None:
                            return
                    rows = ledger.claim(
                        db,
                        state.campaign_id,
                        state.sender_id,
                        config["CAMPAIGN_BATCH_SIZE"],
                        utcnow(),
                        provider,
                    )
                    if not rows:
                        state.pacer.exhausted(provider)
                        continue
                    session, pause_reason, outcomes = send_batch(
                        state, provider, rows, session, config, db
                    )
                finally:
                    state.pacer.release(provider)
                # A 5xx refusal is a bounce at once; too many pause the campaign.
                if any(outcome.status == "failed" for outcome in outcomes):
                    state.recorder.flush()  # the bounce-rate check counts recorded attempts
                    if effects.record_refusals(db, state.campaign_id, rows, outcomes, utcnow()):
                        state.stop.set()
                        return
                since_reconnect += len(rows)
                if session is not None and since_reconnect >= config["CAMPAIGN_RECONNECT_EVERY"]:
                    state.pool.close(session)
                    session, since_reconnect = None, 0
                if pause_reason:
                    stop_and_pause(state, db, pause_reason)
                    return
        except NoRelayAvailable as failure:
            stop_and_pause(state, db, f"{PAUSED_BY_FAILURES}; every mail relay failed: {failure}")
        finally:
            state.pool.close(session)
            db.close()


def stop_and_pause(state: SendState, db: Database, reason: str) -> None:
    """Stop every session of the send and pause the campaign with `reason`."""
    state.stop.set()
    try:
        ledger.pause(db, state.campaign_id, reason, utcnow())
    except ledger.CampaignStateError:
        pass  # another sender thread paused it first


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
    config = app.config
    pool = relay_pool(config)
    sent_journal = SentJournal(journal_path(config["DATABASE"], campaign_id, sender_id))
    state = SendState(
        campaign_id,
        sender_id,
        render.prepare(compose.get(db, campaign_id)),
        OutcomeRecorder(config["DATABASE"], sender_id, recorder_capacity(config), sent_journal),
        pacing.Pacer(
            pacing.queued_providers(db, campaign_id),
            pacing.provider_limits(config),
            pacing.throttled_providers(db, utcnow()),
        ),
        pool,
    )
    state.recorder.start()
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), state.stop.set()), daemon=True).start()
    sessions = min(max(1, int(config["CAMPAIGN_SMTP_CONNECTIONS"])), pool.capacity())
    threads = [
        threading.Thread(target=sender_thread, args=(app, state), daemon=True)
        for _ in range(sessions)
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
    sent_journal.close(remove=True)  # all it lists is in the ledger now
    senders.release(db, campaign_id, sender_id)
    ledger.finish_if_done(db, campaign_id, utcnow())
    return ledger.get(db, campaign_id)["status"]


def due_campaigns(db: Database, now: datetime) -> list[dict]:
    """Campaigns the worker should work on now: scheduled and due, or sending (a
    welcome mail only while someone's welcome waits)."""
    return list(
        db.query(
            "SELECT id, status FROM campaigns WHERE (status = 'sending' AND (kind = 'regular' "
            "OR EXISTS (SELECT 1 FROM deliveries WHERE campaign_id = campaigns.id "
            "AND status IN ('queued', 'sending')))) "
            "OR (status = 'scheduled' AND scheduled_at <= ?) ORDER BY id",
            [now.isoformat(timespec="seconds")],
        )
    )


def relay_pool(config: dict) -> RelayPool:
    """The relays of one send (MAIL_RELAYS, or the MAIL_* relay alone)."""
    return RelayPool(
        relays.configured_relays(config),
        float(config["RELAY_SET_ASIDE_SECONDS"]),
        int(config["RELAY_FAILURES_TO_SET_ASIDE"]),
    )


def relay_answers() -> bool:
    """True when some relay accepts a session again (for auto-resume)."""
    config = current_app.config
    for relay in relays.configured_relays(config):
        try:
            session = open_session(relay, config["MAIL_TIMEOUT"])
        except (OSError, smtplib.SMTPException):
            continue
        close_quietly(session)
        return True
    return False


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
    periodic: Sequence[tuple[timedelta, Callable[[datetime], None]]] = (),
) -> None:
    """The `campaigns worker` loop; returns when `stop` is set.

    `purge(now)`, when given, runs at start and then once a day (the retention purge);
    each `(every, task)` of `periodic` runs at start and then every `every` (the bounce
    mailbox poll; with `every` 0, on every pass: the recovery of imports). Every pass
    records the worker's heartbeat, and so does a long send, for /healthz.
    """
    tasks = [*([(PURGE_EVERY, purge)] if purge is not None else []), *periodic]
    last_run: list[datetime | None] = [None] * len(tasks)
    started_at = utcnow()
    beat_while_sending = worker_heartbeats.recorder_while_sending(db, started_at)
    while not stop.is_set():
        now = utcnow()
        worker_heartbeats.record(db, now, started_at)
        for index, (every, task) in enumerate(tasks):
            if last_run[index] is None or now - last_run[index] >= every:
                task(now)
                last_run[index] = now
        run_once(db, now, progress=beat_while_sending, stop=stop)
        stop.wait(poll_seconds)
