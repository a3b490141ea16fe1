"""A local SMTP sink for development and tests: every message lands as an .eml file.

`make run` starts it beside the site so that every mail the app sends can be read on
disk under `instance/mail/`; the test fixtures start one on a free port.
"""

import argparse
import email
import email.policy
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MailSinkHandler:
    """aiosmtpd handler that writes each message to a file and keeps it in memory."""

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory else None
        self.messages = []
        self.raw = []
        # (MAIL FROM, [RCPT TO...]) of each message, in arrival order.
        self.envelopes = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._counter = 0
        # Tests make the sink refuse some recipients: address -> "550 ..." or "451 ...".
        self.refusals = {}
        self.pipelining = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        """Offer PIPELINING like Postfix does (aiosmtpd reads commands in order anyway)."""
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        """Accept the recipient unless a test asked to refuse it."""
        refusal = self.refusals.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        """Store the message; aiosmtpd calls this once per accepted message."""
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._arrived:
            self._counter += 1
            if self.directory is not None:
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self._counter:05d}.eml"
                (self.directory / name).write_bytes(raw)
            self.messages.append(message)
            self.raw.append(raw)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count, timeout=10):
        """Block until at least `count` messages arrived; return them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    def clear(self):
        """Forget the messages received so far (files stay) and any refusals."""
        with self._lock:
            self.messages.clear()
            self.raw.clear()
            self.envelopes.clear()
            self.refusals.clear()
            self.pipelining = True


def start_sink(host="127.0.0.1", port=8025, directory=None):
    """Start the sink in a background thread; return (controller, handler)."""
    if directory is not None:
        Path(directory).mkdir(parents=True, exist_ok=True)
    handler = MailSinkHandler(directory)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller, handler


def main():
    """Run the sink in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", default="instance/mail")
    args = parser.parse_args()
    controller, _ = start_sink(args.host, args.port, args.directory)
    print(f"Mail sink listening on {args.host}:{args.port}; mail lands in {args.directory}/")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
