"""Relays for sending tests: aiosmtpd servers that only count messages per recipient.

The shared mail sink parses and files every message, too slow for thousands; these
count, offer PIPELINING like Postfix, can throttle one domain (421 / 4.7.x), and can
be stopped mid-send like a relay that dies.
"""

import collections
import socket
import threading

from aiosmtpd.controller import Controller


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingSink:
    """An SMTP server handler with PIPELINING that counts accepted messages per recipient.

    `throttle[domain] = (reply, times, stage)` refuses that domain's next `times`
    messages with `reply` ("421 4.7.0 ..."), at RCPT or at the end of DATA (`stage`).
    """

    def __init__(self):
        self.received = collections.Counter()
        self.throttle = {}
        self.refused = collections.Counter()
        self.sessions = 0
        # Messages between MAIL FROM and the end of DATA, now and at most at once.
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        responses.insert(-1, "250-PIPELINING")
        return responses

    def refusal(self, address, stage):
        """The throttle reply for `address` at `stage`, counting it down; or None."""
        domain = address.rpartition("@")[2]
        with self.lock:
            reply, times, at = self.throttle.get(domain, (None, 0, None))
            if at != stage or self.refused[domain] >= times:
                return None
            self.refused[domain] += 1
            return reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        self.transaction(session, begins=True)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):  # noqa: N802
        self.transaction(session, begins=False)
        return "250 OK"

    def transaction(self, session, begins):
        """Count the session's message as in flight from MAIL to DATA's end or RSET."""
        with self.lock:
            if begins:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            elif getattr(session, "in_transaction", False):
                self.in_flight -= 1
            session.in_transaction = begins

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        refusal = self.refusal(address, "rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.transaction(session, begins=False)
        refusal = self.refusal(envelope.rcpt_tos[0], "data")
        if refusal:
            return refusal
        with self.lock:
            self.received.update(envelope.rcpt_tos)
        return "250 OK"

    def total(self):
        with self.lock:
            return sum(self.received.values())


def start_counting_relay():
    """(controller, handler) of a counting relay on a free loopback port."""
    handler = CountingSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    return controller, handler
