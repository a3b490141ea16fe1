"""Spreading a send's SMTP sessions over the relays, and setting failing ones aside.

Each session takes the relay with the fewest sessions for its weight, among those
with room (`max_connections`) that are not set aside. A relay is set aside after
RELAY_FAILURES_TO_SET_ASIDE failures in a row (refused or timed-out connections,
dropped sessions, temporary refusals that are not a provider's throttling), for
RELAY_SET_ASIDE_SECONDS, doubled each time it fails again on return (up to 16x).
The caller requeues the rows of a failed session at once, so they go out through
the other relays; only when every relay is set aside does the campaign pause.
"""

import smtplib
import threading
import time
from collections.abc import Callable

from .messages import tls_context
from .relays import Relay

MAX_SET_ASIDE_DOUBLINGS = 4


class NoRelayAvailable(RuntimeError):
    """Every relay is set aside; the message says why each failed."""


class RelaySession:
    """An open SMTP session with one relay (what `bulk_smtp.send_many` takes)."""

    def __init__(self, relay: Relay, host: smtplib.SMTP) -> None:
        self.relay = relay
        self.host = host


def open_session(relay: Relay, timeout: float) -> RelaySession:
    """Connect, say EHLO, start TLS and log in as `relay` says; raises on failure."""
    # Only when needed: loading the CA store costs milliseconds, at every reconnection.
    context = tls_context(relay.tls_verify, relay.tls_ca_file) if relay.tls != "none" else None
    if relay.tls == "ssl":
        host = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
    else:
        host = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
    try:
        if relay.tls == "starttls":
            host.starttls(context=context)
        if relay.username and relay.password:
            host.login(relay.username, relay.password)
    except BaseException:
        host.close()
        raise
    return RelaySession(relay, host)


class RelayPool:
    """The relays of one send, their open sessions and their failures (thread-safe)."""

    def __init__(
        self,
        relays: list[Relay],
        set_aside_seconds: float,
        failures_to_set_aside: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.relays = relays
        self.set_aside_seconds = set_aside_seconds
        self.failures_to_set_aside = max(1, failures_to_set_aside)
        self.clock = clock
        self.sessions = {relay.name: 0 for relay in relays}
        self.failures = {relay.name: 0 for relay in relays}
        self.set_asides = {relay.name: 0 for relay in relays}
        self.aside_until = {relay.name: 0.0 for relay in relays}
        self.last_error = {relay.name: "" for relay in relays}
        self.changed = threading.Condition()

    def capacity(self) -> int:
        """How many sessions the relays take together."""
        return sum(relay.max_connections for relay in self.relays)

    def is_aside(self, relay: Relay) -> bool:
        """True while `relay` is set aside (call holding `changed`)."""
        return self.aside_until[relay.name] > self.clock()

    def all_aside(self) -> bool:
        """True when no relay may be used now."""
        with self.changed:
            return all(self.is_aside(relay) for relay in self.relays)

    def reserve(self) -> Relay | None:
        """A relay with room for one more session, by weight; None when none has room."""
        with self.changed:
            usable = [
                relay
                for relay in self.relays
                if not self.is_aside(relay) and self.sessions[relay.name] < relay.max_connections
            ]
            if not usable:
                return None
            relay = min(usable, key=lambda r: (self.sessions[r.name] + 1) / r.weight)
            self.sessions[relay.name] += 1
            return relay

    def release(self, relay: Relay) -> None:
        """A session with `relay` ended."""
        with self.changed:
            self.sessions[relay.name] -= 1
            self.changed.notify_all()

    def failed(self, relay: Relay, reason: str) -> None:
        """One more failure in a row for `relay`; set it aside when they are too many."""
        with self.changed:
            self.last_error[relay.name] = reason
            self.failures[relay.name] += 1
            if self.failures[relay.name] < self.failures_to_set_aside:
                return
            doublings = min(self.set_asides[relay.name], MAX_SET_ASIDE_DOUBLINGS)
            self.aside_until[relay.name] = self.clock() + self.set_aside_seconds * 2**doublings
            self.set_asides[relay.name] += 1
            self.failures[relay.name] = 0
            self.changed.notify_all()

    def succeeded(self, relay: Relay) -> None:
        """`relay` accepted a message: its failures in a row start again from zero."""
        if self.failures[relay.name] or self.set_asides[relay.name]:
            with self.changed:
                self.failures[relay.name] = 0
                self.set_asides[relay.name] = 0

    def failure_report(self) -> str:
        """Each relay's last error, for the campaign's pause reason."""
        with self.changed:
            return "; ".join(
                f"{relay.name}: {self.last_error[relay.name] or 'set aside'}"
                for relay in self.relays
            )

    def connect(self, timeout: float, stop: threading.Event) -> RelaySession | None:
        """A session with the best relay that answers.

        Waits while every usable relay is full (another session's relay was set
        aside); None once `stop` is set. Raises NoRelayAvailable when every relay
        is set aside.
        """
        while not stop.is_set():
            relay = self.reserve()
            if relay is None:
                if self.all_aside():
                    raise NoRelayAvailable(self.failure_report())
                with self.changed:
                    self.changed.wait(timeout=0.2)
                continue
            try:
                return open_session(relay, timeout)
            except (smtplib.SMTPException, OSError) as error:
                self.release(relay)
                self.failed(relay, f"cannot reach the mail relay: {error}")
        return None

    def close(self, session: RelaySession | None) -> None:
        """End `session` (QUIT, or just close a broken one) and free its place."""
        if session is None:
            return
        try:
            session.host.quit()
        except (smtplib.SMTPException, OSError):
            session.host.close()
        self.release(session.relay)
