"""One process's part of a send: its SMTP sessions, recorder and journal.

Each sender thread has its own database connection and SMTP session with one relay
of the pool (see `mail.relay_pool`; reopened after an error and every
CAMPAIGN_RECONNECT_EVERY messages). It serves one mailbox provider at a time within
that provider's limits (see `pacing`), claiming a batch of its recipients and sending
it (see `batch`). Results are written every few messages as the relay answers (see
`recorder`); a crash leaves the rest of the batch in `sending`, and the next sender
requeues it. Setting the stop event (SIGTERM) ends each session after its message in
flight: what was sent is recorded, the rest of the batch goes back to the queue. Too
many failures in a row, or every relay failing, pause the campaign with the reason.

`worker.send_campaign` runs this in its own process, or has several processes run
it (see `processes`).
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from ..db import Database, connect, utcnow
from ..deliverability import effects
from ..mail import relays
from ..mail.relay_pool import NoRelayAvailable, RelayPool
from . import compose, ledger, pacing, render, senders
from .batch import PAUSED_BY_FAILURES, SendState, send_batch
from .journal import SentJournal, journal_path
from .recorder import OutcomeRecorder, recorder_capacity
from .shared_pacing import SharedPacing


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


def heartbeat_thread(
    app: Flask, campaign_id: int, sender_id: str, stop: threading.Event, interval: float
) -> None:
    """Keep the campaign's heartbeat fresh; stop everyone if we lost the campaign.

    `stop` may be a `multiprocessing.Event` (the holder of a send in processes).
    """
    db = connect(app.config["DATABASE"])
    try:
        while not stop.wait(interval):
            if not senders.heartbeat(db, campaign_id, sender_id, utcnow()):
                stop.set()  # paused, cancelled, or taken over
    finally:
        db.close()


class ProgressReport:
    """Calls `report(figures)` about once a second while a send goes on, but spends at
    most a tenth of the time counting: the figures scan every row of the campaign,
    0.2 to 1 s at a million rows, which every second took a core's tenth or more
    from the senders."""

    def __init__(
        self, report: Callable[[dict[str, int]], None] | None, db: Database, campaign_id: int
    ) -> None:
        self.report = report
        self.db = db
        self.campaign_id = campaign_id
        self.next_at = time.monotonic() + 1.0

    def tick(self, force: bool = False) -> None:
        """Report if it is time (always when `force`)."""
        if self.report is None or not (force or time.monotonic() >= self.next_at):
            return
        began = time.monotonic()
        self.report(ledger.figures(self.db, self.campaign_id))
        took = time.monotonic() - began
        self.next_at = time.monotonic() + max(1.0, 9 * took)


def send_from_this_process(
    app: Flask,
    db: Database,
    campaign_id: int,
    sender_id: str,
    *,
    progress: Callable[[dict[str, int]], None] | None = None,
    stop: threading.Event | None = None,
    holder: bool = True,
    providers: list[str] | None = None,
    shared: SharedPacing | None = None,
    relays_here: list[relays.Relay] | None = None,
) -> None:
    """Send with this process's sessions until nothing is due or `stop` is set.

    The `holder` of the campaign (see `senders`) also keeps its heartbeat; a sending
    process of a send in processes (see `processes`) gets the send's `providers`, its
    `shared` pacing and its share of the relays (`relays_here`) instead.
    """
    config = app.config
    pool = relay_pool(config, relays_here)
    sent_journal = SentJournal(journal_path(config["DATABASE"], campaign_id, sender_id))
    state = SendState(
        campaign_id,
        sender_id,
        render.prepare(compose.get(db, campaign_id)),
        OutcomeRecorder(config["DATABASE"], sender_id, recorder_capacity(config), sent_journal),
        pacing.Pacer(
            pacing.queued_providers(db, campaign_id) if providers is None else providers,
            pacing.provider_limits(config),
            pacing.throttled_providers(db, utcnow()),
            shared,
        ),
        pool,
    )
    state.recorder.start()
    sessions = min(max(1, int(config["CAMPAIGN_SMTP_CONNECTIONS"])), pool.capacity())
    threads = [
        threading.Thread(target=sender_thread, args=(app, state), daemon=True)
        for _ in range(sessions)
    ]
    beat = threading.Thread(
        target=heartbeat_thread,
        args=(
            app,
            campaign_id,
            sender_id,
            state.stop,
            senders.HEARTBEAT_TIMEOUT.total_seconds() / 3,
        ),
        daemon=True,
    )
    for thread in [*threads, *([beat] if holder else [])]:
        thread.start()
    report = ProgressReport(progress, db, campaign_id)
    while any(thread.is_alive() for thread in threads):
        # `stop` is polled, not waited for by a thread of its own: that thread would
        # wait for ever after each send nobody stopped, one more at every worker pass.
        if stop is not None and stop.is_set():
            state.stop.set()
        next(thread for thread in threads if thread.is_alive()).join(timeout=0.2)
        report.tick(force=not any(thread.is_alive() for thread in threads))
    state.stop.set()
    if holder:
        beat.join()
    state.recorder.close()  # every outcome committed before the campaign can finish
    sent_journal.close(remove=True)  # all it lists is in the ledger now


def relay_pool(
    config: Mapping[str, Any], relays_here: list[relays.Relay] | None = None
) -> RelayPool:
    """The relays of one send (MAIL_RELAYS, or the MAIL_* relay alone), or those given."""
    return RelayPool(
        relays.configured_relays(config) if relays_here is None else relays_here,
        float(config["RELAY_SET_ASIDE_SECONDS"]),
        int(config["RELAY_FAILURES_TO_SET_ASIDE"]),
    )
