"""One claimed batch (one provider's recipients) sent over one relay session.

Each outcome goes to the send's recorder as the relay answers. A provider's
"slow down" (421, 4.7.x) halts the batch: that row and those not begun go back to
the queue with the provider's retry time (see `pacing`), and the session carries on
with other providers. A relay that fails (refused, dropped, timed out) costs its
rows nothing: they go back to the queue at once, for another relay (see
`mail.relay_pool`). Other temporary failures retry with exponential backoff;
permanent ones fail the row.
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import Database, utcnow
from ..mail import bulk_smtp, messages
from ..mail.relay_pool import RelayPool, RelaySession
from . import ledger, pacing, render
from .recorder import OutcomeRecorder

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
    pacer: pacing.Pacer
    pool: RelayPool
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_in_a_row: int = 0
    last_failure: str = ""
    sent: int = 0


class BatchStop:
    """Polled by `send_many`: the send stops, or this batch's provider throttled us (on
    this session, or on another session or process of the send)."""

    def __init__(self, stop: threading.Event, pacer: pacing.Pacer, provider: str) -> None:
        self.stop = stop
        self.pacer = pacer
        self.provider = provider
        self.halted = False

    def is_set(self) -> bool:
        """True once no further message of the batch should begin."""
        return self.halted or self.stop.is_set() or self.pacer.is_throttled(self.provider)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min... capped at one hour."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)


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
    state: SendState, provider: str, rows: list[dict], config: Mapping[str, Any]
) -> tuple[list[tuple[dict, bytes]], list[ledger.DeliveryOutcome]]:
    """Each row's message bytes; rows whose message cannot be built get an outcome."""
    built, outcomes = [], []
    for row in rows:
        state.pacer.wait_for_send_rate(config["CAMPAIGN_MESSAGES_PER_SECOND"])
        state.pacer.wait_for_rate(provider)
        try:
            built.append((row, state.prepared.message_for(row, utcnow())))
        except UnicodeEncodeError:
            failure = bulk_smtp.PermanentFailure("address needs SMTPUTF8, which we do not use")
            outcomes.append(outcome_for(row, failure, utcnow(), 0))
        except Exception as error:  # noqa: BLE001 (one bad row must not stop the send)
            failure = bulk_smtp.PermanentFailure(f"cannot build the message: {error!r}")
            outcomes.append(outcome_for(row, failure, utcnow(), 0))
    return built, outcomes


def throttle_provider(
    state: SendState,
    db: Database,
    provider: str,
    error: messages.MailDeliveryError,
    config: Mapping[str, Any],
) -> datetime:
    """Record that `provider` throttled us; returns when its rows may go again."""
    until = pacing.record_throttle(
        db,
        provider,
        str(error),
        utcnow(),
        float(config["PROVIDER_BACKOFF_SECONDS"]),
        float(config["PROVIDER_BACKOFF_MAX_SECONDS"]),
    )
    state.pacer.throttle(provider, until)
    return until


def send_batch(
    state: SendState,
    provider: str,
    rows: list[dict],
    session: RelaySession,
    config: Mapping[str, Any],
    db: Database,
) -> tuple[RelaySession | None, str | None, list[ledger.DeliveryOutcome]]:
    """Send one claimed batch over one session; returns (session, pause_reason, outcomes).

    The batch goes out pipelined (see `bulk_smtp.send_many`). Once `state.stop` is
    set, or the provider throttles us, no further message begins, and the rows not
    begun go back to the queue (on `db`). The session returned is None when it broke
    (it is closed here).
    """
    built, batch_outcomes = build_messages(state, provider, rows, config)
    recorder, relay, halt = (
        state.recorder,
        session.relay,
        BatchStop(state.stop, state.pacer, provider),
    )
    for outcome in batch_outcomes:
        recorder.add(outcome)
    pause_reason = throttled_until = relay_failure = None
    accepted_any = False

    def record(index: int, error: messages.MailDeliveryError | None) -> None:
        nonlocal pause_reason, throttled_until, relay_failure, accepted_any
        row_id = built[index][0]["delivery_id"]
        if error is None:
            outcome = ledger.DeliveryOutcome(row_id, "sent", None, "250")
            accepted_any = True
        elif isinstance(error, bulk_smtp.ProviderThrottled):
            throttled_until = throttle_provider(state, db, provider, error, config)
            halt.halted = True
            outcome = ledger.DeliveryOutcome(row_id, "queued", throttled_until, str(error)[:500])
        elif isinstance(error, bulk_smtp.RelayUnavailable):
            relay_failure = str(error)
            outcome = ledger.DeliveryOutcome(row_id, "queued", None, str(error)[:500])
        else:
            outcome = outcome_for(built[index][0], error, utcnow(), config["CAMPAIGN_MAX_ATTEMPTS"])
            if isinstance(error, bulk_smtp.TemporaryFailure):
                state.pool.failed(relay, str(error))
        recorder.add(outcome)
        batch_outcomes.append(outcome)
        if relay_failure is None and not halt.halted:
            if note_result(state, error, config["CAMPAIGN_PAUSE_AFTER_FAILURES"]):
                pause_reason = f"{PAUSED_BY_FAILURES}; last answer: {state.last_failure}"

    begun, usable = 0, True
    if built:
        results, usable = bulk_smtp.send_many(
            session,
            state.prepared.envelope_sender,
            [(row["email"], message) for row, message in built],
            senders=[state.prepared.envelope_sender_for(row) for row, _ in built],
            on_result=record,
            stop=halt,
        )
        begun = len(results)
    if accepted_any:
        state.pool.succeeded(relay)
        if state.pacer.first_success(provider):
            pacing.clear_throttle(db, provider, utcnow())
    if relay_failure is not None:
        state.pool.failed(relay, relay_failure)
    if not usable:
        state.pool.close(session)
        session = None
    unsent = [row["delivery_id"] for row, _ in built[begun:]]
    if unsent or relay_failure is not None:
        recorder.flush()  # what was sent is recorded first, then the rest is given back
    if unsent:
        ledger.unclaim(db, unsent, state.sender_id, not_before=throttled_until)
    if relay_failure is not None or (unsent and throttled_until is None):
        state.pacer.refill(provider)  # due now: for another session or relay
    return session, pause_reason, batch_outcomes
