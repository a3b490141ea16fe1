"""Pacing a send per mailbox provider: how many sessions and messages a second each gets,
and backing off a provider that says "slow down" while the others carry on.

Senders claim rows one provider at a time (`ledger.claim(provider=...)`). A provider
answering 421 or 4.7.x (see `bulk_smtp.ProviderThrottled`) is left alone until a
retry time that doubles at each throttle in a row (PROVIDER_BACKOFF_SECONDS, up to
PROVIDER_BACKOFF_MAX_SECONDS); its rows go back to the queue with that time. The
count of throttles in a row lives in `provider_throttles`, so the backoff keeps
growing across the worker's passes and campaigns, and is reset by the first message
the provider accepts afterwards.
"""

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..db import Database, isoformat, parse_timestamp, write_transaction
from .shared_pacing import WHOLE_SEND, SharedPacing

DEFAULT_KEY = "*"
ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


@dataclass(frozen=True)
class ProviderLimit:
    """At most `connections` sessions at once (0: no limit) and `per_second` messages."""

    connections: int = 0
    per_second: float = 0.0


def provider_limits(config: Mapping[str, Any]) -> dict[str, ProviderLimit]:
    """PROVIDER_LIMITS as ProviderLimits; the "*" entry applies to every other provider."""
    limits = {
        provider: ProviderLimit(int(entry.get("connections", 0)), float(entry.get("per_second", 0)))
        for provider, entry in config["PROVIDER_LIMITS"].items()
    }
    limits.setdefault(DEFAULT_KEY, ProviderLimit())
    return limits


def check_provider_limits(limits: object) -> None:
    """Raise ValueError naming the bad PROVIDER_LIMITS entry."""
    if not isinstance(limits, Mapping):
        raise ValueError(f"PROVIDER_LIMITS must be a dict, not {type(limits).__name__}.")
    for provider, entry in limits.items():
        if not isinstance(entry, Mapping) or set(entry) - {"connections", "per_second"}:
            raise ValueError(
                f"PROVIDER_LIMITS[{provider!r}] must be a dict with 'connections' and/or "
                f"'per_second', not {entry!r}."
            )
        for key in ("connections", "per_second"):
            value = entry.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"PROVIDER_LIMITS[{provider!r}][{key!r}] must be a number >= 0 (0: no "
                    f"limit), not {value!r}."
                )


def backoff(strikes: int, base: float, cap: float) -> timedelta:
    """base, 2 x base, 4 x base... for the 1st, 2nd, 3rd throttle in a row, capped."""
    return timedelta(seconds=min(base * 2 ** max(strikes - 1, 0), cap))


def throttled_providers(db: Database, now: datetime) -> dict[str, datetime]:
    """Providers we leave alone now, with the time their backoff ends."""
    return {
        row["provider"]: parse_timestamp(row["throttled_until"])
        for row in db.query(
            "SELECT provider, throttled_until FROM provider_throttles WHERE throttled_until > ?",
            [isoformat(now)],
        )
    }


def record_throttle(
    db: Database, provider: str, reply: str, now: datetime, base: float, cap: float
) -> datetime:
    """Note that `provider` throttled us; returns until when to leave it alone.

    Throttles answered while a backoff already runs (other sessions' messages in
    flight) do not lengthen it.
    """
    with write_transaction(db):
        row = db.execute(
            "SELECT strikes, throttled_until FROM provider_throttles WHERE provider = ?",
            [provider],
        ).fetchone()
        strikes, until = (row[0], parse_timestamp(row[1])) if row else (0, None)
        if until is not None and until > now:
            return until
        # Rounded up to the second the database keeps: truncated, a backoff could end
        # up to a second early, and a "slow down" answered just after by a message
        # already in flight would count as a new throttle and double the next one.
        until = ceil_to_second(now + backoff(strikes + 1, base, cap))
        db.execute(
            "INSERT INTO provider_throttles (provider, strikes, throttled_until, last_reply, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider) DO UPDATE SET "
            "strikes = excluded.strikes, throttled_until = excluded.throttled_until, "
            "last_reply = excluded.last_reply, updated_at = excluded.updated_at",
            [provider, strikes + 1, isoformat(until), without_addresses(reply), isoformat(now)],
        )
    return until


def ceil_to_second(moment: datetime) -> datetime:
    """`moment`, or the next whole second when it has a fraction."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def without_addresses(reply: str) -> str:
    """The reply kept for staff, without the address it may quote (not a person's row)."""
    return ADDRESS.sub("<address>", reply)[:500]


def clear_throttle(db: Database, provider: str, now: datetime) -> None:
    """`provider` accepted mail again: its next throttle starts from the base delay."""
    db.execute(
        "UPDATE provider_throttles SET strikes = 0, updated_at = ? "
        "WHERE provider = ? AND strikes > 0",
        [isoformat(now), provider],
    )


def queued_providers(db: Database, campaign_id: int) -> list[str]:
    """The providers with rows queued in the campaign (due now or later)."""
    return [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT provider FROM deliveries WHERE campaign_id = ? AND status = 'queued'",
            [campaign_id],
        )
    ]


