"""The campaign worker: which campaigns to send, one pass of sending each, auto-resume.

`send_campaign` takes a campaign over (see `senders`), then sends from this process
(see `sending`) or, with CAMPAIGN_SENDER_PROCESSES above 1, from several (see
`processes`), and marks the campaign sent once nothing is left.
"""

import smtplib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import current_app

from ..db import Database, utcnow
from ..mail import outbox, relays
from ..mail.bulk_smtp import close_quietly
from ..mail.relay_pool import open_session
from . import freeze, ledger, processes, senders, worker_heartbeats
from .batch import PAUSED_BY_FAILURES, note_result, outcome_for
from .sending import relay_pool, send_from_this_process

__all__ = [
    "PAUSED_BY_FAILURES",
    "note_result",
    "outcome_for",
    "relay_pool",
    "send_campaign",
    "run_once",
]


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
    if processes.sender_processes(app.config) > 1:
        processes.send_from_processes(app, db, campaign_id, sender_id, progress=progress, stop=stop)
    else:
        send_from_this_process(app, db, campaign_id, sender_id, progress=progress, stop=stop)
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
                freeze.start(db, row["id"], now)
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