class Pacer:
    """Which provider a session serves next, within each provider's limits.

    A provider leaves the rotation when a claim finds nothing due for it
    (`exhausted`) or when it throttles us (`throttle`); `refill` brings it back
    when rows go back to its queue. Thread-safe.
    """

    def __init__(
        self,
        providers: list[str],
        limits: Mapping[str, ProviderLimit],
        throttled: Mapping[str, datetime],
        shared: SharedPacing | None = None,
    ) -> None:
        self.limits = limits
        # Set when the send has several processes: the limits hold for their sum.
        self.shared = shared
        self.waiting = [provider for provider in providers if provider not in throttled]
        self.throttled_until = dict(throttled)
        self.busy = dict.fromkeys(providers, 0)
        self.next_slot: dict[str, float] = {}
        self.succeeded: set[str] = set()
        self.turn = 0
        self.changed = threading.Condition()

    def limit(self, provider: str) -> ProviderLimit:
        """The provider's own limit, or the "*" one."""
        return self.limits.get(provider) or self.limits[DEFAULT_KEY]

    def acquire(self, stop: threading.Event) -> str | None:
        """A provider with rows and room for one more session; None when none is left.

        Waits while every provider left is at its session limit.
        """
        with self.changed:
            while self.waiting and not stop.is_set():
                for provider in [p for p in self.waiting if self.shared_throttle(p)]:
                    self.leave(provider)  # another process of the send was told to slow down
                for step in range(len(self.waiting)):
                    provider = self.waiting[(self.turn + step) % len(self.waiting)]
                    if self.take_session(provider):
                        self.turn = (self.turn + step + 1) % len(self.waiting)
                        self.busy[provider] = self.busy.get(provider, 0) + 1
                        return provider
                # Another process's session ending notifies nobody here: look again soon.
                self.changed.wait(timeout=0.5 if self.shared is None else 0.02)
            return None

    def shared_throttle(self, provider: str) -> bool:
        """True when another process of the send was throttled by `provider`."""
        return self.shared is not None and self.shared.is_throttled(provider)

    def take_session(self, provider: str) -> bool:
        """Room for one more session of `provider` (counting every process's when shared)?
        Takes it in the shared count; call holding `changed`."""
        allowed = self.limit(provider).connections
        if self.shared is not None and self.shared.knows(provider):
            return self.shared.take_session(provider, allowed)
        return not allowed or self.busy.get(provider, 0) < allowed

    def release(self, provider: str) -> None:
        """A session is done with `provider` (for now)."""
        with self.changed:
            self.busy[provider] -= 1
            if self.shared is not None and self.shared.knows(provider):
                self.shared.give_back_session(provider)
            self.changed.notify_all()

    def leave(self, provider: str) -> None:
        """Take `provider` out of the rotation (call holding `changed`)."""
        if provider in self.waiting:
            self.waiting.remove(provider)
        self.changed.notify_all()

    def exhausted(self, provider: str) -> None:
        """A claim found nothing due for `provider`."""
        with self.changed:
            self.leave(provider)

    def throttle(self, provider: str, until: datetime) -> None:
        """`provider` throttled us: no more sessions for it in this pass."""
        with self.changed:
            self.throttled_until[provider] = until
            if self.shared is not None and self.shared.knows(provider):
                self.shared.throttle(provider)
            self.leave(provider)

    def is_throttled(self, provider: str) -> bool:
        """True once `provider` throttled us (or another process of the send) during this
        pass. Polled before each message: no lock (a dict lookup and a byte read)."""
        return provider in self.throttled_until or self.shared_throttle(provider)

    def refill(self, provider: str) -> None:
        """Rows of `provider` went back to the queue, due now."""
        with self.changed:
            if provider not in self.waiting and not self.is_throttled(provider):
                self.waiting.append(provider)
                self.changed.notify_all()

    def first_success(self, provider: str) -> bool:
        """True the first time in this pass that `provider` accepted a message, unless it
        throttled us in this pass (messages in flight at the throttle prove nothing)."""
        with self.changed:
            if provider in self.succeeded or self.is_throttled(provider):
                return False
            self.succeeded.add(provider)
            return True

    def wait_for_rate(self, provider: str) -> None:
        """Hold the caller so `provider` gets at most its `per_second` messages."""
        self.wait_for_slot(provider, self.limit(provider).per_second)

    def wait_for_send_rate(self, rate: float) -> None:
        """Hold the caller so the whole send goes at most `rate` messages a second."""
        self.wait_for_slot(WHOLE_SEND, rate)

    def wait_for_slot(self, key: str, rate: float) -> None:
        """Hold the caller until its slot of `key`, `rate` slots a second (0: none),
        every process of the send counted when they share their pacing."""
        if not rate:
            return
        if self.shared is not None and self.shared.knows(key):
            slot = self.shared.reserve_slot(key, rate)
        else:
            with self.changed:
                slot = max(self.next_slot.get(key, 0.0), time.monotonic())
                self.next_slot[key] = slot + 1.0 / rate
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
